import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

type Noop = { noop(i: number): Promise<number> };

/** Temporal's own floor: a workflow that runs `n` no-op activities one after another (bench/1-overhead). */
const { noop } = proxyActivities<Noop>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<Noop>({ startToCloseTimeout: '1 minute' });

export async function floor(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await noop(i);
  return n;
}

/** The same with local activities: what one local activity costs the TypeScript SDK, with no server in between. */
export async function localFloor(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await local.noop(i);
  return n;
}
