import { cli, onHarness } from './cli-process';
import type { Harness } from './harness';

/**
 * Runs the real `mission` CLI as a subprocess against the harness's server and task queue;
 * returns its exit code, stdout and stderr (each one string).
 */
export async function runCli(h: Harness, args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; out: string[]; err: string[] }> {
  const { code, stdout, stderr } = await cli(args, onHarness(h, env));
  return { code, out: [stdout], err: [stderr] };
}
