import type { BudgetLimits } from './budget';
import type { Plan } from './plan';
import type { AnsweredRound, PendingQuestions } from './questions';

/** The mission as an explicit state machine. */
export type Phase =
  | 'preparing'
  | 'planning'
  /** The planner asked clarifying questions; `answerQuestions` answers them (status.questions). */
  | 'awaiting-answers'
  | 'awaiting-approval'
  | 'running'
  | 'paused-budget'
  /** A provider's rate-limit or quota refusals (HTTP 429) outlasted the retries; `resume` tries again. */
  | 'paused-quota'
  | 'integrating'
  | 'validating'
  | 'repairing'
  | 'committing'
  | 'reporting'
  | 'completed'
  | 'completed-with-issues'
  | 'rejected'
  | 'failed'
  | 'cancelled';

export const FINAL_PHASES: readonly Phase[] = ['completed', 'completed-with-issues', 'rejected', 'failed', 'cancelled'];

/** `incomplete`: the agent used its whole turn budget without calling finish; `skipped`: a person skipped it (skipFeature). */
export type FeatureState = 'pending' | 'running' | 'done' | 'blocked' | 'incomplete' | 'failed' | 'skipped';
export type MilestoneState = 'pending' | 'running' | 'integrating' | 'validating' | 'repairing' | 'committing' | 'done';
/** `resolving`: the integration agent is working on the conflict. */
export type MergeState = 'merged' | 'conflict' | 'resolving' | 'nothing-to-merge';
/** `compact`: the summaries written when an agent's conversation neared its model's window. */
export type AgentRole = 'plan' | 'feature' | 'integration' | 'repair' | 'validator' | 'compact' | 'report';

export interface TokenUsage {
  prompt: number;
  completion: number;
  total: number;
  /** Prompt tokens the provider served from its cache (included in `prompt`), as its usage said. */
  cached?: number;
  /** USD of the calls whose model has a price (src/api/prices.ts); the others are counted in `unpriced`. */
  costUsd?: number;
  /** Tokens of calls whose model has no price: their cost is unknown. */
  unpriced?: number;
  /** The part of these counts spent compacting conversations (reported as the `compact` role). */
  compact?: TokenUsage;
}

export const ZERO_TOKENS: TokenUsage = { prompt: 0, completion: 0, total: 0 };

const sumOptional = (x: number | undefined, y: number | undefined) => (x === undefined && y === undefined ? {} : { value: (x ?? 0) + (y ?? 0) });

/** Sums two usages; the optional counters stay absent when neither side has them (older records compare unchanged). */
export function addTokens(a: TokenUsage, b: TokenUsage): TokenUsage {
  const out: TokenUsage = { prompt: a.prompt + b.prompt, completion: a.completion + b.completion, total: a.total + b.total };
  for (const key of ['cached', 'costUsd', 'unpriced'] as const) {
    const sum = sumOptional(a[key], b[key]);
    if ('value' in sum) out[key] = sum.value;
  }
  if (a.compact || b.compact) out.compact = addTokens(a.compact ?? ZERO_TOKENS, b.compact ?? ZERO_TOKENS);
  return out;
}

/** Compaction's usage, marked as such so the mission reports it under the `compact` role. */
export function asCompaction(t: TokenUsage): TokenUsage {
  return t.total || t.costUsd ? { ...t, compact: t } : t;
}

/** `a` minus `b` (what a re-run agent spent beyond what it carried over). */
export function subtractTokens(a: TokenUsage, b: TokenUsage): TokenUsage {
  const negate = (t: TokenUsage): TokenUsage => ({
    prompt: -t.prompt,
    completion: -t.completion,
    total: -t.total,
    ...(t.cached === undefined ? {} : { cached: -t.cached }),
    ...(t.costUsd === undefined ? {} : { costUsd: -t.costUsd }),
    ...(t.unpriced === undefined ? {} : { unpriced: -t.unpriced }),
    ...(t.compact ? { compact: negate(t.compact) } : {}),
  });
  return addTokens(a, negate(b));
}

export interface FeatureStatus {
  id: string;
  title: string;
  state: FeatureState;
  branch?: string;
  commit?: string | null;
  summary?: string;
  turns?: number;
  tokens?: TokenUsage;
  /** Skills the plan assigned to the feature, and those its agent read (read_skill). */
  skills?: string[];
  skillsRead?: string[];
  merge?: { state: MergeState; commit?: string; conflictFiles?: string[]; resolvedBy?: 'integration-agent'; note?: string };
  startedAt?: string;
  finishedAt?: string;
  /** Set by skipFeature: who skipped it (and why); a running agent was stopped and its work kept on its branch. */
  skipped?: { at: string; reason?: string; wasRunning: boolean };
  /** Set by retryFeature until the retry starts (it runs once the current milestone has finished). */
  retry?: { at: string; reason?: string };
  /** Earlier attempts of a retried feature, oldest first. */
  attempts?: { state: FeatureState; summary?: string; commit?: string | null; branch?: string }[];
}

/** A person's steering note (the steer decision), as every agent from then on read it. */
export interface SteeringNote {
  at: string;
  note: string;
  by?: string;
}

/** An agent's live progress (its workflow's `progress` query): what `mission run` and `mission watch` show while it works. */
export interface AgentProgress {
  taskId: string;
  /** The turn under way (0 before the first). */
  turn: number;
  maxTurns: number;
  tokens: TokenUsage;
  /** The last tool call's label (`run_command npm test`), once there was one. */
  lastTool?: string;
}

