import testTeardown from '../test/support/global-teardown';
import { writeMarkdown } from './figures';

/** Stops the dev server, then writes bench/results.md from bench/results.json (with this run's wall time). */
export default async function benchTeardown(): Promise<void> {
  await testTeardown();
  const started = Number(process.env.MISSION_BENCH_STARTED);
  const file = writeMarkdown(Number.isFinite(started) ? Date.now() - started : undefined);
  console.log(`\n[bench] results: ${file}`);
}
