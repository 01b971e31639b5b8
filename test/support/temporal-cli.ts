import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Harness } from './harness';

const run = promisify(execFile);

/**
 * `temporal workflow <verb...> --workflow-id ID --name NAME --input JSON` against the harness's server (an update, a
 * signal): its exit code and what it printed (a refused update exits non-zero).
 */
export async function temporalWorkflow(h: Pick<Harness, 'address'>, verb: string[], id: string, name: string, input: unknown): Promise<{ code: number; out: string }> {
  const binary = process.env.MISSION_TEST_TEMPORAL_BINARY;
  if (!binary) throw new Error('this test needs the temporal CLI: set TEMPORAL_CLI_PATH or put temporal on PATH');
  const args = ['workflow', ...verb, '--address', h.address, '--namespace', 'default', '--workflow-id', id, '--name', name, '--input', JSON.stringify(input)];
  try {
    const { stdout, stderr } = await run(binary, args);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}
