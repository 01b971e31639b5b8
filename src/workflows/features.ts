import { condition, patched } from '@temporalio/workflow';
import { featureBranch } from '../api/ids';
import type { PlanFeature, PlanMilestone } from '../api/plan';
import type { FeatureState } from '../api/status';
import { runAgent, type MissionContext } from './agents';
import { budgetGate } from './budget';
import { filesOverlap, nextToStart, prefixOverlap } from './scheduler';
import { nowIso } from './state';

/** Missions recorded before declared files were compared with a glob matcher schedule as they did. */
const FILES_OVERLAP_PATCH = 'files-overlap-globs';

/** A feature's outcome as the mission sees it. */
export interface Outcome {
  state: FeatureState;
  branch: string;
  commit: string | null;
  workdir: string;
}

/**
 * Runs a milestone's features: in parallel where the scheduler allows (worktrees), else one after another.
 * `onFinished` hears each outcome as it comes, so that merging need not wait for the last feature.
 */
export async function runFeatures(
  ctx: MissionContext,
  milestone: PlanMilestone,
  startCommit: string,
  onFinished?: (id: string, outcome: Outcome) => void,
): Promise<Map<string, Outcome>> {
  const { state, input } = ctx;
  const started = new Set<string>();
  const finished = new Set<string>();
  const outcomes = new Map<string, Outcome>();
  const maxConcurrency = input.useWorktrees ? input.maxConcurrency : 1;
  const overlap = patched(FILES_OVERLAP_PATCH) ? filesOverlap : prefixOverlap;
  let head = startCommit; // without worktrees, features follow one another on the mission branch
  let wake = 0;
  let fatal: unknown;

  while (finished.size < milestone.features.length) {
    if (fatal) throw fatal;
    // A feature skipped before it started ends here: not run, as if it had finished (its dependents go on).
    for (const f of milestone.features) {
      if (started.has(f.id) || state.milestone(milestone.id).features.find((s) => s.id === f.id)?.state !== 'skipped') continue;
      const outcome: Outcome = { state: 'skipped', branch: featureBranch(ctx.missionKey, f.id), commit: null, workdir: '' };
      started.add(f.id);
      finished.add(f.id);
      outcomes.set(f.id, outcome);
      onFinished?.(f.id, outcome);
    }
    if (finished.size >= milestone.features.length) break;
    if (!state.status.paused) {
      for (const id of nextToStart(milestone.features, { started, finished, maxConcurrency, overlap })) {
        const feature = milestone.features.find((f) => f.id === id)!;
        started.add(id);
        void runFeature(ctx, milestone, feature, input.useWorktrees ? startCommit : head).then(
          (outcome) => {
            outcomes.set(id, outcome);
            if (outcome.commit && !input.useWorktrees) head = outcome.commit;
            finished.add(id);
            onFinished?.(id, outcome);
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
    const skips = state.skips;
    await condition(() => wake !== seen || state.status.paused !== paused || state.skips !== skips);
  }
  if (fatal) throw fatal;
  return outcomes;
}

async function runFeature(ctx: MissionContext, milestone: PlanMilestone, feature: PlanFeature, startPoint: string): Promise<Outcome> {
  const { state, prep, input } = ctx;
  await budgetGate(ctx);
  let place = { workdir: prep.worktree, branch: prep.branch, startCommit: startPoint };
  if (input.useWorktrees) {
    const local = new Set(milestone.features.map((f) => f.id));
    const created = await ctx.acts.steps.createFeatureWorktree({
      repo: prep.repo,
      missionKey: ctx.missionKey,
      featureId: feature.id,
      startPoint,
      mergeBranches: feature.dependsOn.filter((d) => local.has(d)).map((d) => featureBranch(ctx.missionKey, d)),
    });
    place = { workdir: created.worktree, branch: created.branch, startCommit: created.startCommit };
  }
  const status = state.milestone(milestone.id).features.find((f) => f.id === feature.id);
  if (status?.skipped) return skippedBeforeStart(ctx, milestone.id, feature.id, place);
  state.updateFeature(milestone.id, feature.id, { state: 'running', branch: place.branch, startedAt: nowIso(), ...(feature.skills?.length ? { skills: feature.skills } : {}) });
  // A retried feature (retryFeature): its new agent is told how the attempt before it ended.
  const attempts = status?.attempts ?? [];
  const last = attempts[attempts.length - 1];
  const retry = last ? { attempt: attempts.length + 1, previous: { state: last.state, summary: last.summary ?? 'no summary' } } : undefined;
  state.record('feature', `${feature.id} started on ${place.branch}${retry ? ` (attempt ${retry.attempt})` : ''}`);

  const task = { role: 'feature' as const, milestone: { id: milestone.id, title: milestone.title, goal: milestone.goal }, feature, ...(retry ? { retry } : {}) };
  const run = await runAgent(ctx, task, { ...place, commitMessage: `${feature.id}: ${feature.title}` });
  if (!run.ok) {
    const branch = input.useWorktrees ? place.branch : ((await setAsideFailedWork(ctx, feature.id, `${feature.id}: partial work of a failed agent`)) ?? place.branch);
    state.updateFeature(milestone.id, feature.id, { state: 'failed', summary: run.error, branch, ...(run.spent ? { turns: run.spent.turns, tokens: run.spent.tokens } : {}), finishedAt: nowIso() });
    state.record('feature-failed', `${feature.id} failed: ${run.error}${branch !== place.branch ? `; its partial work is kept on ${branch}` : ''}`);
    return { state: 'failed', branch, commit: null, workdir: place.workdir };
  }
  const { result } = run;
  const skipped = result.stopped !== undefined && Boolean(status?.skipped);
  state.updateFeature(milestone.id, feature.id, {
    state: skipped ? 'skipped' : result.state,
    ...(skipped && !input.useWorktrees && result.commit ? { merge: { state: 'merged' as const, commit: result.commit } } : {}),
    commit: result.commit,
    summary: result.summary,
    turns: result.turns,
    tokens: result.tokens,
    ...(result.skillsRead ? { skillsRead: result.skillsRead } : {}),
    finishedAt: nowIso(),
  });
  state.record('feature', `${feature.id} ${skipped ? 'skipped (its agent stopped)' : result.state} after ${result.turns} turn(s)${result.commit ? `, commit ${result.commit.slice(0, 8)}` : ''}`);
  return { state: skipped ? 'skipped' : result.state, branch: place.branch, commit: result.commit, workdir: place.workdir };
}

/** Skipped while its worktree was being made: no agent runs. */
function skippedBeforeStart(ctx: MissionContext, milestoneId: string, featureId: string, place: { workdir: string; branch: string }): Outcome {
  ctx.state.updateFeature(milestoneId, featureId, { state: 'skipped' });
  return { state: 'skipped', branch: place.branch, commit: null, workdir: place.workdir };
}

/** Mission histories recorded before a failed agent's edits were set aside replay without the step. */
const SET_ASIDE_PATCH = 'set-aside-failed-work';

/**
 * An agent that failed in the shared mission worktree leaves its edits behind: they go to a branch of their
 * own (named like the task's worktree branch) so that the next commit holds only the next task's work.
 * Returns that branch, or undefined when there was nothing to keep.
 */
export async function setAsideFailedWork(ctx: MissionContext, taskId: string, message: string): Promise<string | undefined> {
  if (!patched(SET_ASIDE_PATCH)) return undefined;
  const { branch } = await ctx.acts.steps.setAsideWork({
    repo: ctx.prep.repo,
    worktree: ctx.prep.worktree,
    branch: featureBranch(ctx.missionKey, taskId),
    message,
    step: `${ctx.missionId}/set-aside/${taskId}`,
  });
  return branch ?? undefined;
}
