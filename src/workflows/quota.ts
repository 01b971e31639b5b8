import { condition, patched } from '@temporalio/workflow';
import { failureType, rootFailure } from '../api/errors';
import type { MissionState } from './state';

/** Missions recorded before this patch failed (planner) or failed the agent when a 429 storm outlasted the retries. */
export const QUOTA_PARK_PATCH = 'park-on-rate-limit';

/** A provider's rate-limit or quota refusal that outlasted every retry: the mission parks instead of failing. */
export function parksForQuota(err: unknown): boolean {
  return failureType(err) === 'MODEL_RATE_LIMITED' && patched(QUOTA_PARK_PATCH);
}

/**
 * Waits in phase `paused-quota` until a `resume` signal (any: the storm is the provider's, not a limit of ours).
 * Agents that hit the storm at the same time wait together; one resume releases them all. The wait does not
 * count as work time.
 */
export async function parkForQuota(state: MissionState, missionId: string, what: string, err: unknown): Promise<void> {
  const gate = state.quotaGate;
  const seen = gate.released;
  const reason = `${what}: ${rootFailure(err).message}`.slice(0, 500);
  if (gate.waiters++ === 0) {
    gate.before = state.phase;
    state.pauseClock();
    state.status.parked = reason;
    state.setPhase('paused-quota', `parked: the model provider kept refusing for rate limit or quota after every retry (${reason}). When the quota is back: mission resume ${missionId}`);
  }
  try {
    await condition(() => gate.released !== seen);
  } finally {
    if (--gate.waiters === 0) {
      delete state.status.parked;
      if (state.budgetGate.waiters === 0) state.resumeClock(); // else the budget wait still holds the clock
      if (state.phase === 'paused-quota') state.setPhase(gate.before, 'resumed after the rate-limit pause: trying again');
    }
  }
}

/** Runs `step`; a 429 storm that outlasts its retries parks the mission, and the step runs again after `resume`. */
export async function retryAfterQuotaPark<T>(state: MissionState, missionId: string, what: string, step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!parksForQuota(err)) throw err;
      await parkForQuota(state, missionId, what, err);
    }
  }
}
