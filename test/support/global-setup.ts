import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { temporalBinary } from '../../src/embedded';
import { writeWorkflowBundle } from '../../src/prebuilt-bundle';
import { startTestServer, type TestServer } from './test-server';

/**
 * Starts ONE Temporal dev server and bundles the workflows ONCE for the whole jest run.
 * Test files read the address and the bundle path from the environment (see ./temporal.ts).
 * MISSION_TEST_SERVER=off skips both, for quick unit-only runs; CI never skips.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.MISSION_TEST_SERVER === 'off') {
    if (process.env.CI === 'true') throw new Error('MISSION_TEST_SERVER=off is not allowed in CI');
    return;
  }
  const started = Date.now();
  // Tests that run the worker or CLI as a separate process use dist/: build it from the current source.
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: path.join(__dirname, '..', '..'), stdio: 'inherit' });
  const binary = temporalBinary();
  const server = await startTestServer(binary);
  (globalThis as { __missionTemporalServer?: TestServer }).__missionTemporalServer = server;

  // The bundle `npm run build` makes, written after tsc rewrote dist/: the in-process workers load it, and
  // the CLI processes the tests spawn find it fresh instead of each bundling again.
  const bundlePath = await writeWorkflowBundle();

  process.env.MISSION_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.MISSION_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.MISSION_TEST_TEMPORAL_BINARY = binary ?? '';
  console.log(`[mission tests] set up (server, dist/ and the workflow bundle) in ${Date.now() - started} ms`);
}
