import type { TestWorkflowEnvironment } from '@temporalio/testing';
import testTeardown from '../test/support/global-teardown';
import { writeMarkdown } from './figures';

/** Stops both dev servers, then writes bench/results.md from bench/results.json (with this run's wall time). */
export default async function benchTeardown(): Promise<void> {
  await (globalThis as { __missionBenchPlainEnv?: TestWorkflowEnvironment }).__missionBenchPlainEnv?.teardown();
  await testTeardown();
  const started = Number(process.env.MISSION_BENCH_STARTED);
  const file = writeMarkdown(Number.isFinite(started) ? Date.now() - started : undefined);
  console.log(`\n[bench] results: ${file}`);
}
