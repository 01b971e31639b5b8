import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, setHandler, type SignalDefinition } from '@temporalio/workflow';
import type { z } from 'zod';
import { raiseBudget } from '../api/budget';
import { describeIssues } from '../api/issues';
import { AnswerQuestions, answersRefusal } from '../api/questions';
import {
  answerQuestionsSignal,
  answerQuestionsUpdate,
  ApprovePlan,
  approvePlanSignal,
  approvePlanUpdate,
  Pause,
  pauseSignal,
  pauseUpdate,
  RejectPlan,
  rejectPlanSignal,
  rejectPlanUpdate,
  Resume,
  resumeSignal,
  resumeUpdate,
  RevisePlan,
  revisePlanSignal,
  revisePlanUpdate,
  type DecisionAck,
} from '../api/messages';
import { FINAL_PHASES, type MissionStatus } from '../api/status';
import type { MissionState, PlanDecision } from './state';

/** The failure type a caller of a refused decision update sees (the message says why and what to do). */
export const DECISION_REFUSED = 'DECISION_REFUSED';

/** Why a plan decision does not fit now, or undefined when it does. Pure: the update validators call it too. */
export function planDecisionRefusal(status: MissionStatus, pending: PlanDecision | undefined, decision: PlanDecision & { revision?: number }): string | undefined {
  // While the planner's questions wait there is nothing to approve or revise yet, but the person may stop the mission.
  const rejectingQuestions = decision.kind === 'reject' && status.phase === 'awaiting-answers';
  if (status.phase !== 'awaiting-approval' && !rejectingQuestions) return `the mission is ${status.phase}, not awaiting approval`;
  if (pending) return `a ${pending.kind} decision is already being applied`;
  if (decision.revision !== undefined && decision.revision !== status.planRevision) {
    return `it approves plan revision ${decision.revision}, but the plan awaiting approval is revision ${status.planRevision}; read it ("mission status ${status.missionId}") and approve that one`;
  }
  return undefined;
}

/** Why pause or resume does not fit now, or undefined. Mirrors what `applyResume` does. */
export function toggleRefusal(status: MissionStatus, paused: boolean, resume?: { budget?: unknown; quotaWaiters: number }): string | undefined {
  if (FINAL_PHASES.includes(status.phase)) return `the mission is already ${status.phase}`;
  if (resume && (resume.quotaWaiters > 0 || resume.budget)) return undefined;
  if (resume && status.phase === 'paused-budget' && !status.paused) {
    return `${status.budget.exceeded ?? 'over budget'}; send resume with a raised budget: { "budget": { "maxTokens": N } }`;
  }
  if (status.paused === paused) return `the mission is already ${paused ? 'paused' : 'running'}`;
  return undefined;
}

type Parsed<S extends z.ZodType> = { ok: true; value: z.infer<S> } | { ok: false; why: string };

function parse<S extends z.ZodType>(schema: S, raw: unknown): Parsed<S> {
  const parsed = schema.safeParse(raw ?? {});
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, why: `invalid payload: ${describeIssues(parsed.error, schema).join('; ')}` };
}

/**
 * One decision, reachable both ways: as a signal (a refusal is recorded in the events and otherwise ignored) and
 * as an update (the validator refuses it at once with the reason; nothing reaches history).
 */
export interface DecisionHandler<S extends z.ZodType> {
  name: string;
  schema: S;
  description: string;
  refusal(value: z.infer<S>): string | undefined;
  apply(value: z.infer<S>): void;
}

