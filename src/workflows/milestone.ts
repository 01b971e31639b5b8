import { milestoneStep } from '../api/ids';
import type { PlanMilestone } from '../api/plan';
import type { MissionContext } from './agents';
import { runFeatures } from './features';
import { integrate } from './integrate';
import { nowIso } from './state';
import { validateMilestone } from './validation';

/** One milestone: features (parallel where safe) → integration → validation (+ one repair) → commit. Returns the new head. */
export async function runMilestone(ctx: MissionContext, milestone: PlanMilestone, startCommit: string): Promise<string> {
  const { state } = ctx;
  state.updateMilestone(milestone.id, { state: 'running', startCommit, startedAt: nowIso() });
  state.setPhase('running', `milestone ${milestone.id}: ${milestone.title}`);
  const outcomes = await runFeatures(ctx, milestone, startCommit);

  if (ctx.input.useWorktrees) {
    state.updateMilestone(milestone.id, { state: 'integrating' });
    state.setPhase('integrating', `merging the features of ${milestone.id}`);
    await integrate(ctx, milestone, outcomes, startCommit);
  }

  await validateMilestone(ctx, milestone);

  state.updateMilestone(milestone.id, { state: 'committing' });
  state.setPhase('committing', `committing ${milestone.id}`);
  const { commit } = await ctx.acts.steps.commitMilestone({
    repo: ctx.prep.repo,
    worktree: ctx.prep.worktree,
    message: `Milestone ${milestone.id}: ${milestone.title}`,
    step: milestoneStep(ctx.missionId, milestone.id),
    since: startCommit,
  });
  state.updateMilestone(milestone.id, { state: 'done', commit, finishedAt: nowIso() });
  return commit;
}
