import { condition } from '@temporalio/workflow';
import type { MissionContext } from './agents';

/**
 * Called before any new work starts (a milestone, a feature, an integration or repair agent). Over a
 * mission-wide budget, the mission waits in phase `paused-budget` until a `resume` signal raises it; work
 * already running finishes, nothing done is lost, and the wait does not count as work time.
 */
export async function budgetGate(ctx: MissionContext): Promise<void> {
  const { state, missionId } = ctx;
  const reason = state.overBudget();
  if (!reason) return;
  const gate = state.budgetGate;
  if (gate.waiters++ === 0) {
    gate.before = state.phase;
    state.pauseClock();
    state.setPhase('paused-budget', `${reason}; raise it to continue: mission resume ${missionId} --budget.max-tokens N (or --budget.max-minutes N, --budget.max-cost-usd N)`);
  }
  try {
    await condition(() => state.overBudget() === undefined);
  } finally {
    if (--gate.waiters === 0) {
      if (state.quotaGate.waiters === 0) state.resumeClock(); // else a rate-limit park still holds the clock
      if (state.phase === 'paused-budget') state.setPhase(gate.before, 'budget raised: work continues');
    }
  }
}
