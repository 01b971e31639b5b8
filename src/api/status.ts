import type { BudgetLimits } from './budget';
import type { Plan } from './plan';

/** The mission as an explicit state machine. */
export type Phase =
  | 'preparing'
  | 'planning'
  | 'awaiting-approval'
  | 'running'
  | 'paused-budget'
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

/** `incomplete`: the agent used its whole turn budget without calling finish. */
export type FeatureState = 'pending' | 'running' | 'done' | 'blocked' | 'incomplete' | 'failed';
export type MilestoneState = 'pending' | 'running' | 'integrating' | 'validating' | 'repairing' | 'committing' | 'done';
/** `resolving`: the integration agent is working on the conflict. */
export type MergeState = 'merged' | 'conflict' | 'resolving' | 'nothing-to-merge';
export type AgentRole = 'plan' | 'feature' | 'integration' | 'repair' | 'validator' | 'report';

export interface TokenUsage {
  prompt: number;
  completion: number;
  total: number;
}

export const ZERO_TOKENS: TokenUsage = { prompt: 0, completion: 0, total: 0 };

export function addTokens(a: TokenUsage, b: TokenUsage): TokenUsage {
  return { prompt: a.prompt + b.prompt, completion: a.completion + b.completion, total: a.total + b.total };
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
  merge?: { state: MergeState; commit?: string; conflictFiles?: string[]; resolvedBy?: 'integration-agent'; note?: string };
  startedAt?: string;
  finishedAt?: string;
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
  plan: Plan | null;
  planRevision: number;
  milestones: MilestoneStatus[];
  tokens: TokenUsage;
  tokensByRole: Partial<Record<AgentRole, TokenUsage>>;
  /** The limits in force (the input's, raised by resume signals) and the minutes of work so far (approval and budget pauses excluded). */
  budget: BudgetLimits & { activeMinutes: number; exceeded?: string };
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  error?: { type?: string; message: string };
  sandbox?: SandboxInfo;
  refused?: RefusedActions;
  events: MissionEvent[];
}
