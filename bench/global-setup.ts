import type { TestWorkflowEnvironment } from '@temporalio/testing';
import testSetup from '../test/support/global-setup';
import { temporalBinary } from '../src/embedded';
import { startPlainDevServer } from './support';

/**
 * The test suite's setup (one dev server, dist/ built, workflows bundled once), plus a second dev server
 * with Temporal's default settings — without the dynamic config Mission gives its local servers — started
 * alongside, so that figure 1 can show both in one run. MISSION_BENCH_PLAIN=off skips the second server.
 */
export default async function benchSetup(): Promise<void> {
  process.env.MISSION_BENCH_STARTED = String(Date.now());
  // The binary the test setup will use (it sets MISSION_TEST_TEMPORAL_BINARY only once it is done).
  const plain = process.env.MISSION_BENCH_PLAIN === 'off' ? undefined : startPlainDevServer(temporalBinary());
  await testSetup();
  const env = await plain;
  if (env) {
    (globalThis as { __missionBenchPlainEnv?: TestWorkflowEnvironment }).__missionBenchPlainEnv = env;
    process.env.MISSION_BENCH_PLAIN_ADDRESS = env.address;
    console.log(`[bench] second dev server with Temporal's default settings at ${env.address}`);
  }
}
