import { onHarness, spawnCli, type CliProcess } from './cli-process';
import type { Harness } from './harness';

/** `mission worker` as a real process (from dist/), serving `taskQueue` against the harness's server and model. */
export function startWorkerProcess(h: Harness, taskQueue: string, env: Record<string, string> = {}): CliProcess & { ready: Promise<unknown>; output(): string } {
  const p = spawnCli(['worker'], onHarness(h, { MISSION_TASK_QUEUE: taskQueue, ...env }));
  return { ...p, output: () => p.stdout() + p.stderr(), ready: p.waitFor(/mission worker: task queue/, 30_000) };
}
