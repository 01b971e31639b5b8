import { CancellationScope, condition, ContinueAsNew, continueAsNew, isCancellation, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { MAX_PLAN_ATTEMPTS } from '../api/constants';
import { missionFailure, rootFailure, toMissionFailure } from '../api/errors';
import { missionKeyFor } from '../api/ids';
import { parseMissionInputOrFail, type MissionInput } from '../api/input';
import { decideOutcome } from '../api/outcome';
import { reportQuery, statusQuery } from '../api/messages';
import type { Plan } from '../api/plan';
import { MAX_QUESTION_ROUNDS } from '../api/questions';
import { reportFromStatus, type MissionReport, type Outcome } from '../api/report';
import { MissionRepoKey, MissionStatusKey } from '../api/search';
import type { MissionStatus } from '../api/status';
import type { MissionContext } from './agents';
import { budgetGate } from './budget';
import { registerDecisions } from './decisions';
import { registerLiveness } from './liveness';
import { answersFor, QUESTIONS_PATCH } from './questions';
import { replan } from './replan';
import { retriesAsked, runRetries } from './retries';
import { STEERING_PATCH } from './running-agents';
import { registerSteering } from './steering';
import { retryAfterQuotaPark } from './quota';
import { installPlanSkills } from './skills';
import { HostMover } from './move';
import { HOST_AFFINITY_PATCH, missionProxies, steps, type MissionHost, type MissionProxies } from './proxies';
import { MissionState, nowIso, type PlanDecision } from './state';

/**
 * The `mission` workflow: prepare → plan → approval → milestones → result.
 * Input is validated here (not only in the CLI), so `temporal workflow start --input` gets the same checks.
 */
export async function mission(rawInput?: unknown, carried?: MissionCarry): Promise<MissionReport> {
  const input = parseMissionInputOrFail(rawInput);
  const info = workflowInfo();
  const state = new MissionState(info.workflowId, input.prompt, input.budget);
  if (carried) state.restore(carried.status, carried.activeMs, carried.searchAttributes, carried.costAttribute);
  registerHandlers(state);
  const mover = new HostMover(state, hostWaits(state));
  const missionKey = missionKeyFor(info.workflowId);
  let ctx: MissionContext | undefined;
  let acts = missionProxies(undefined);
  mover.register(input.repo, () => ctx?.host !== undefined);
  try {
    let head: string;
    let next = 0;
    if (carried) {
      acts = missionProxies(carried.host, hostWaits(state));
      ctx = { missionId: info.workflowId, missionKey, input, state, prep: carried.prep, acts, ...(carried.host ? { host: carried.host } : {}) };
      head = carried.head;
      next = carried.next;
      state.record('continued', `continued as new run ${info.runId} at milestone ${next + 1}`);
    } else {
      // Histories recorded before host affinity ran every step on the shared queue; they replay that way.
      const host = patched(HOST_AFFINITY_PATCH) ? await whichHost(state) : undefined;
      acts = missionProxies(host, hostWaits(state));
      const prep = await prepare(state, input, missionKey, acts);
      ctx = { missionId: info.workflowId, missionKey, input, state, prep, acts, ...(host ? { host } : {}) };
      const decision = await planUntilDecided(ctx);
      if (decision.kind === 'reject') {
        await acts.steps.discardMission({ repo: prep.repo, missionKey, baseCommit: prep.baseCommit });
        state.setPhase('rejected', `plan rejected${decision.reason ? `: ${decision.reason}` : ''}`);
        return await report(acts, state, missionKey, input, 'rejected', { rejection: { reason: decision.reason } });
      }
      state.setPhase('running', decision.approvedBy ? `plan approved by ${decision.approvedBy}` : 'plan approved');
      state.startClock();
      head = await installPlanSkills(ctx, prep.baseCommit);
    }

    // The plan as it stands at each milestone: a re-plan (replan decision) changes the milestones not started.
    const milestones = () => state.status.plan!.milestones;
    for (let i = next; i < milestones().length; i++) {
      await condition(() => !state.status.paused);
      await budgetGate(ctx);
      // Between milestones: retries asked for (retryFeature), then a re-plan (which may stop the mission here).
      if (retriesAsked(ctx) && patched(STEERING_PATCH)) head = await runRetries(ctx, head);
      if (state.status.replan && patched(STEERING_PATCH)) {
        if ((await replan(ctx, i)) === 'stop') break;
        head = await installPlanSkills(ctx, head); // the re-plan's own new skills, if it wrote any
      }
      if (i >= milestones().length) break;
      // A moveHost signal cancels the milestone and runs it again on the new host (src/workflows/move.ts).
      head = await mover.runMilestone(ctx, milestones()[i]!, head);
      // Only between milestones: every child has finished, so the parent-close policy touches nothing.
      if (i + 1 < milestones().length && workflowInfo().continueAsNewSuggested) {
        state.record('continue-as-new', `history at ${workflowInfo().historyLength} events: continuing as a new run`);
        await continueAsNew<typeof mission>(rawInput, { status: state.status, prep: ctx.prep, head, next: i + 1, activeMs: state.activeMs(), searchAttributes: state.searchAttributes, costAttribute: state.costAttribute, ...(ctx.host ? { host: ctx.host } : {}) });
      }
    }
    if (retriesAsked(ctx) && patched(STEERING_PATCH)) head = await runRetries(ctx, head);
    state.setPhase('reporting', 'writing the mission report');
    // Ran to the end: `completed` only if nothing is unresolved (src/api/outcome.ts decides).
    const outcome = decideOutcome(state.status.milestones, state.status.plan);
    const done = await retryAfterQuotaPark(state, ctx.missionId, 'the report', () => report(ctx!.acts, state, missionKey, input, outcome));
    const issues = done.unresolved.length ? ` with ${done.unresolved.length} unresolved item(s)` : '';
    state.setPhase(outcome, `mission completed${issues} on ${ctx.prep.branch}; report at ${done.reportPath}`);
    return done;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      state.setPhase('cancelled', 'mission cancelled');
      const cancelledCtx = ctx;
      await CancellationScope.nonCancellable(async () => {
        if (cancelledCtx && state.status.milestones.every((m) => m.state === 'pending')) {
          // Cancelled before any work: remove the empty branch and worktree.
          await cancelledCtx.acts.steps.discardMission({ repo: cancelledCtx.prep.repo, missionKey, baseCommit: cancelledCtx.prep.baseCommit });
        }
        await reportQuietly(cancelledCtx?.acts ?? acts, state, missionKey, input, 'cancelled');
      });
    } else {
      state.status.error = rootFailure(err);
      state.setPhase('failed', `mission failed: ${state.status.error.message}`);
      // ctx.acts: the mission's host now, which a move may have changed.
      await reportQuietly(ctx?.acts ?? acts, state, missionKey, input, 'failed');
      throw toMissionFailure(err);
    }
    throw err;
  }
}

