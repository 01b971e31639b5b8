import { proxyActivities } from '@temporalio/workflow';

/** Temporal's own floor: a workflow that runs `n` no-op activities one after another (bench/1-overhead). */
const { noop } = proxyActivities<{ noop(i: number): Promise<number> }>({ startToCloseTimeout: '1 minute' });

export async function floor(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await noop(i);
  return n;
}
