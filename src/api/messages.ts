import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { AnswerQuestions } from './questions';
import type { MissionReport } from './report';
import type { AgentProgress, MissionStatus } from './status';

/** Signal payloads. Every field optional except revise feedback, so `--input '{}'` or no input works. */
export const ApprovePlan = z.strictObject({
  comment: z.string().optional(),
  approvedBy: z.string().optional(),
  /** The plan revision (status.planRevision) this approval is for: an approval of an older plan is refused. */
  revision: z.number().int('must be a whole number').positive('must be greater than 0').optional(),
});
export type ApprovePlan = z.infer<typeof ApprovePlan>;

export const RejectPlan = z.strictObject({ reason: z.string().optional() });
export type RejectPlan = z.infer<typeof RejectPlan>;

export const RevisePlan = z.strictObject({
  feedback: z.string({ error: 'is required: say what to change in the plan' }).trim().min(1, 'must not be empty: say what to change in the plan'),
});
export type RevisePlan = z.infer<typeof RevisePlan>;

export const Pause = z.strictObject({ reason: z.string().optional() });
export type Pause = z.infer<typeof Pause>;

export const BudgetRaise = z.strictObject({
  maxTokens: z.number().int('must be a whole number').positive('must be greater than 0').optional(),
  maxMinutes: z.number().positive('must be greater than 0').optional(),
  maxCostUsd: z.number().positive('must be greater than 0').optional(),
});
/**
 * `budget` raises the mission-wide limits; a mission in `paused-budget` continues once it is under them again.
 * A mission in `paused-quota` (the provider kept refusing with HTTP 429) tries the refused call again on any resume.
 */
export const Resume = z.strictObject({ comment: z.string().optional(), budget: BudgetRaise.optional() });
export type Resume = z.infer<typeof Resume>;

/**
 * Move a mission whose repository is a URL to another host (its old host is gone): `to` names the host, else any live
 * worker takes it. The new host clones the URL and starts from the mission branch as pushed at the last milestone.
 */
export const MoveHost = z.strictObject({
  to: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be a host id: 1-63 letters, digits, ".", "_" or "-"').optional(),
  reason: z.string().optional(),
});
export type MoveHost = z.infer<typeof MoveHost>;

/** A person's steering note: every running agent reads it at its next turn, every later agent in its first request. */
export const Steer = z.strictObject({
  note: z.string({ error: 'is required: the note for the agents' }).trim().min(1, 'must not be empty: write the note for the agents'),
  by: z.string().optional(),
});
export type Steer = z.infer<typeof Steer>;

/** Re-plan the milestones not started yet (done and running ones stay); the new plan waits for approval again. */
export const Replan = z.strictObject({
  feedback: z.string({ error: 'is required: say what to change in the rest of the plan' }).trim().min(1, 'must not be empty: say what to change in the rest of the plan'),
});
export type Replan = z.infer<typeof Replan>;

/** Skip or retry one feature, named by its plan id. */
export const FeatureDecision = z.strictObject({
  featureId: z.string({ error: 'is required: the id of a feature of the plan' }).min(1, 'must not be empty: the id of a feature of the plan'),
  reason: z.string().optional(),
});
export type FeatureDecision = z.infer<typeof FeatureDecision>;

export const approvePlanSignal = defineSignal<[ApprovePlan?]>('approvePlan');
export const rejectPlanSignal = defineSignal<[RejectPlan?]>('rejectPlan');
export const revisePlanSignal = defineSignal<[RevisePlan]>('revisePlan');
export const pauseSignal = defineSignal<[Pause?]>('pause');
export const resumeSignal = defineSignal<[Resume?]>('resume');
export const steerSignal = defineSignal<[Steer]>('steer');
export const replanSignal = defineSignal<[Replan]>('replan');
export const skipFeatureSignal = defineSignal<[FeatureDecision]>('skipFeature');
export const retryFeatureSignal = defineSignal<[FeatureDecision]>('retryFeature');
export const moveHostSignal = defineSignal<[MoveHost?]>('moveHost');
/** Answers to the planner's clarifying questions (phase `awaiting-answers`): { answers?: { id: text }, useDefaults?, round?, answeredBy? }. */
export const answerQuestionsSignal = defineSignal<[AnswerQuestions?]>('answerQuestions');
/**
 * The same decisions as Updates under the same names: the caller learns at once whether the mission took the
 * decision, or why not (the validator refuses it, with the reason, and nothing is recorded in history).
 * The signals stay for the Web UI's signal form and `temporal workflow signal`.
 */
export interface DecisionAck {
  decision: string;
  phase: MissionStatus['phase'];
  planRevision: number;
  paused: boolean;
}
export const approvePlanUpdate = defineUpdate<DecisionAck, [ApprovePlan]>('approvePlan');
export const rejectPlanUpdate = defineUpdate<DecisionAck, [RejectPlan]>('rejectPlan');
export const revisePlanUpdate = defineUpdate<DecisionAck, [RevisePlan]>('revisePlan');
export const pauseUpdate = defineUpdate<DecisionAck, [Pause]>('pause');
export const resumeUpdate = defineUpdate<DecisionAck, [Resume]>('resume');
export const answerQuestionsUpdate = defineUpdate<DecisionAck, [AnswerQuestions]>('answerQuestions');
export const steerUpdate = defineUpdate<DecisionAck, [Steer]>('steer');
export const replanUpdate = defineUpdate<DecisionAck, [Replan]>('replan');
export const skipFeatureUpdate = defineUpdate<DecisionAck, [FeatureDecision]>('skipFeature');
export const retryFeatureUpdate = defineUpdate<DecisionAck, [FeatureDecision]>('retryFeature');
/** A steering note as the mission hands it to its agents: `index` is its place in status.steering (agents keep each once). */
export interface AgentNote {
  index: number;
  at: string;
  note: string;
  by?: string;
}
/** From the mission to a running agent's workflow: notes it has not been sent yet. */
export const steerAgentSignal = defineSignal<[{ notes: AgentNote[] }]>('steerAgent');
/** From the mission to a running agent's workflow: stop after the current step and commit what is there (skipFeature). */
export const stopAgentSignal = defineSignal<[{ reason: string }]>('stopAgent');
/** From an agent's workflow to its mission: it has taken no new turn for the stall time (stalled) or has again (cleared). */
export interface AgentLiveness {
  taskId: string;
  stalled: boolean;
  waitingOn?: string;
  since?: string;
}
export const agentLivenessSignal = defineSignal<[AgentLiveness]>('agentLiveness');
export const statusQuery = defineQuery<MissionStatus>('status');
/** The report once written (a failed or cancelled mission has no workflow result to carry it); null before. */
export const reportQuery = defineQuery<MissionReport | null>('report');
/** Asked of an agent's workflow (`feature`): its turn, tokens and last tool while it works. */
export const agentProgressQuery = defineQuery<AgentProgress>('progress');