/** What a mission hands to its next run when it continues as new (between milestones). */
export interface MissionCarry {
  status: MissionStatus;
  prep: MissionContext['prep'];
  head: string;
  /** Index of the next milestone to run. */
  next: number;
  activeMs: number;
  searchAttributes: boolean;
  /** MissionCostUsd exists too (absent in carries from before it did: then the cost is not published). */
  costAttribute?: boolean;
  /** The mission's host, kept across runs. */
  host?: MissionHost;
}

/**
 * Asks once, on the shared queue, which host takes the mission: the worker that answers holds its repository,
 * worktrees and conversations from now on, and every step that touches them runs on that host's own queue.
 */
async function whichHost(state: MissionState): Promise<MissionHost> {
  const host = await steps.whichHost();
  state.status.host = host.hostId;
  state.record('host', `files on host ${host.hostId} (its steps run on task queue ${host.taskQueue})`);
  return host;
}

/** Status says which host the mission waits for while no worker of that host picks up its steps. */
function hostWaits(state: MissionState): (hostId: string | undefined) => void {
  return (hostId) => {
    if (hostId) {
      state.status.waitingForHost = hostId;
      state.record('host', `waiting for host ${hostId}: no worker there took the mission's steps; start "mission worker" on that host (same MISSION_HOME), or see "Moving a mission to another host" in the README`);
    } else {
      delete state.status.waitingForHost;
      state.record('host', 'the host is back');
    }
  };
}

/** Creates the mission branch and worktree (or finds them) and publishes the search attributes. */
async function prepare(state: MissionState, input: MissionInput, missionKey: string, acts: MissionProxies): Promise<MissionContext['prep']> {
  const info = workflowInfo();
  const prep = await acts.steps.prepareMission({
    missionId: info.workflowId,
    missionKey,
    runId: info.firstExecutionRunId,
    repo: input.repo,
    baseBranch: input.baseBranch,
    sandbox: input.sandbox,
  });
  Object.assign(state.status, { repo: prep.repo, branch: prep.branch, worktree: prep.worktree, baseCommit: prep.baseCommit });
  if (prep.sandbox) {
    state.status.sandbox = prep.sandbox;
    if (prep.sandbox.note) state.record('warning', `sandbox ${prep.sandbox.note}`);
    else state.record('sandbox', `commands run in ${prep.sandbox.backend}, network ${prep.sandbox.network ? 'on' : 'off'} (dependency installs: on)`);
  }
  for (const note of prep.notes ?? []) state.record('warning', note);
  if (prep.searchAttributes) {
    state.searchAttributes = true;
    state.costAttribute = prep.searchAttributes !== 'without-cost';
    upsertSearchAttributes([
      { key: MissionRepoKey, value: prep.repo },
      { key: MissionStatusKey, value: state.phase },
    ]);
  }
  return prep;
}

