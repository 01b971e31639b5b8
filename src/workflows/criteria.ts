import { TemporalFailure } from '@temporalio/common';
import { isCancellation, patched } from '@temporalio/workflow';
import { checkByCommands } from '../api/criteria';
import { rootFailure } from '../api/errors';
import type { PlanMilestone } from '../api/plan';
import type { CommandRun, CriterionCheck, MilestoneValidation } from '../api/status';
import type { MissionContext } from './agents';
import { retryAfterQuotaPark } from './quota';

/** Missions started before the plan's criteria were checked never asked the validator; they still replay that way. */
const CRITERIA_PATCH = 'validation-criteria-checked';

/**
 * Checks the plan's criteria for a milestone: by the validation command a criterion names (its last
 * result), else by one validator model call for all the others, else `not-checked`. The verdicts are
 * recorded in the milestone's validation; a criterion `not-met` makes the mission `completed-with-issues`.
 */
export async function checkCriteria(ctx: MissionContext, milestone: PlanMilestone, validation: MilestoneValidation, results: CommandRun[]): Promise<void> {
  const { state } = ctx;
  const criteria = milestone.validation;
  if (!criteria.length) return;
  const byCommand = checkByCommands(criteria, results);
  const open = criteria.map((_, i) => i).filter((i) => !byCommand[i]);
  const verdicts = new Map<number, CriterionCheck>();
  if (open.length && patched(CRITERIA_PATCH)) {
    const milestoneStatus = state.milestone(milestone.id);
    const request = {
      missionKey: ctx.missionKey,
      milestone: { id: milestone.id, title: milestone.title, goal: milestone.goal },
      criteria: open.map((i) => criteria[i]!),
      worktree: ctx.prep.worktree,
      startCommit: milestoneStatus.startCommit ?? ctx.prep.baseCommit,
      features: milestoneStatus.features.map(({ id, title, state: featureState, summary }) => ({ id, title, state: featureState, summary })),
      results: results.map(({ name, command, exitCode, timedOut, skipped, outputTail }) => ({ name, command, exitCode, timedOut, skipped, outputTail: outputTail.slice(-400) })),
      model: ctx.input.models.validator ?? ctx.input.models.planner,
      ...(ctx.input.models.prices ? { prices: ctx.input.models.prices } : {}),
    };
    try {
      const ask = () => ctx.acts.model.checkCriteria.executeWithOptions({ summary: `llm: validator ${milestone.id}` }, [request]);
      const reply = await retryAfterQuotaPark(state, ctx.missionId, `the validator of ${milestone.id}`, ask);
      state.addTokens(reply.tokens, 'validator');
      open.forEach((i, j) => reply.checks[j] && verdicts.set(i, reply.checks[j]!));
    } catch (err) {
      // A validator that cannot answer (the endpoint down past every retry) leaves the criteria unchecked; the mission goes on.
      if (isCancellation(err) || !(err instanceof TemporalFailure)) throw err;
      const reason = `the validator could not be asked: ${rootFailure(err).message}`.slice(0, 300);
      for (const i of open) verdicts.set(i, { criterion: criteria[i]!, verdict: 'not-checked', by: 'none', reason });
    }
  }
  validation.checks = criteria.map(
    (criterion, i) => byCommand[i] ?? verdicts.get(i) ?? { criterion, verdict: 'not-checked', by: 'none', reason: 'no validation command names it, and the validator was not asked' },
  );
  state.updateMilestone(milestone.id, { validation });
  const counts = validation.checks.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.verdict]: (acc[c.verdict] ?? 0) + 1 }), {});
  state.record('criteria', `${milestone.id} criteria: ${Object.entries(counts).map(([verdict, n]) => `${n} ${verdict}`).join(', ')}`);
}
