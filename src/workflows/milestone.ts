import { patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { milestoneStep } from '../api/ids';
import type { PlanMilestone } from '../api/plan';
import type { MissionContext } from './agents';
import { runFeatures, type Outcome } from './features';
import { integrate, mergeInOrder } from './integrate';
import { nowIso } from './state';
import { discoverValidation, validateMilestone } from './validation';

type RemoveRequest = Parameters<Activities['removeFeatureWorktree']>[0];

/** One milestone: features (parallel where safe) → integration → validation (+ one repair) → commit. Returns the new head. */
export async function runMilestone(ctx: MissionContext, milestone: PlanMilestone, startCommit: string): Promise<string> {
  const { state } = ctx;
  state.updateMilestone(milestone.id, { state: 'running', startCommit, startedAt: nowIso() });
  state.setPhase('running', `milestone ${milestone.id}: ${milestone.title}`);
  // What to validate depends only on the base commit: asked for while the agents work, it is ready when they are done.
  const discovered = patched(DISCOVER_EARLY_PATCH) ? discoverValidation(ctx) : undefined;
  discovered?.catch(() => undefined); // awaited at validation; a failure before then must not count as unhandled
  let removals: Promise<unknown> = Promise.resolve();
  let merged: string[] = [];
  if (ctx.input.useWorktrees && patched(MERGE_AS_FINISHED_PATCH)) {
    ({ removals, merged } = await mergeAsFeaturesFinish(ctx, milestone, startCommit));
  } else {
    const outcomes = await runFeatures(ctx, milestone, startCommit);
    if (ctx.input.useWorktrees) {
      integrating(ctx, milestone);
      await integrate(ctx, milestone, outcomes, startCommit);
    }
  }

  await validateMilestone(ctx, milestone, discovered);

  state.updateMilestone(milestone.id, { state: 'committing' });
  state.setPhase('committing', `committing ${milestone.id}`);
  const { commit } = await ctx.acts.steps.commitMilestone({
    repo: ctx.prep.repo,
    worktree: ctx.prep.worktree,
    message: `Milestone ${milestone.id}: ${milestone.title}`,
    step: milestoneStep(ctx.missionId, milestone.id),
    since: startCommit,
    // Their branches are still being removed: a push to the repository's URL leaves them out.
    ...(merged.length ? { merged } : {}),
  });
  await removals;
  state.updateMilestone(milestone.id, { state: 'done', commit, finishedAt: nowIso() });
  return commit;
}

/** Missions recorded before it asked for the validation commands after the merges, on the milestone's path. */
const DISCOVER_EARLY_PATCH = 'discover-validation-early';

/**
 * Missions recorded before it merged every feature once the last agent had finished, then removed the
 * worktrees one by one, all on the milestone's critical path.
 */
const MERGE_AS_FINISHED_PATCH = 'merge-features-as-they-finish';

/**
 * Features run and merge at the same time: each feature is merged as soon as it and the features before it
 * (plan order) are done, so only the last merge follows the last agent. Worktrees are removed once every
 * merge is done (a later feature may still merge an earlier one's branch), all at once, while the milestone
 * validates; the returned promise settles when they are gone.
 */
async function mergeAsFeaturesFinish(ctx: MissionContext, milestone: PlanMilestone, startCommit: string): Promise<{ removals: Promise<unknown>; merged: string[] }> {
  const finish = new Map<string, (outcome: Outcome) => void>();
  const done = new Map(milestone.features.map((f) => [f.id, new Promise<Outcome>((resolve) => finish.set(f.id, resolve))]));
  const ready = new Map<string, Outcome>();
  const toRemove: RemoveRequest[] = [];
  let merging = true;
  const merges = mergeInOrder(ctx, milestone, startCommit, {
    outcomeOf: (id) => done.get(id)!,
    readyNow: (id) => ready.get(id),
    removeWorktree: async (request) => void toRemove.push(request),
  }).finally(() => (merging = false));
  const features = runFeatures(ctx, milestone, startCommit, (id, outcome) => {
    ready.set(id, outcome);
    finish.get(id)!(outcome);
  }).then(() => {
    if (merging) integrating(ctx, milestone);
  });
  await Promise.all([features, merges]);
  const removals = Promise.all(toRemove.map((request) => ctx.acts.steps.removeFeatureWorktree(request)));
  removals.catch(() => undefined); // awaited after the commit; a failure before then must not count as unhandled
  return { removals, merged: toRemove.map((r) => r.branch) };
}

function integrating(ctx: MissionContext, milestone: PlanMilestone): void {
  ctx.state.updateMilestone(milestone.id, { state: 'integrating' });
  ctx.state.setPhase('integrating', `merging the features of ${milestone.id}`);
}
