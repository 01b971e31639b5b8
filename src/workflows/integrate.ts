import type { Activities } from '../activities';
import { featureWorkflowId } from '../api/ids';
import type { PlanMilestone } from '../api/plan';
import { runAgent, type MissionContext } from './agents';
import { budgetGate } from './budget';
import type { Outcome } from './features';

type RemoveRequest = Parameters<Activities['removeFeatureWorktree']>[0];

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
  io: { outcomeOf: (id: string) => Promise<Outcome | undefined>; removeWorktree: (request: RemoveRequest) => Promise<unknown> },
): Promise<void> {
  const { state, prep } = ctx;
  const merged: { id: string; title: string; description: string }[] = [];
  for (const feature of milestone.features) {
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
    const request = {
      repo: prep.repo,
      worktree: prep.worktree,
      branch: outcome.branch,
      message: `Merge ${feature.id}: ${feature.title}`,
      step: `${featureWorkflowId(ctx.missionId, milestone.id, feature.id)}/merge`,
    };
    let merge = await ctx.acts.steps.mergeFeature.executeWithOptions({ summary: `git: merge ${feature.id}` }, [request]);
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
      merge = await ctx.acts.steps.concludeMerge({ ...request, conflictFiles, resolve });
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
