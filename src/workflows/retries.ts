import { milestoneStep } from '../api/ids';
import type { PlanMilestone } from '../api/plan';
import type { FeatureStatus } from '../api/status';
import type { MissionContext } from './agents';
import { runFeatures } from './features';
import { integrate } from './integrate';
import { nowIso } from './state';
import { validateMilestone } from './validation';

/** Whether a retryFeature decision waits to be run. */
export function retriesAsked(ctx: Pick<MissionContext, 'state'>): boolean {
  return ctx.state.status.milestones.some((m) => m.features.some((f) => f.retry));
}

/**
 * Runs the retries asked for (retryFeature), between milestones: for each milestone with such features, in plan
 * order, a new agent per feature (told how the previous attempt ended; it starts from that attempt's branch),
 * then their merge, the milestone's validation again (with its repair) and a new milestone commit. Returns the
 * new head. A retry asked meanwhile runs in the same pass.
 */
export async function runRetries(ctx: MissionContext, head: string): Promise<string> {
  const { state } = ctx;
  for (;;) {
    const status = state.status.milestones.find((m) => m.features.some((f) => f.retry));
    const planned = status && state.status.plan!.milestones.find((m) => m.id === status.id);
    if (!status || !planned) return head;
    const ids = new Set(status.features.filter((f) => f.retry).map((f) => f.id));
    for (const f of status.features) if (ids.has(f.id)) startOver(f);
    // Only the retried features run; a dependency on one that is not retried is already in the milestone's work.
    const again: PlanMilestone = {
      ...planned,
      features: planned.features.filter((f) => ids.has(f.id)).map((f) => ({ ...f, dependsOn: f.dependsOn.filter((d) => ids.has(d)) })),
    };
    const round = Math.max(...status.features.filter((f) => ids.has(f.id)).map((f) => f.attempts?.length ?? 0)) + 1;
    state.updateMilestone(status.id, { state: 'running' });
    state.setPhase('running', `retrying ${[...ids].join(', ')} of ${status.id}`);
    const outcomes = await runFeatures(ctx, again, head);
    if (ctx.input.useWorktrees) {
      state.updateMilestone(status.id, { state: 'integrating' });
      state.setPhase('integrating', `merging the retried features of ${status.id}`);
      await integrate(ctx, again, outcomes, head);
    }
    await validateMilestone(ctx, planned);
    state.updateMilestone(status.id, { state: 'committing' });
    state.setPhase('committing', `committing ${status.id} after the retry of ${[...ids].join(', ')}`);
    const { commit } = await ctx.acts.steps.commitMilestone({
      repo: ctx.prep.repo,
      worktree: ctx.prep.worktree,
      message: `Milestone ${status.id}: ${planned.title} (retried ${[...ids].join(', ')})`,
      step: `${milestoneStep(ctx.missionId, status.id)}/retry-${round}`,
      since: head,
    });
    state.updateMilestone(status.id, { state: 'done', commit, finishedAt: nowIso() });
    head = commit;
  }
}

/** The attempt so far goes to `attempts`; the feature is pending again for its new agent. */
function startOver(f: FeatureStatus): void {
  (f.attempts ??= []).push({ state: f.state, ...(f.summary ? { summary: f.summary } : {}), commit: f.commit ?? null, ...(f.branch ? { branch: f.branch } : {}) });
  for (const key of ['retry', 'skipped', 'commit', 'summary', 'merge', 'turns', 'tokens', 'startedAt', 'finishedAt'] as const) delete f[key];
  f.state = 'pending';
}