/** Plans, shows the plan, and waits for the human: approve → go, revise → plan again, reject → stop. */
async function planUntilDecided(ctx: MissionContext): Promise<Exclude<PlanDecision, { kind: 'revise' }>> {
  const { state, input } = ctx;
  let turn = 0;
  let followUp: Parameters<MissionProxies['model']['planTurn']>[0]['followUp'];
  for (;;) {
    state.setPhase('planning', state.status.planRevision ? 'revising the plan' : 'drafting the plan');
    let plan: Plan | null = null;
    // Rounds of clarifying questions in this planning (first draft or revision); questions are not a failed attempt.
    let rounds = 0;
    let mayAsk = true;
    for (let attempt = 1; !plan; ) {
      const request: Parameters<MissionProxies['model']['planTurn']>[0] = {
        missionKey: ctx.missionKey,
        turn: (state.status.planTurns = ++turn),
        prompt: input.prompt,
        limits: { maxMilestones: input.maxMilestones, maxFeaturesPerMilestone: input.maxFeaturesPerMilestone },
        model: input.models.planner,
        followUp,
        ...(input.models.prices ? { prices: input.models.prices } : {}),
        ...(rounds < MAX_QUESTION_ROUNDS && mayAsk ? { questions: { round: rounds + 1, maxRounds: MAX_QUESTION_ROUNDS } } : {}),
      };
      const reply = await retryAfterQuotaPark(state, ctx.missionId, 'the planner', () => ctx.acts.model.planTurn.executeWithOptions({ summary: `llm: plan turn ${request.turn}` }, [request]));
      state.addTokens(reply.tokens, 'plan');
      plan = reply.plan;
      if (plan) break;
      // Histories from before questions never hold any: the patch marks where the new commands start.
      if (reply.questions?.length && patched(QUESTIONS_PATCH)) {
        const answers = await answersFor(ctx, reply.questions, ++rounds);
        if (answers === 'rejected') return state.decision as Extract<PlanDecision, { kind: 'reject' }>;
        followUp = { kind: 'answers', answers, round: rounds, maxRounds: MAX_QUESTION_ROUNDS };
        continue;
      }
      if (reply.empty && mayAsk) {
        // Declined the option to ask without planning: a correction without the option, not a spent attempt.
        state.record('plan-invalid', 'the planner neither asked nor planned: asked again for the plan alone');
        followUp = { kind: 'invalid', errors: reply.errors };
        mayAsk = false;
        continue;
      }
      state.record('plan-invalid', `plan draft ${attempt} refused: ${reply.errors.join('; ')}`);
      if (attempt >= MAX_PLAN_ATTEMPTS) {
        throw missionFailure('PLAN_INVALID', `the planner returned an invalid plan ${attempt} times; last problems: ${reply.errors.join('; ')}. Try a more specific prompt, other limits or another planner model.`);
      }
      followUp = { kind: 'invalid', errors: reply.errors };
      mayAsk = reply.askedBadly === true; // a correction offers the plan schema alone, unless the questions were what broke the rules
      attempt++;
    }
    state.setPlan(plan);
    if (!input.requirePlanApproval) return { kind: 'approve', comment: 'approval not required' };

    state.decision = undefined;
    state.setPhase('awaiting-approval', 'waiting for approvePlan, rejectPlan or revisePlan');
    await condition(() => state.decision !== undefined);
    const decision = state.decision!;
    if (decision.kind !== 'revise') return decision;
    followUp = { kind: 'revise', feedback: decision.feedback };
  }
}

/** Queries here; the decisions (signals and updates of the same names) in ./decisions. */
function registerHandlers(state: MissionState): void {
  setHandler(statusQuery, () => state.status, { description: 'Mission phase, plan, milestones, features, tokens and recent events' });
  setHandler(reportQuery, () => state.report ?? null, { description: 'The mission report once it is written (also for failed and cancelled missions); null before' });

  registerDecisions(state);
  registerSteering(state);
  registerLiveness(state);
}

/** Writes the report (Markdown and JSON under <home>/reports) and returns it as the workflow result. */
async function report(acts: MissionProxies, state: MissionState, missionKey: string, input: MissionInput, outcome: Outcome, extra: Partial<MissionReport> = {}): Promise<MissionReport> {
  const finishedAt = nowIso();
  state.status.finishedAt = finishedAt;
  const facts = reportFromStatus(state.status, outcome, finishedAt, extra);
  const written = await acts.model.writeReport.executeWithOptions({ summary: `report: ${outcome}` }, [
    // Every mission that ran work gets a narrative (labelled as the model's and checked against the facts).
    { missionKey, report: facts, narrate: state.status.milestones.some((m) => m.state !== 'pending'), model: input.models.validator ?? input.models.planner, ...(input.models.prices ? { prices: input.models.prices } : {}) },
  ]);
  state.addTokens(written.tokens, 'report');
  state.report = written.report;
  state.record('report', `report written to ${written.report.reportPath}`);
  return written.report;
}

/** A cancelled or failed mission still gets its report; a failure to write it must not hide the first failure. */
async function reportQuietly(acts: MissionProxies, state: MissionState, missionKey: string, input: MissionInput, outcome: Outcome): Promise<void> {
  try {
    await report(acts, state, missionKey, input, outcome);
  } catch (err) {
    state.record('report', `no report: ${rootFailure(err).message}`);
  }
}

export type { MissionInput };
