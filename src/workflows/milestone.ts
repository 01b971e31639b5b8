import { condition, executeChild, isCancellation } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FeatureInput, FeatureResult } from '../api/agent';
import { failureType, MISSION_FATAL, rootFailure } from '../api/errors';
import { featureBranch, featureWorkflowId, milestoneStep } from '../api/ids';
import type { MissionInput } from '../api/input';
import type { PlanFeature, PlanMilestone } from '../api/plan';
import type { FeatureState } from '../api/status';
import { feature as featureWorkflow } from './feature';
import { steps } from './proxies';
import { nextToStart } from './scheduler';
import { nowIso, type MissionState } from './state';

type Prepared = Awaited<ReturnType<Activities['prepareMission']>>;

export interface MissionContext {
  missionId: string;
  missionKey: string;
  input: MissionInput;
  state: MissionState;
  prep: Prepared;
}

/** A feature's outcome as the mission sees it (a child that failed outright has no FeatureResult). */
interface Outcome {
  state: FeatureState;
  branch: string;
  commit: string | null;
  workdir: string;
}

/** One milestone: features (parallel where safe) → integration → milestone commit. Returns the new head. */
export async function runMilestone(ctx: MissionContext, milestone: PlanMilestone, startCommit: string): Promise<string> {
  const { state } = ctx;
  state.updateMilestone(milestone.id, { state: 'running', startCommit, startedAt: nowIso() });
  state.setPhase('running', `milestone ${milestone.id}: ${milestone.title}`);
  const outcomes = await runFeatures(ctx, milestone, startCommit);

  if (ctx.input.useWorktrees) {
    state.updateMilestone(milestone.id, { state: 'integrating' });
    state.setPhase('integrating', `merging the features of ${milestone.id}`);
    await integrate(ctx, milestone, outcomes);
  }

  state.updateMilestone(milestone.id, { state: 'committing' });
  state.setPhase('committing', `committing ${milestone.id}`);
  const { commit } = await steps.commitMilestone({
    repo: ctx.prep.repo,
    worktree: ctx.prep.worktree,
    message: `Milestone ${milestone.id}: ${milestone.title}`,
    step: milestoneStep(ctx.missionId, milestone.id),
    since: startCommit,
  });
  state.updateMilestone(milestone.id, { state: 'done', commit, finishedAt: nowIso() });
  return commit;
}

async function runFeatures(ctx: MissionContext, milestone: PlanMilestone, startCommit: string): Promise<Map<string, Outcome>> {
  const { state, input } = ctx;
  const started = new Set<string>();
  const finished = new Set<string>();
  const outcomes = new Map<string, Outcome>();
  const maxConcurrency = input.useWorktrees ? input.maxConcurrency : 1;
  let head = startCommit; // without worktrees, features follow one another on the mission branch
  let wake = 0;
  let fatal: unknown;

  while (finished.size < milestone.features.length) {
    if (fatal) throw fatal;
    if (!state.status.paused) {
      for (const id of nextToStart(milestone.features, { started, finished, maxConcurrency })) {
        const feature = milestone.features.find((f) => f.id === id)!;
        started.add(id);
        void runFeature(ctx, milestone, feature, input.useWorktrees ? startCommit : head).then(
          (outcome) => {
            outcomes.set(id, outcome);
            if (outcome.commit && !input.useWorktrees) head = outcome.commit;
            finished.add(id);
            wake += 1;
          },
          (err: unknown) => {
            fatal = err;
            wake += 1;
          },
        );
      }
    }
    const seen = wake;
    const paused = state.status.paused;
    await condition(() => wake !== seen || state.status.paused !== paused);
  }
  return outcomes;
}

async function runFeature(ctx: MissionContext, milestone: PlanMilestone, feature: PlanFeature, startPoint: string): Promise<Outcome> {
  const { state, prep, input } = ctx;
  let workdir = prep.worktree;
  let branch = prep.branch;
  let startCommit = startPoint;
  if (input.useWorktrees) {
    const local = new Set(milestone.features.map((f) => f.id));
    const created = await steps.createFeatureWorktree({
      repo: prep.repo,
      missionKey: ctx.missionKey,
      featureId: feature.id,
      startPoint,
      mergeBranches: feature.dependsOn.filter((d) => local.has(d)).map((d) => featureBranch(ctx.missionKey, d)),
    });
    ({ worktree: workdir, branch, startCommit } = created);
  }
  state.updateFeature(milestone.id, feature.id, { state: 'running', branch, startedAt: nowIso() });
  state.record('feature', `${feature.id} started on ${branch}`);

  const childInput: FeatureInput = {
    missionId: ctx.missionId,
    missionKey: ctx.missionKey,
    prompt: input.prompt,
    milestone: { id: milestone.id, title: milestone.title, goal: milestone.goal },
    feature,
    repo: prep.repo,
    workdir,
    branch,
    startCommit,
    model: input.models.worker,
    maxTurns: input.budget.maxTurnsPerFeature,
  };
  let result: FeatureResult;
  try {
    result = await executeChild(featureWorkflow, {
      workflowId: featureWorkflowId(ctx.missionId, milestone.id, feature.id),
      args: [childInput],
    });
  } catch (err) {
    const type = failureType(err);
    if (isCancellation(err) || (type && MISSION_FATAL.includes(type))) throw err;
    const { message } = rootFailure(err);
    state.updateFeature(milestone.id, feature.id, { state: 'failed', summary: message, finishedAt: nowIso() });
    state.record('feature-failed', `${feature.id} failed: ${message}`);
    return { state: 'failed', branch, commit: null, workdir };
  }
  state.addTokens(result.tokens);
  state.updateFeature(milestone.id, feature.id, {
    state: result.state,
    commit: result.commit,
    summary: result.summary,
    turns: result.turns,
    tokens: result.tokens,
    finishedAt: nowIso(),
  });
  state.record('feature', `${feature.id} ${result.state} after ${result.turns} turn(s)${result.commit ? `, commit ${result.commit.slice(0, 8)}` : ''}`);
  return { state: result.state, branch, commit: result.commit, workdir };
}

/** Merges feature branches into the mission branch in plan order; a conflict is aborted and recorded, the branch kept. */
async function integrate(ctx: MissionContext, milestone: PlanMilestone, outcomes: Map<string, Outcome>): Promise<void> {
  const { state, prep } = ctx;
  for (const feature of milestone.features) {
    const outcome = outcomes.get(feature.id);
    if (!outcome || outcome.state === 'failed') continue; // kept as it is: branch and worktree hold whatever it did
    if (!outcome.commit) {
      state.updateFeature(milestone.id, feature.id, { merge: { state: 'nothing-to-merge' } });
    } else {
      const merge = await steps.mergeFeature({
        repo: prep.repo,
        worktree: prep.worktree,
        branch: outcome.branch,
        message: `Merge ${feature.id}: ${feature.title}`,
        step: `${featureWorkflowId(ctx.missionId, milestone.id, feature.id)}/merge`,
      });
      state.updateFeature(milestone.id, feature.id, { merge });
      if (merge.state === 'conflict') {
        state.record('merge-conflict', `${feature.id} conflicts in ${merge.conflictFiles?.join(', ')}; branch ${outcome.branch} kept`);
        continue;
      }
      state.record('merge', `${feature.id} merged into ${prep.branch}`);
    }
    await steps.removeFeatureWorktree({ repo: prep.repo, missionWorktree: prep.worktree, worktree: outcome.workdir, branch: outcome.branch });
  }
}
