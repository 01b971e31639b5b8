/** Pure scheduling decisions for a milestone's features (unit tested; the workflow only wires them). */

export interface Schedulable {
  id: string;
  files: string[];
  dependsOn: string[];
}

export interface SchedulerState {
  started: ReadonlySet<string>;
  finished: ReadonlySet<string>;
  maxConcurrency: number;
}

/**
 * Features to start now, in plan order: not started, every same-milestone dependency finished,
 * no declared file overlapping a running (or just picked) feature, and within the concurrency limit.
 */
export function nextToStart(features: readonly Schedulable[], state: SchedulerState): string[] {
  const local = new Set(features.map((f) => f.id));
  const running = features.filter((f) => state.started.has(f.id) && !state.finished.has(f.id));
  const busy = [...running];
  const picked: string[] = [];
  for (const feature of features) {
    if (busy.length >= state.maxConcurrency) break;
    if (state.started.has(feature.id)) continue;
    if (feature.dependsOn.some((dep) => local.has(dep) && !state.finished.has(dep))) continue;
    if (busy.some((other) => filesOverlap(feature.files, other.files))) continue;
    picked.push(feature.id);
    busy.push(feature);
  }
  return picked;
}

/** Two file lists overlap when a path is equal to, or inside a directory of, the other (globs count from their fixed prefix). */
export function filesOverlap(a: readonly string[], b: readonly string[]): boolean {
  const left = a.map(normalize);
  const right = b.map(normalize);
  return left.some((x) => right.some((y) => x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`) || x === '' || y === ''));
}

function normalize(file: string): string {
  const fixed = file.split(/[*?{[]/)[0] ?? '';
  return fixed
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
}
