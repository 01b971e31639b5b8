import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { MissionCostUsdKey, MissionStatusKey } from '../api/search';
import { MAX_STATUS_EVENTS } from '../api/constants';
import { budgetExceeded, type BudgetLimits } from '../api/budget';
import { decisionGate } from '../api/gate';
import type { Plan } from '../api/plan';
import type { AnswerQuestions, AnsweredRound } from '../api/questions';
import type { MissionReport } from '../api/report';
import { pendingMilestone } from '../api/steering';
import { RunningAgents } from './running-agents';
import {
  addRefused,
  addTokens,
  subtractTokens,
  ZERO_TOKENS,
  type AgentRole,
  type FeatureStatus,
  type MilestoneStatus,
  type MissionStatus,
  type Phase,
  type TokenUsage,
} from '../api/status';

/**
 * Workflow time. Inside Temporal's workflow sandbox Date.now() is not the machine's clock: it returns the
 * time of the current workflow task (or, after a local activity resolved within it, the time recorded in
 * that activity's marker), all of it in history, so a replay sees the same values. The replay test covers
 * the budget clock and durations, with agent turns as activities and as local activities. ESLint keeps
 * every other Date.now() out of src/workflows; all workflow code reads time through here.
 */
export const workflowNow = (): number => Date.now();
export const nowIso = (): string => new Date(workflowNow()).toISOString();

/** Missions recorded before it did not keep MissionCostUsd (an upsert per cost change is a new command). */
const COST_ATTRIBUTE_PATCH = 'mission-cost-search-attribute';

export type PlanDecision =
  | { kind: 'approve'; comment?: string; approvedBy?: string }
  | { kind: 'reject'; reason?: string }
  | { kind: 'revise'; feedback: string };

/** The mission's live state: what the `status` query returns, plus the pending plan decision. */
export class MissionState {
  readonly status: MissionStatus;
  decision: PlanDecision | undefined;
  /** Answers to the planner's questions, taken by `answerQuestions` and not yet handed to the planner. */
  answers: AnswerQuestions | undefined;
  /** The report once written: the `report` query returns it (a failed mission has no result to carry it). */
  report: MissionReport | undefined;
  /** Set once the worker confirmed the search attributes exist: keeps MissionStatus current. */
  searchAttributes = false;
  /** MissionCostUsd exists as well (a namespace set up before it may lack it). */
  costAttribute = false;
  /** The cost last written to MissionCostUsd. */
  private costPublished: number | undefined;
  /** What the last phase change said: the current details repeat it. */
  private now = '';
  /** Agents waiting in `budgetGate`, and the phase to return to. */
  readonly budgetGate: { waiters: number; before: Phase } = { waiters: 0, before: 'running' };
  /** Steps parked in `paused-quota`, the phase to return to, and how many resumes released them. */
  readonly quotaGate: { waiters: number; before: Phase; released: number } = { waiters: 0, before: 'running', released: 0 };
  /** The agents running now, for steering notes and stops (steer, skipFeature). */
  readonly agents = new RunningAgents(this);
  /** Bumped by skipFeature: a milestone's scheduler wakes to drop the skipped feature. */
  skips = 0;
  /** Work time: counted from plan approval, without the time spent in `paused-budget`. */
  private clock = { since: undefined as number | undefined, waitedMs: 0, waitingSince: undefined as number | undefined };

  constructor(missionId: string, prompt: string, budget: BudgetLimits) {
    const at = nowIso();
    this.status = {
      missionId,
      phase: 'preparing',
      paused: false,
      prompt,
      plan: null,
      planRevision: 0,
      milestones: [],
      tokens: { ...ZERO_TOKENS },
      tokensByRole: {},
      budget: { ...budget, activeMinutes: 0 },
      startedAt: at,
      updatedAt: at,
      events: [],
    };
  }

  /** An agent's refused actions (sandbox or tool checks) join the mission's count and its last few. */
  addRefused(taskId: string, refused: { count: number; last: string[] }): void {
    this.status.refused = addRefused(this.status.refused, taskId, refused);
    this.record('refused', `${taskId}: ${refused.count} action(s) refused; last: ${refused.last[refused.last.length - 1] ?? ''}`);
  }

  get phase(): Phase {
    return this.status.phase;
  }

  setPhase(phase: Phase, message?: string): void {
    this.status.phase = phase;
    this.record('phase', message ?? phase);
    this.now = message ?? phase;
    setCurrentDetails(this.details(this.now));
    if (this.searchAttributes) upsertSearchAttributes([{ key: MissionStatusKey, value: phase }]);
  }

  /** One line for the Web UI and `temporal workflow describe`; at the approval gate, the plan and how to decide. */
  private details(now: string): string {
    const line = this.detailsLine(now);
    const gate = decisionGate(this.status);
    const stalled = (this.status.stalled ?? []).map((s) => `stalled: ${s.taskId} has taken no new turn since ${s.since}; waiting on ${s.waitingOn}`);
    return [line, ...stalled].join('\n') + (gate ? `\n\n${gate}` : '');
  }