export interface MilestoneStatus {
  id: string;
  title: string;
  state: MilestoneState;
  features: FeatureStatus[];
  startCommit?: string;
  commit?: string;
  startedAt?: string;
  finishedAt?: string;
  validation?: MilestoneValidation;
  /** Why the milestone was never run although the mission ran to its end (a re-plan that was rejected). */
  notRun?: string;
}

/** One validation command as it ran. */
export interface CommandRun {
  name: string;
  command: string;
  exitCode: number | null;
  durationMs: number;
  timedOut: boolean;
  outputTail: string;
  skipped?: string;
}

export interface ValidationRun {
  attempt: 'initial' | 'after-repair';
  passed: boolean;
  results: CommandRun[];
}

export interface MilestoneValidation {
  /** passed; repaired (failed, then passed after repair); failed (still failing: see unresolved); not-validated (nothing to run). */
  status: 'passed' | 'repaired' | 'failed' | 'not-validated';
  source: 'input' | 'config' | 'discovered' | 'none';
  notes: string[];
  /** The plan's criteria for this milestone, reported beside the command results. */
  criteria: string[];
  /** How each criterion was checked, in the order of `criteria` (absent in statuses recorded before criteria were checked). */
  checks?: CriterionCheck[];
  runs: ValidationRun[];
  repair?: { state: string; summary: string; commit: string | null };
  unresolved: string[];
}

/**
 * A plan criterion's verdict: `met` / `not-met` / `unknown` (the checker could not tell), or `not-checked`
 * (nothing could check it: no command maps to it and the validator gave no verdict).
 */
export type CriterionVerdict = 'met' | 'not-met' | 'unknown' | 'not-checked';

export interface CriterionCheck {
  criterion: string;
  verdict: CriterionVerdict;
  /** `command`: a validation command that the criterion names; `validator`: the validator model's verdict. */
  by: 'command' | 'validator' | 'none';
  reason: string;
}

/** Which sandbox the mission's commands ran in (DESIGN.md, Safety). */
export interface SandboxInfo {
  backend: 'bwrap' | 'sandbox-exec' | 'off';
  /** Whether agent commands (and validation commands other than dependency installs) may use the network. */
  network: boolean;
  /** Variable names passed to commands beyond the fixed allowlist (`env` of .mission/config.json). */
  env: string[];
  /** Set when the sandbox is off: what that means. */
  note?: string;
  /** What holds the command beyond the backend's mounts (Landlock, or why not; what holds the totals). */
  layers?: string[];
}

/** Actions agents attempted that a tool or the sandbox refused: how many, and the last few. */
export interface RefusedActions {
  count: number;
  last: { taskId: string; action: string }[];
}

export const MAX_REFUSED_SHOWN = 5;

/** Adds one agent's refusals to the mission's (pure: used inside the workflow). */
export function addRefused(into: RefusedActions | undefined, taskId: string, refused: { count: number; last: string[] }): RefusedActions {
  const last = [...(into?.last ?? []), ...refused.last.map((action) => ({ taskId, action }))].slice(-MAX_REFUSED_SHOWN);
  return { count: (into?.count ?? 0) + refused.count, last };
}

export interface MissionEvent {
  at: string;
  type: string;
  message: string;
}

/** A move of a mission to another host, from its repository URL as pushed at the last milestone. */
export interface HostMove {
  at: string;
  from: string;
  to: string;
  /** The commit the new host started from: the last milestone's, as pushed (or the base commit before any). */
  fromCommit: string;
  /** The milestone whose unfinished work on the old host was lost and is redone on the new one. */
  redone?: string;
}

/** What the `status` query returns. */
export interface MissionStatus {
  missionId: string;
  phase: Phase;
  paused: boolean;
  prompt: string;
  repo?: string;
  branch?: string;
  worktree?: string;
  baseCommit?: string;
  /** The host that holds the mission's repository, worktrees and conversations (its steps run there). */
  host?: string;
  /** Set while the mission's steps wait for a host whose worker does not poll its queue (README: moving a mission). */
  waitingForHost?: string;
  /** Each time the mission moved to another host (moveHost): the work of an unfinished milestone was redone there. */
  moves?: HostMove[];
  plan: Plan | null;
  planRevision: number;
  /** While `awaiting-answers`: the planner's questions and the round. */
  questions?: PendingQuestions;
  /** Every round of questions answered, with which answers were the defaults. */
  clarifications?: AnsweredRound[];
  milestones: MilestoneStatus[];
  tokens: TokenUsage;
  tokensByRole: Partial<Record<AgentRole, TokenUsage>>;
  /** The limits in force (the input's, raised by resume signals) and the minutes of work so far (approval and budget pauses excluded). */
  budget: BudgetLimits & { activeMinutes: number; exceeded?: string };
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  error?: { type?: string; message: string };
  /** While in `paused-quota`: which step the provider refused, and its last answer. */
  parked?: string;
  sandbox?: SandboxInfo;
  refused?: RefusedActions;
  /** Agents with no new turn for `stallAfterSeconds`, and what each waits on; absent when none is. */
  stalled?: StalledAgent[];
  /** Steering notes from people, oldest first (absent until the first). */
  steering?: SteeringNote[];
  /** A re-plan asked for and not yet begun (it begins once the running milestone has finished). */
  replan?: { at: string; feedback: string };
  /** Planner turns taken so far: a re-plan continues the planner's conversation after them. */
  planTurns?: number;
  events: MissionEvent[];
}

/** An agent that took no new turn for the input's `stallAfterSeconds`. */
export interface StalledAgent {
  taskId: string;
  /** `model call`, `command: <label>` or `worker` (its step was not picked up). */
  waitingOn: string;
  /** When its current turn started. */
  since: string;
}
