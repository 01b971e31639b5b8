import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporalAnswers } from '../src/embedded';
import { tempDir } from './support/repo';
import { startTestServer } from './support/test-server';

/** A `temporal` that takes `delaySec` to start (a loaded machine), and fails its first `failures` starts. */
function slowTemporal(delaySec: number, failures = 0): string {
  const real = process.env.MISSION_TEST_TEMPORAL_BINARY;
  if (!real) throw new Error('this test wraps a local temporal binary: set TEMPORAL_CLI_PATH or put temporal on PATH (bash .ci/run does)');
  const dir = tempDir('slow-temporal-');
  const script = path.join(dir, 'temporal');
  const count = path.join(dir, 'starts');
  writeFileSync(
    script,
    `#!/usr/bin/env bash
n=$(( $(cat ${count} 2>/dev/null || echo 0) + 1 )); echo $n > ${count}
if [ "$n" -le ${failures} ]; then echo "simulated crash on start $n" >&2; exit 3; fi
sleep ${delaySec}
exec "${real}" "$@"
`,
  );
  chmodSync(script, 0o755);
  return script;
}

test('a dev server that needs more than 5 s to start (a loaded CI machine) is waited for, and the start time is reported', async () => {
  const lines: string[] = [];
  const server = await startTestServer(slowTemporal(7), (line) => lines.push(line));
  try {
    expect(await temporalAnswers(server.address)).toBe(true);
    expect(lines.join('\n')).toMatch(/Temporal dev server at 127\.0\.0\.1:\d+ .*ready in \d+ ms/);
  } finally {
    await server.stop();
  }
  expect(await temporalAnswers(server.address)).toBe(false);
}, 90_000);

test('a dev server that fails its first start is started once more', async () => {
  const lines: string[] = [];
  const server = await startTestServer(slowTemporal(0, 1), (line) => lines.push(line));
  try {
    expect(await temporalAnswers(server.address)).toBe(true);
    expect(lines.join('\n')).toMatch(/first start failed .*simulated crash on start 1.*; trying once more/s);
  } finally {
    await server.stop();
  }
}, 90_000);
