import { isCancellation, startChild } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { agentTaskId, spentOf, type AgentSpent, type AgentTask, type FeatureInput, type FeatureResult } from '../api/agent';
import { failureType, MISSION_FATAL, rootFailure } from '../api/errors';
import type { MissionInput } from '../api/input';
import { subtractTokens } from '../api/status';
import { feature as agentWorkflow } from './feature';
import { parksForQuota, parkForQuota } from './quota';
import type { MissionHost, MissionProxies } from './proxies';
import { workflowNow, type MissionState } from './state';

type Prepared = Awaited<ReturnType<Activities['prepareMission']>>;

/** What every step of a mission needs to know. */
export interface MissionContext {
  missionId: string;
  missionKey: string;
  input: MissionInput;
  state: MissionState;
  prep: Prepared;
  /** Where the mission's steps run: on its host's queue (missionProxies), or on the shared one for older histories. */
  acts: MissionProxies;
  /** The host that holds the mission's files (absent in histories recorded before HOST_AFFINITY_PATCH). */
  host?: MissionHost;
}

export interface AgentPlace {
  workdir: string;
  branch: string;
  startCommit: string;
  commitMessage?: string;
}

export type AgentRun = { ok: true; result: FeatureResult } | { ok: false; error: string; spent?: AgentSpent };

/**
 * Runs one agent as a `feature` child workflow with id `<missionId>/<milestoneId>/<taskId>`.
 * Its tokens count towards the mission, failed or not (a failed agent carries them in its failure). A fatal failure (bad key, unknown model) fails the mission;
 * a rate-limit storm that outlasted the retries parks the mission and the agent goes on after `resume`;
 * any other failure is returned so the mission can record it and go on.
 */
export async function runAgent(ctx: MissionContext, task: AgentTask, place: AgentPlace): Promise<AgentRun> {
  const input: FeatureInput = {
    missionId: ctx.missionId,
    missionKey: ctx.missionKey,
    prompt: ctx.input.prompt,
    task,
    repo: ctx.prep.repo,
    ...place,
    model: task.role === 'repair' ? (ctx.input.models.validator ?? ctx.input.models.worker) : ctx.input.models.worker,
    maxTurns: ctx.input.budget.maxTurnsPerFeature,
    stallAfterSeconds: ctx.input.stallAfterSeconds,
    ...(ctx.input.models.contextWindow ? { contextWindows: ctx.input.models.contextWindow } : {}),
    ...(ctx.input.models.prices ? { prices: ctx.input.models.prices } : {}),
    ...(ctx.prep.sandbox ? { sandbox: { network: ctx.prep.sandbox.network, env: ctx.prep.sandbox.env } } : {}),
    ...(ctx.host ? { host: ctx.host } : {}),
  };
  const featureId = task.role === 'feature' ? task.feature.id : undefined;
  // What the mission has already counted of this agent: a run after a rate-limit park carries it on.
  let counted: AgentSpent | undefined;
  for (;;) {
    // The notes so far go in the input (read in the first request); later ones by signal (running-agents.ts).
    const notes = ctx.state.agents.notes();
    const args = { ...input, ...(notes.length ? { steering: notes } : {}) };
    let workflowId: string | undefined;
    try {
      // startChild, then its result: the same commands as executeChild, and the handle to steer the agent with.
      const child = await startChild(agentWorkflow, {
        workflowId: `${ctx.missionId}/${task.milestone.id}/${agentTaskId(task)}`,
        args: [counted ? { ...args, carried: { turn: counted.turns, tokens: counted.tokens, startedAt: workflowNow() } } : args],
        staticSummary: childSummary(task),
        staticDetails: `Mission ${ctx.missionId}, milestone ${task.milestone.id}: ${task.milestone.title}\nWorking in ${place.workdir} on ${place.branch}`,
      });
      workflowId = child.workflowId;
      ctx.state.agents.attach(child, featureId, notes.length);
      const result = await child.result();
      ctx.state.addTokens(counted ? subtractTokens(result.tokens, counted.tokens) : result.tokens, task.role);
      if (result.refused?.count) ctx.state.addRefused(result.taskId, result.refused);
      return { ok: true, result };
    } catch (err) {
      const spent = spentOf(err);
      if (spent) ctx.state.addTokens(counted ? subtractTokens(spent.tokens, counted.tokens) : spent.tokens, task.role);
      const type = failureType(err);
      if (isCancellation(err) || (type && MISSION_FATAL.includes(type))) throw err;
      if (!parksForQuota(err)) return { ok: false, error: rootFailure(err).message, ...(spent ? { spent } : {}) };
      // The conversation is on disk: after `resume` the agent goes on from its last completed turn.
      counted = spent ?? counted;
      await parkForQuota(ctx.state, ctx.missionId, `agent ${agentTaskId(task)}`, err);
    } finally {
      if (workflowId) ctx.state.agents.detach(workflowId);
    }
  }
}

function childSummary(task: AgentTask): string {
  if (task.role === 'feature') return `feature ${task.feature.id}: ${task.feature.title}`;
  if (task.role === 'integration') return `integration: resolve ${task.incoming.id} conflicts in ${task.conflictFiles.join(', ')}`;
  return `repair ${task.milestone.id}: ${task.failures.map((f) => f.name).join(', ')} failed`;
}