export function register<S extends z.ZodType, A extends unknown[]>(state: MissionState, signal: SignalDefinition<A>, update: UpdateDefinition<DecisionAck, A>, d: DecisionHandler<S>): void {
  const why = (raw: unknown): { value?: z.infer<S>; refused?: string } => {
    const parsed = parse(d.schema, raw);
    if (!parsed.ok) return { refused: parsed.why };
    const refused = d.refusal(parsed.value);
    return refused ? { refused } : { value: parsed.value };
  };
  setHandler(
    signal as unknown as SignalDefinition<[unknown]>,
    (raw: unknown) => {
      const { value, refused } = why(raw);
      if (refused !== undefined) return state.ignore(d.name, refused);
      d.apply(value as z.infer<S>);
    },
    { description: d.description },
  );
  setHandler(
    update as unknown as UpdateDefinition<DecisionAck, [unknown]>,
    (raw: unknown): DecisionAck => {
      d.apply(why(raw).value as z.infer<S>);
      return { decision: d.name, phase: state.phase, planRevision: state.status.planRevision, paused: state.status.paused };
    },
    {
      validator: (raw: unknown) => {
        const { refused } = why(raw);
        if (refused !== undefined) throw ApplicationFailure.create({ type: DECISION_REFUSED, nonRetryable: true, message: `${d.name} refused: ${refused}` });
      },
      description: `${d.description} Answers at once: refused with the reason when it does not fit the phase.`,
    },
  );
}

/** approvePlan, rejectPlan, revisePlan, answerQuestions, pause and resume: each a signal and an update of the same name. */
export function registerDecisions(state: MissionState): void {
  const plan = <S extends z.ZodType>(name: string, schema: S, description: string, toDecision: (v: z.infer<S>) => PlanDecision & { revision?: number }): DecisionHandler<S> => ({
    name,
    schema,
    description,
    refusal: (v) => planDecisionRefusal(state.status, state.decision, toDecision(v)),
    apply: (v) => {
      const { revision: _revision, ...decision } = toDecision(v);
      state.decision = decision;
      state.record('signal', `${name} received`);
    },
  });
  register(state, approvePlanSignal, approvePlanUpdate, plan('approvePlan', ApprovePlan, 'Approve the plan: { comment?, approvedBy?, revision? } (revision: the planRevision approved; an older one is refused).', (v) => ({ kind: 'approve', ...v })));
  register(state, rejectPlanSignal, rejectPlanUpdate, plan('rejectPlan', RejectPlan, 'Reject the plan and end the mission: { reason? }.', (v) => ({ kind: 'reject', ...v })));
  register(state, revisePlanSignal, revisePlanUpdate, plan('revisePlan', RevisePlan, 'Plan again with feedback: { feedback }.', (v) => ({ kind: 'revise', ...v })));

  register(state, answerQuestionsSignal, answerQuestionsUpdate, {
    name: 'answerQuestions',
    schema: AnswerQuestions,
    description: 'Answer the planner\'s questions: { answers?: { "q1": "..." }, useDefaults?, round?, answeredBy? } (unanswered questions take their default).',
    refusal: (v) => answersRefusal(state.status.questions, state.phase, v) ?? (state.answers ? 'answers are already being applied' : undefined),
    apply: (v) => {
      state.answers = v;
      state.record('signal', 'answerQuestions received');
    },
  });

  const unpause = (paused: boolean) => {
    state.status.paused = paused;
    state.record(paused ? 'pause' : 'resume', paused ? 'paused: no new work starts; running work finishes' : 'resumed');
  };
  register(state, pauseSignal, pauseUpdate, {
    name: 'pause',
    schema: Pause,
    description: 'Stop starting new work: { reason? }.',
    refusal: () => toggleRefusal(state.status, true),
    apply: () => unpause(true),
  });
  register(state, resumeSignal, resumeUpdate, {
    name: 'resume',
    schema: Resume,
    description: 'Continue after pause, raise the budget of a mission in paused-budget, or retry after paused-quota: { comment?, budget?: { maxTokens?, maxMinutes?, maxCostUsd? } }.',
    refusal: (v) => toggleRefusal(state.status, false, { budget: v.budget, quotaWaiters: state.quotaGate.waiters }),
    apply: (v) => {
      if (state.quotaGate.waiters > 0) {
        // Parked by a rate-limit storm: any resume tries the refused calls again (a budget raise and an unpause also apply).
        state.quotaGate.released += 1;
        state.record('resume', 'resumed: the model calls refused for rate limit or quota are tried again');
      }
      if (v.budget && !FINAL_PHASES.includes(state.phase)) {
        state.status.budget = raiseBudget(state.status.budget, v.budget);
        const still = state.overBudget();
        state.record('budget', `budget raised to ${JSON.stringify(v.budget)}${still ? `; still over it (${still})` : ''}`);
      }
      if (state.status.paused) unpause(false);
    },
  });
}
