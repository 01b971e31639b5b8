import type { Activities } from '../activities';
import type { PlanMilestone } from '../api/plan';
import type { CommandRun, MilestoneValidation, ValidationRun } from '../api/status';
import { runAgent, type MissionContext } from './agents';
import { budgetGate } from './budget';
import { checkCriteria } from './criteria';

type ValidationPlan = Awaited<ReturnType<Activities['discoverValidation']>>;
type ValidationStep = ValidationPlan['commands'][number];

const STATUS_TAIL = 2000;

/**
 * Validates the merged milestone; on failure one repair agent fixes it and validation runs once more.
 * Then the plan's criteria are checked against the last results (and the validator, for the others).
 */
export async function validateMilestone(ctx: MissionContext, milestone: PlanMilestone, discovered?: Promise<ValidationPlan>): Promise<MilestoneValidation> {
  const { validation, last } = await runValidation(ctx, milestone, discovered);
  await checkCriteria(ctx, milestone, validation, last?.results ?? []);
  return validation;
}

async function runValidation(ctx: MissionContext, milestone: PlanMilestone, discovered?: Promise<ValidationPlan>): Promise<{ validation: MilestoneValidation; last?: ValidationRun }> {
  const { state, prep } = ctx;
  state.updateMilestone(milestone.id, { state: 'validating' });
  state.setPhase('validating', `validating ${milestone.id}`);
  const plan = await (discovered ?? discoverValidation(ctx));
  const validation: MilestoneValidation = {
    status: 'not-validated',
    source: plan.source,
    notes: plan.notes,
    criteria: milestone.validation,
    runs: [],
    unresolved: [],
  };
  state.updateMilestone(milestone.id, { validation });
  if (plan.source === 'none' && !plan.browser) {
    state.record('validation', `${milestone.id}: nothing to validate (${plan.notes.join('; ')})`);
    return { validation };
  }

  const first = await runChecks(ctx, plan, 'initial', validation);
  if (first.passed) return { validation: finish(ctx, milestone, validation, 'passed', first), last: first };

  state.updateMilestone(milestone.id, { state: 'repairing' });
  state.setPhase('repairing', `repairing ${milestone.id}: ${failed(first).map((r) => r.name).join(', ')} failed`);
  const task = {
    role: 'repair' as const,
    milestone: { id: milestone.id, title: milestone.title, goal: milestone.goal },
    criteria: milestone.validation,
    failures: failed(first).map(({ name, command, exitCode, timedOut, outputTail }) => ({ name, command, exitCode, timedOut, outputTail })),
  };
  const head = await ctx.acts.steps.currentHead({ worktree: prep.worktree });
  await budgetGate(ctx);
  const run = await runAgent(ctx, task, { workdir: prep.worktree, branch: prep.branch, startCommit: head, commitMessage: `Repair ${milestone.id}: fix failing validation` });
  validation.repair = run.ok
    ? { state: run.result.state, summary: run.result.summary, commit: run.result.commit }
    : { state: 'failed', summary: run.error, commit: null };

  state.setPhase('validating', `revalidating ${milestone.id} after repair`);
  const second = await runChecks(ctx, plan, 'after-repair', validation);
  return { validation: finish(ctx, milestone, validation, second.passed ? 'repaired' : 'failed', second), last: second };
}

/**
 * The milestone's validation commands. They come from the config and build files of the base commit, never of the
 * tree the agents edited (agents must not rewrite their own checks), so they can be asked for before the agents end.
 */
export function discoverValidation(ctx: MissionContext): Promise<ValidationPlan> {
  const { prep, input } = ctx;
  return ctx.acts.steps.discoverValidation({ worktree: prep.worktree, configured: input.validation, repo: prep.repo, baseCommit: prep.baseCommit });
}

/**
 * Runs every step once. Returns the full results (their output goes to the repair agent); the status gets
 * a copy with shorter output tails, filled in as each command finishes so progress shows live.
 */
async function runChecks(ctx: MissionContext, plan: ValidationPlan, attempt: ValidationRun['attempt'], validation: MilestoneValidation): Promise<ValidationRun> {
  const run: ValidationRun = { attempt, passed: false, results: [] };
  const shown: ValidationRun = { attempt, passed: false, results: [] };
  validation.runs.push(shown);
  const sandbox = ctx.prep.sandbox ? { sandbox: { network: ctx.prep.sandbox.network, env: ctx.prep.sandbox.env } } : {};
  for (const step of [...plan.install, ...plan.commands, ...(plan.browser ? [plan.browser] : [])]) {
    const install = plan.install.includes(step) ? { install: true } : {};
    const result = await runner(ctx, step).runValidationCommand.executeWithOptions({ summary: `validate: ${step.run}`.slice(0, 100) }, [
      { missionKey: ctx.missionKey, worktree: ctx.prep.worktree, step, ...install, ...sandbox },
    ]);
    run.results.push(result);
    shown.results.push({ ...result, outputTail: result.outputTail.slice(-STATUS_TAIL) });
    ctx.state.record('validation', `${step.name}: ${describe(result)}`);
  }
  run.passed = shown.passed = failed(run).length === 0;
  return run;
}

function finish(ctx: MissionContext, milestone: PlanMilestone, validation: MilestoneValidation, status: MilestoneValidation['status'], last: ValidationRun): MilestoneValidation {
  validation.status = status;
  validation.unresolved = failed(last).map((r) => r.name);
  ctx.state.updateMilestone(milestone.id, { validation });
  ctx.state.record('validation', `${milestone.id} validation ${status}${validation.unresolved.length ? `; unresolved: ${validation.unresolved.join(', ')}` : ''}`);
  return validation;
}

/** A step's own timeout, plus room for the activity to report; heartbeats let cancellation reach the command. */
function runner(ctx: MissionContext, step: ValidationStep) {
  return ctx.acts.bind({
    startToCloseTimeout: `${step.timeoutSec + 120} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', maximumAttempts: 2 },
  });
}

const failed = (run: ValidationRun): CommandRun[] => run.results.filter((r) => !r.skipped && (r.timedOut || r.exitCode !== 0));

function describe(result: CommandRun): string {
  if (result.skipped) return `skipped (${result.skipped})`;
  if (result.timedOut) return `timed out after ${Math.round(result.durationMs / 1000)}s`;
  return `exit ${result.exitCode} in ${(result.durationMs / 1000).toFixed(1)}s`;
}
