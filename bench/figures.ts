import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * bench/results.json holds the latest value of every figure (each benchmark replaces its own key, so
 * running one benchmark alone keeps the others), and bench/results.md is the table made from it.
 */
export const RESULTS_JSON = path.join(__dirname, 'results.json');
export const RESULTS_MD = path.join(__dirname, 'results.md');

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  git: string;
  temporal: string;
}

/** One line of the table: a measured value against its target. `pass` is null for figures without a target. */
export interface Row {
  name: string;
  value: string;
  target?: string;
  pass?: boolean | null;
}

export interface Figure {
  /** 1–6, as numbered in the issue. */
  n: number;
  title: string;
  /** How it was measured, in one or two sentences (also printed). */
  how: string;
  rows: Row[];
  /** Raw numbers, for anyone who wants more than the table. */
  data: unknown;
  /** What a missed target comes from and what would fix it (filled in by the benchmark when it can tell). */
  notes?: string[];
  measuredAt: string;
  durationMs: number;
  machine: Machine;
  /** The machine's 1-minute load average when the figure was recorded: other work on it makes timings noisy. */
  loadAverage: number;
}

export interface Results {
  schemaVersion: 1;
  run?: { startedAt: string; wallMs: number; figures: number[]; machine: Machine };
  figures: Record<string, Figure>;
}

export function readResults(): Results {
  if (!existsSync(RESULTS_JSON)) return { schemaVersion: 1, figures: {} };
  try {
    const parsed = JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) as Results;
    return parsed.schemaVersion === 1 && parsed.figures ? parsed : { schemaVersion: 1, figures: {} };
  } catch {
    return { schemaVersion: 1, figures: {} };
  }
}

function writeResults(results: Results): void {
  writeFileSync(RESULTS_JSON, `${JSON.stringify(results, null, 2)}\n`);
}

let machineInfo: Machine | undefined;
export function machine(): Machine {
  if (machineInfo) return machineInfo;
  const cpus = os.cpus();
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
    } catch {
      return 'unknown';
    }
  };
  const temporalBinary = process.env.MISSION_TEST_TEMPORAL_BINARY;
  machineInfo = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    git: version('git', ['--version']).replace(/^git version /, ''),
    temporal: temporalBinary ? version(temporalBinary, ['--version']).replace(/^temporal version /, '') : 'SDK download',
  };
  return machineInfo;
}

/** Stores one figure (replacing its previous value) and prints it with how it was measured. */
export function recordFigure(key: string, figure: Omit<Figure, 'measuredAt' | 'machine' | 'loadAverage'>): Figure {
  const full: Figure = { ...figure, measuredAt: new Date().toISOString(), machine: machine(), loadAverage: Math.round(os.loadavg()[0]! * 100) / 100 };
  const results = readResults();
  results.figures[key] = full;
  writeResults(results);
  const lines = [
    `\n[bench] ${figure.n}. ${figure.title} (${(figure.durationMs / 1000).toFixed(1)} s, load average ${full.loadAverage} on ${full.machine.cores} cores)`,
    `  how: ${figure.how}`,
    ...figure.rows.map((r) => `  ${verdict(r.pass).padEnd(4)} ${r.name}: ${r.value}${r.target ? `   (target ${r.target})` : ''}`),
    ...(figure.notes ?? []).map((n) => `  note: ${n}`),
  ];
  console.log(lines.join('\n'));
  return full;
}

const verdict = (pass: boolean | null | undefined) => (pass === true ? 'pass' : pass === false ? 'MISS' : '');

/** Writes bench/results.md; `wallMs` is the wall time of the `npm run bench` that just ended. */
export function writeMarkdown(wallMs?: number): string {
  const results = readResults();
  const figures = Object.values(results.figures).sort((a, b) => a.n - b.n);
  if (wallMs !== undefined) {
    const startedAt = new Date(Date.now() - wallMs).toISOString();
    results.run = { startedAt, wallMs, figures: figures.filter((f) => f.measuredAt >= startedAt).map((f) => f.n), machine: machine() };
    writeResults(results);
  }
  const m = results.run?.machine ?? figures[0]?.machine;
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const out = [
    '# Mission benchmarks',
    '',
    'Written by `npm run bench` (see [README.md](README.md) for what each figure means); raw numbers in [results.json](results.json).',
    '',
  ];
  if (m) {
    out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, git ${m.git}, Temporal CLI ${m.temporal} (dev server).`);
  }
  if (results.run) {
    const all = results.run.figures.length === figures.length;
    out.push(
      `Last run: ${results.run.startedAt.slice(0, 16).replace('T', ' ')} UTC, wall time ${(results.run.wallMs / 60000).toFixed(1)} min ` +
        `(${all ? 'all figures' : `figures ${results.run.figures.join(', ') || 'none'}; the others are from earlier runs`}, including the dev server start and the build).`,
    );
  }
  const busiest = Math.max(...figures.map((f) => f.loadAverage ?? 0));
  if (m && busiest > m.cores) {
    out.push(
      '',
      `The machine was shared while some figures ran (load average up to ${busiest} on ${m.cores} cores, beside each figure): ` +
        'their timings are stretched by the other work, CPU times much less.',
    );
  }
  out.push('', '| # | figure | measured | value | target | result |', '|---|---|---|---|---|---|');
  for (const f of figures) {
    f.rows.forEach((r, i) => {
      out.push(`| ${i === 0 ? f.n : ''} | ${i === 0 ? `${esc(f.title)} (load ${f.loadAverage ?? '?'})` : ''} | ${esc(r.name)} | ${esc(r.value)} | ${esc(r.target ?? '')} | ${r.pass === true ? 'pass' : r.pass === false ? '**miss**' : ''} |`);
    });
  }
  out.push('', '## How each figure was measured', '');
  for (const f of figures) {
    out.push(`${f.n}. **${f.title}** (${f.measuredAt.slice(0, 16).replace('T', ' ')} UTC, ${(f.durationMs / 1000).toFixed(0)} s, load average ${f.loadAverage ?? '?'}): ${f.how}`);
    for (const note of f.notes ?? []) out.push(`   - ${note}`);
  }
  writeFileSync(RESULTS_MD, `${out.join('\n')}\n`);
  return RESULTS_MD;
}
