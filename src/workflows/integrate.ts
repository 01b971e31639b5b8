import { patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { featureWorkflowId } from '../api/ids';
import type { PlanFeature, PlanMilestone } from '../api/plan';
import { runAgent, type MissionContext } from './agents';
import { budgetGate } from './budget';
import type { Outcome } from './features';

type RemoveRequest = Parameters<Activities['removeFeatureWorktree']>[0];
type MergeInput = Parameters<Activities['mergeFeature']>[0];
type MergeResult = Awaited<ReturnType<Activities['mergeFeature']>>;

/** Merges once every feature has finished, removing each merged worktree on the way (missions before MERGE_AS_FINISHED_PATCH). */
export function integrate(ctx: MissionContext, milestone: PlanMilestone, outcomes: Map<string, Outcome>, startCommit: string): Promise<void> {
  return mergeInOrder(ctx, milestone, startCommit, {
    outcomeOf: (id) => Promise.resolve(outcomes.get(id)),
    removeWorktree: (request) => ctx.acts.steps.removeFeatureWorktree(request),
  });
}

/**
 * Merges feature branches into the mission branch in plan order, each as soon as its feature and the features
 * before it are done (`outcomeOf` settles when a feature finishes). A conflict goes to an integration
 * agent in the mission worktree; if it cannot resolve it, the merge is aborted and recorded, and the
 * feature branch is kept: every feature ends merged, or recorded as unmerged with its branch named.
 * `removeWorktree` is handed each worktree that is done with; the caller decides when it goes.
 */
export async function mergeInOrder(
  ctx: MissionContext,
  milestone: PlanMilestone,
  startCommit: string,
  io: {
    outcomeOf: (id: string) => Promise<Outcome | undefined>;
    removeWorktree: (request: RemoveRequest) => Promise<unknown>;
    /** A feature's outcome if it is already there (features that finished together then merge in one step). */
    readyNow?: (id: string) => Outcome | undefined;
  },
): Promise<void> {
  const { state, prep } = ctx;
  const merged: { id: string; title: string; description: string }[] = [];
  const together = io.readyNow !== undefined && patched(MERGE_TOGETHER_PATCH);
  const request = (feature: PlanFeature, outcome: Outcome) => ({
    repo: prep.repo,
    worktree: prep.worktree,
    branch: outcome.branch,
    message: `Merge ${feature.id}: ${feature.title}`,
    step: `${featureWorkflowId(ctx.missionId, milestone.id, feature.id)}/merge`,
  });
  // Merges that came back from a step that merged several features, for the features after the first.
  const answered = new Map<string, Promise<MergeResult | undefined>>();
  for (const [i, feature] of milestone.features.entries()) {
    const outcome = await io.outcomeOf(feature.id);
    if (outcome?.state === 'skipped') {
      // Skipped by a person: never merged; a stopped agent's work stays on its branch (its worktree goes, the branch stays).
      if (outcome.workdir && outcome.workdir !== prep.worktree) await io.removeWorktree({ repo: prep.repo, missionWorktree: prep.worktree, worktree: outcome.workdir, branch: outcome.branch });
      continue;
    }
    if (!outcome || outcome.state === 'failed') {
      if (outcome) state.updateFeature(milestone.id, feature.id, { merge: { state: 'conflict', note: `not merged: the agent failed; its work stays on ${outcome.branch}` } });
      continue;
    }
    if (!outcome.commit) {
      state.updateFeature(milestone.id, feature.id, { merge: { state: 'nothing-to-merge' } });
      await io.removeWorktree({ repo: prep.repo, missionWorktree: prep.worktree, worktree: outcome.workdir, branch: outcome.branch });
      continue;
    }
    const own = request(feature, outcome);
    let merge =
      (await answered.get(feature.id)) ??
      (await (together ? mergeWithReady(ctx, milestone.features.slice(i), outcome, io.readyNow!, request, answered) : undefined)) ??
      (await ctx.acts.steps.mergeFeature.executeWithOptions({ summary: `git: merge ${feature.id}` }, [own]));
    let resolvedBy: 'integration-agent' | undefined;
    if (merge.state === 'conflict') {
      const conflictFiles = merge.conflictFiles ?? [];
      state.updateFeature(milestone.id, feature.id, { merge: { state: 'resolving', conflictFiles } });
      state.record('merge-conflict', `${feature.id} conflicts in ${conflictFiles.join(', ')}; the integration agent is resolving it`);
      const task = {
        role: 'integration' as const,
        milestone: { id: milestone.id, title: milestone.title, goal: milestone.goal },
        branch: outcome.branch,
        conflictFiles,
        incoming: { id: feature.id, title: feature.title, description: feature.description },
        merged,
      };
      await budgetGate(ctx);
      const run = await runAgent(ctx, task, { workdir: prep.worktree, branch: prep.branch, startCommit });
      const resolve = run.ok && run.result.state === 'done';
      merge = await ctx.acts.steps.concludeMerge({ ...own, conflictFiles, resolve });
      if (merge.state === 'merged') resolvedBy = 'integration-agent';
    }
    if (merge.state === 'conflict') {
      state.updateFeature(milestone.id, feature.id, { merge: { ...merge, note: `not merged; branch ${outcome.branch} kept` } });
      state.record('merge-conflict', `${feature.id} conflicts in ${merge.conflictFiles?.join(', ')}; not merged, branch ${outcome.branch} kept`);
      continue;
    }
    state.updateFeature(milestone.id, feature.id, { merge: { ...merge, ...(resolvedBy ? { resolvedBy } : {}) } });
    state.record('merge', `${feature.id} merged into ${prep.branch}${resolvedBy ? ' after the integration agent resolved the conflict' : ''}`);
    merged.push({ id: feature.id, title: feature.title, description: feature.description });
    await io.removeWorktree({ repo: prep.repo, missionWorktree: prep.worktree, worktree: outcome.workdir, branch: outcome.branch });
  }
}

/** Missions recorded before it merged every feature in a step of its own, also when several had finished together. */
const MERGE_TOGETHER_PATCH = 'merge-ready-features-together';

/**
 * When the features right after `next[0]` have finished too, with work to merge, they merge in the same step
 * (mergeFeatures stops at the first conflict); `answered` gets the results of those after the first. Undefined
 * when `next[0]` merges alone.
 */
function mergeWithReady(
  ctx: MissionContext,
  next: PlanFeature[],
  first: Outcome,
  readyNow: (id: string) => Outcome | undefined,
  request: (feature: PlanFeature, outcome: Outcome) => MergeInput,
  answered: Map<string, Promise<MergeResult | undefined>>,
): Promise<MergeResult> | undefined {
  const batch: [PlanFeature, Outcome][] = [[next[0]!, first]];
  for (const feature of next.slice(1)) {
    const outcome = readyNow(feature.id);
    if (!outcome || outcome.state === 'failed' || !outcome.commit) break;
    batch.push([feature, outcome]);
  }
  if (batch.length < 2) return undefined;
  const results = ctx.acts.steps.mergeFeatures.executeWithOptions({ summary: `git: merge ${batch.map(([f]) => f.id).join(', ')}` }, [batch.map(([f, o]) => request(f, o))]);
  // A feature the step did not get to (after a conflict) merges in a step of its own, after the conflict is settled.
  batch.slice(1).forEach(([f], k) => answered.set(f.id, results.then((r) => r[k + 1])));
  return results.then((r) => r[0]!);
}
