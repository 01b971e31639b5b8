import { main } from '../../src/cli';
import type { Harness } from './harness';

/** Runs the `mission` CLI in-process against the harness's server and task queue; returns its exit code and output. */
export async function runCli(h: Harness, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((text: string) => void out.push(text));
  const error = jest.spyOn(console, 'error').mockImplementation((text: string) => void err.push(text));
  const saved = { ...process.env };
  Object.assign(process.env, { TEMPORAL_ADDRESS: h.address, MISSION_TASK_QUEUE: h.taskQueue, MISSION_HOME: h.home }, env);
  try {
    return { code: await main(args), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
    for (const key of ['TEMPORAL_ADDRESS', 'MISSION_TASK_QUEUE', 'MISSION_HOME']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}