  /** Current details again, after something they show changed outside a phase change (an agent stalled). */
  refreshDetails(): void {
    setCurrentDetails(this.details(this.now));
  }

  private detailsLine(now: string): string {
    const milestones = this.status.milestones;
    const done = milestones.filter((m) => m.state === 'done').length;
    const progress = milestones.length ? ` · milestones ${done}/${milestones.length}` : '';
    return `${this.status.phase}: ${now}${progress} · ${this.status.tokens.total} tokens${this.status.paused ? ' · paused' : ''}`;
  }

  record(type: string, message: string): void {
    const at = nowIso();
    this.status.updatedAt = at;
    this.status.events.push({ at, type, message });
    if (this.status.events.length > MAX_STATUS_EVENTS) this.status.events.splice(0, this.status.events.length - MAX_STATUS_EVENTS);
  }

  /** Counts usage towards the mission and its role; the share an agent spent compacting goes to the `compact` role. */
  addTokens(tokens: TokenUsage, role: AgentRole): void {
    const { compact, ...all } = tokens;
    const byRole = this.status.tokensByRole;
    this.status.tokens = addTokens(this.status.tokens, all);
    byRole[role] = addTokens(byRole[role] ?? ZERO_TOKENS, compact ? subtractTokens(all, compact) : all);
    if (compact) byRole.compact = addTokens(byRole.compact ?? ZERO_TOKENS, compact);
    this.status.updatedAt = nowIso();
    const cost = this.status.tokens.costUsd;
    if (this.searchAttributes && this.costAttribute && cost !== undefined && cost !== this.costPublished && patched(COST_ATTRIBUTE_PATCH)) {
      this.costPublished = cost;
      upsertSearchAttributes([{ key: MissionCostUsdKey, value: cost }]);
    }
  }

  setPlan(plan: Plan): void {
    this.status.plan = plan;
    this.status.planRevision += 1;
    this.status.milestones = plan.milestones.map(pendingMilestone);
    this.record('plan', `plan revision ${this.status.planRevision}: ${plan.milestones.length} milestone(s), ${plan.milestones.reduce((n, m) => n + m.features.length, 0)} feature(s)`);
  }

  /** A round of questions answered: kept for the status and the report, and said in the events. */
  recordAnswers(round: AnsweredRound): void {
    (this.status.clarifications ??= []).push(round);
    const defaults = round.answers.filter((a) => a.byDefault).map((a) => a.id);
    const how = round.by.startsWith('defaults') ? `answered with ${round.by}` : `answered by ${round.by}${defaults.length ? `; defaults taken for ${defaults.join(', ')}` : ''}`;
    this.record('answers', `questions round ${round.round}: ${how}`);
  }

  milestone(id: string): MilestoneStatus {
    const found = this.status.milestones.find((m) => m.id === id);
    if (!found) throw new Error(`unknown milestone ${id}`);
    return found;
  }

  updateMilestone(id: string, patch: Partial<MilestoneStatus>): void {
    Object.assign(this.milestone(id), patch);
    this.status.updatedAt = nowIso();
  }

  updateFeature(milestoneId: string, featureId: string, patch: Partial<FeatureStatus>): void {
    const feature = this.milestone(milestoneId).features.find((f) => f.id === featureId);
    if (!feature) throw new Error(`unknown feature ${featureId}`);
    Object.assign(feature, patch);
    this.status.updatedAt = nowIso();
  }

  /** Takes over the state of the previous run (continue-as-new). */
  restore(status: MissionStatus, activeMs: number, searchAttributes: boolean, costAttribute = false): void {
    Object.assign(this.status, status);
    this.searchAttributes = searchAttributes;
    this.costAttribute = costAttribute;
    this.clock.since = workflowNow() - activeMs;
    setCurrentDetails(this.details(`continuing: ${status.phase}`));
  }

  /** Starts the work clock (at plan approval). */
  startClock(): void {
    this.clock.since ??= workflowNow();
  }

  activeMs(): number {
    const { since, waitedMs, waitingSince } = this.clock;
    if (since === undefined) return 0;
    return workflowNow() - since - waitedMs - (waitingSince === undefined ? 0 : workflowNow() - waitingSince);
  }

  /** Why no new work may start, or undefined. Keeps the status' budget figures current. */
  overBudget(): string | undefined {
    const activeMs = this.activeMs();
    const exceeded = budgetExceeded(this.status.budget, { tokens: this.status.tokens.total, activeMs, costUsd: this.status.tokens.costUsd });
    Object.assign(this.status.budget, { activeMinutes: Math.round(activeMs / 600) / 100, exceeded });
    return exceeded;
  }

  /** The clock stops while the mission waits for a raised budget. */
  pauseClock(): void {
    this.clock.waitingSince ??= workflowNow();
  }

  resumeClock(): void {
    if (this.clock.waitingSince !== undefined) this.clock.waitedMs += workflowNow() - this.clock.waitingSince;
    this.clock.waitingSince = undefined;
  }

  /** A signal that does not fit the current phase is recorded, never thrown. */
  ignore(signal: string, why: string): void {
    this.record('signal-ignored', `${signal} ignored: ${why}`);
  }
}
