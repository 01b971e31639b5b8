import testSetup from '../test/support/global-setup';

/** The test suite's setup (one dev server, dist/ built, workflows bundled once), and the run's start time for results.md. */
export default async function benchSetup(): Promise<void> {
  process.env.MISSION_BENCH_STARTED = String(Date.now());
  await testSetup();
}
