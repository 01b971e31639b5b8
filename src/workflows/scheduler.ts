// The POSIX build: no Node built-ins, so it can run in the workflow sandbox.
import picomatch from 'picomatch/posix';

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
  /** How declared files are compared; missions recorded before `filesOverlap` replay with `prefixOverlap`. */
  overlap?: (a: readonly string[], b: readonly string[]) => boolean;
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
    if (busy.some((other) => (state.overlap ?? filesOverlap)(feature.files, other.files))) continue;
    picked.push(feature.id);
    busy.push(feature);
  }
  return picked;
}

/**
 * Two declared file lists may touch the same file. Conservative by design: a wrong "no" lets two agents
 * edit one file at once, a wrong "yes" only runs them one after another. A feature that declares no files
 * may touch anything. A path and a glob overlap when the glob matches the path (or, for a path that looks
 * like a folder, something inside it); two globs overlap unless their fixed prefixes are disjoint.
 */
export function filesOverlap(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  return a.some((x) => b.some((y) => entriesOverlap(normalize(x), normalize(y))));
}

function entriesOverlap(x: string, y: string): boolean {
  if (x === '' || y === '') return true; // the repository root
  const xGlob = picomatch.scan(x).isGlob;
  const yGlob = picomatch.scan(y).isGlob;
  if (!xGlob && !yGlob) return nested(x, y);
  if (xGlob && yGlob) return nested(fixedPrefix(x), fixedPrefix(y));
  const [path, glob] = xGlob ? [y, x] : [x, y];
  if (picomatch.isMatch(path, glob, { dot: true })) return true;
  const looksLikeFolder = !/\.[^/]*$/.test(path);
  return looksLikeFolder && nested(path, fixedPrefix(glob));
}

/** Equal, or one inside the other ('' is the root, inside which everything is). */
function nested(x: string, y: string): boolean {
  return x === y || x === '' || y === '' || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

/** The folder part of a glob before its first wildcard: `src/lib/*.ts` gives `src/lib`. */
function fixedPrefix(glob: string): string {
  return picomatch.scan(glob).base;
}

function normalize(file: string): string {
  return file
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
}

/**
 * The comparison missions used before `filesOverlap`: globs cut at their first wildcard, and no files
 * declared meaning no overlap. Kept only so that those missions' histories replay as they ran.
 */
export function prefixOverlap(a: readonly string[], b: readonly string[]): boolean {
  const cut = (file: string) => normalize(file.split(/[*?{[]/)[0] ?? '');
  return a.map(cut).some((x) => b.map(cut).some((y) => nested(x, y)));
}
