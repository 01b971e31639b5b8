import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Harness } from './harness';

const run = promisify(execFile);

function temporalCli(): string {
  const binary = process.env.MISSION_TEST_TEMPORAL_BINARY;
  if (!binary) throw new Error('this test needs the temporal CLI: set TEMPORAL_CLI_PATH or put temporal on PATH');
  return binary;
}

/**
 * `temporal workflow update execute` or `temporal workflow signal` with plain JSON input, as a person would type
 * it: exit code and what it printed (a refused update exits non-zero).
 */
export async function temporalWorkflow(h: Harness, verb: 'update' | 'signal', id: string, name: string, input: unknown): Promise<{ code: number; out: string }> {
  const command = verb === 'update' ? ['workflow', 'update', 'execute'] : ['workflow', 'signal'];
  const args = [...command, '--address', h.address, '--namespace', 'default', '--workflow-id', id, '--name', name, '--input', JSON.stringify(input)];
  try {
    const { stdout, stderr } = await run(temporalCli(), args);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}
