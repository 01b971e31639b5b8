import { Client, Connection, WorkflowIdConflictPolicy, WorkflowUpdateFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { MISSION_WORKFLOW, TASK_QUEUE } from './api/constants';
import { MissionInputError, parseMissionInput, type MissionRequest } from './api/input';
import {
  answerQuestionsUpdate,
  approvePlanUpdate,
  rejectPlanUpdate,
  replanUpdate,
  retryFeatureUpdate,
  revisePlanUpdate,
  skipFeatureUpdate,
  statusQuery,
  steerUpdate,
  type ApprovePlan,
  type DecisionAck,
  type RejectPlan,
} from './api/messages';
import type { AnswerQuestions } from './api/questions';
import type { MissionReport } from './api/report';
import type { MissionStatus } from './api/status';
import type { mission } from './workflows/mission';

export type { MissionRequest } from './api/input';
export type { MissionReport } from './api/report';
export type { MissionStatus } from './api/status';
export type { AnswerQuestions, PlanQuestion } from './api/questions';

export { MissionInputError } from './api/input';
export { createMissionSchedule, listMissionSchedules, type MissionScheduleOptions } from './schedules';

/** Connects with the standard Temporal environment/profile settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...). */
export async function connectClient(): Promise<Client> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await Connection.connect(connectionOptions);
  return new Client({ connection, namespace: namespace ?? 'default' });
}

export interface StartOptions {
  /** A business id: starting again with the same id returns the running mission instead of a duplicate. */
  missionId?: string;
  taskQueue?: string;
}

/** Validates the input here too (fail before anything starts), then starts the `mission` workflow. */
export async function startMission(client: Client, request: MissionRequest, opts: StartOptions = {}): Promise<WorkflowHandleWithFirstExecutionRunId<typeof mission>> {
  const parsed = parseMissionInput(request);
  if (!parsed.ok) throw new MissionInputError(parsed.errors);
  return client.workflow.start<typeof mission>(MISSION_WORKFLOW, {
    taskQueue: opts.taskQueue ?? process.env.MISSION_TASK_QUEUE ?? TASK_QUEUE,
    workflowId: opts.missionId ?? newMissionId(parsed.value.prompt),
    args: [request],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    staticSummary: `mission: ${parsed.value.prompt.split('\n')[0]!.slice(0, 120)}`,
    staticDetails: `Repository ${parsed.value.repo ?? '(worker MISSION_REPO)'}, base ${parsed.value.baseBranch}`,
  });
}

/** The mission refused a decision (an update's validator said no): the message says why, e.g. the phase it is in. */
export class DecisionRefusedError extends Error {
  override name = 'DecisionRefusedError';
}

/** Sends a decision as an update: resolves once the mission took it, throws DecisionRefusedError with its reason if not. */
export async function sendDecision<P>(handle: WorkflowHandle, update: UpdateDefinition<DecisionAck, [P]>, payload: P): Promise<DecisionAck> {
  try {
    return await handle.executeUpdate(update, { args: [payload] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new DecisionRefusedError(err.cause?.message ?? err.message);
    throw err;
  }
}

/** `revision`: the planRevision you read; an approval of an older plan (revised since) is refused. */
export function approvePlan(client: Client, missionId: string, payload: ApprovePlan = {}): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), approvePlanUpdate, payload);
}

export function rejectPlan(client: Client, missionId: string, payload: RejectPlan = {}): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), rejectPlanUpdate, payload);
}

export function revisePlan(client: Client, missionId: string, feedback: string): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), revisePlanUpdate, { feedback });
}

/**
 * Answers the planner's questions (status.questions while the phase is `awaiting-answers`): `{ answers: { q1: "..." } }`,
 * `{ useDefaults: true }`, or both (unanswered questions take their default). `round`: the round you read.
 */
export function answerQuestions(client: Client, missionId: string, payload: AnswerQuestions): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), answerQuestionsUpdate, payload);
}

/** A note every running agent reads at its next turn and every later agent in its first request. */
export function steer(client: Client, missionId: string, note: string, by?: string): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), steerUpdate, { note, ...(by ? { by } : {}) });
}

/** Re-plans the milestones not started yet (once the running one has finished); the new plan waits for approval. */
export function replan(client: Client, missionId: string, feedback: string): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), replanUpdate, { feedback });
}

/** A pending feature is not run; a running one has its agent stopped (its work kept on its branch). */
export function skipFeature(client: Client, missionId: string, featureId: string, reason?: string): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), skipFeatureUpdate, { featureId, ...(reason ? { reason } : {}) });
}

/** Runs a feature that ended incomplete, blocked, failed or skipped again, once the running milestone has finished. */
export function retryFeature(client: Client, missionId: string, featureId: string, reason?: string): Promise<DecisionAck> {
  return sendDecision(client.workflow.getHandle(missionId), retryFeatureUpdate, { featureId, ...(reason ? { reason } : {}) });
}

export function getStatus(client: Client, missionId: string): Promise<MissionStatus> {
  return client.workflow.getHandle(missionId).query(statusQuery);
}

/** Waits for the mission to end and returns its report (the workflow result). */
export function waitForReport(client: Client, missionId: string): Promise<MissionReport> {
  return client.workflow.getHandle<typeof mission>(missionId).result();
}

/** `mission-<slug of the prompt>-<random>`: readable in the Web UI, unique per start. */
export function newMissionId(prompt: string): string {
  const slug = prompt
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return `mission-${slug || 'run'}-${Math.random().toString(36).slice(2, 8)}`;
}
