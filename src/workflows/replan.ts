import { condition } from '@temporalio/workflow';
import { MAX_PLAN_ATTEMPTS } from '../api/constants';
import type { Plan } from '../api/plan';
import { replanErrors, replannedMilestones } from '../api/steering';
import type { MissionContext } from './agents';
import type { MissionProxies } from './proxies';
import { retryAfterQuotaPark } from './quota';

type PlanFollowUp = NonNullable<Parameters<MissionProxies['model']['planTurn']>[0]['followUp']>;

/** Plan turns of missions that did not count theirs start here (the planner's session keys its turns by number). */
const UNCOUNTED_TURNS = 1000;

/**
 * A re-plan (the replan decision), run between milestones: the first `kept` milestones (done) stay; the planner
 * re-plans the rest with the person's feedback; the new plan waits for approval (approve, reject, revise, the same
 * gate as the first plan's, even when that one needed no approval). Approved: the mission goes on with the new remaining milestones.
 * Rejected: the mission stops before the milestones not started (they are reported as not run, the work done
 * stays) and the approved plan is shown again. A planner that cannot produce a valid re-plan leaves the approved
 * plan as it was. Returns whether the mission goes on.
 */
export async function replan(ctx: MissionContext, kept: number): Promise<'go-on' | 'stop'> {
  const { state } = ctx;
  const asked = state.status.replan!;
  delete state.status.replan;
  const approved: Plan = state.status.plan!;
  const before = state.status.milestones;
  const keep = approved.milestones.slice(0, kept).map((m) => m.id);
  let followUp: PlanFollowUp = { kind: 'replan', feedback: asked.feedback, keep };
  for (;;) {
    state.setPhase('planning', `re-planning the milestones after ${keep.length ? keep[keep.length - 1] : 'the start'}`);
    const plan = await draft(ctx, kept, approved, followUp);
    if (!plan) {
      state.record('replan', 'no valid re-plan: the mission goes on with the approved plan');
      state.setPhase('running', 'going on with the approved plan');
      return 'go-on';
    }
    state.status.plan = plan;
    state.status.planRevision += 1;
    state.status.milestones = replannedMilestones(before, kept, plan);
    state.record('plan', `plan revision ${state.status.planRevision} (re-plan): ${plan.milestones.length - kept} milestone(s) after the ${kept} kept`);
    // Always at the gate, also when the first plan needed no approval: a person asked for this plan and decides on it.
    state.decision = undefined;
    state.setPhase('awaiting-approval', 'waiting for approvePlan, rejectPlan or revisePlan of the re-plan');
    await condition(() => state.decision !== undefined);
    const decision = state.decision!;
    state.decision = undefined;
    if (decision.kind === 'approve') {
      state.setPhase('running', decision.approvedBy ? `re-plan approved by ${decision.approvedBy}` : 're-plan approved');
      return 'go-on';
    }
    if (decision.kind === 'revise') {
      followUp = { kind: 'revise', feedback: decision.feedback };
      continue;
    }
    // Rejected: the approved plan stands, and nothing after the kept milestones runs.
    state.status.plan = approved;
    state.status.milestones = before.map((m, i) => (i < kept ? m : { ...m, notRun: `the mission stopped here: its re-plan was rejected${decision.reason ? ` (${decision.reason})` : ''}` }));
    state.record('replan', `re-plan rejected${decision.reason ? `: ${decision.reason}` : ''}; the mission stops before ${approved.milestones[kept]?.id ?? 'the end'}`);
    return 'stop';
  }
}

/** Up to MAX_PLAN_ATTEMPTS planner turns for a plan that keeps the kept milestones; null when none did. */
async function draft(ctx: MissionContext, kept: number, approved: Plan, first: PlanFollowUp): Promise<Plan | null> {
  const { state, input } = ctx;
  let followUp = first;
  for (let attempt = 1; attempt <= MAX_PLAN_ATTEMPTS; attempt++) {
    const turn = (state.status.planTurns ?? UNCOUNTED_TURNS) + 1;
    state.status.planTurns = turn;
    const request = {
      missionKey: ctx.missionKey,
      turn,
      prompt: input.prompt,
      limits: { maxMilestones: input.maxMilestones, maxFeaturesPerMilestone: input.maxFeaturesPerMilestone },
      model: input.models.planner,
      followUp,
      ...(input.models.prices ? { prices: input.models.prices } : {}),
    };
    const reply = await retryAfterQuotaPark(state, ctx.missionId, 'the planner', () => ctx.acts.model.planTurn.executeWithOptions({ summary: `llm: re-plan turn ${turn}` }, [request]));
    state.addTokens(reply.tokens, 'plan');
    const errors = reply.plan ? replanErrors(approved, kept, reply.plan) : reply.errors;
    if (reply.plan && !errors.length) return reply.plan;
    state.record('plan-invalid', `re-plan draft ${attempt} refused: ${errors.join('; ')}`);
    followUp = { kind: 'invalid', errors };
  }
  return null;
}
