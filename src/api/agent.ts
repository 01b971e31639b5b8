import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import { z } from 'zod';
import { failureType, rootFailure } from './errors';
import { PlanFeature } from './plan';
import { PriceTable } from './prices';
import type { TokenUsage } from './status';

const MilestoneRef = z.strictObject({ id: z.string(), title: z.string(), goal: z.string() });
const FeatureBrief = z.strictObject({ id: z.string(), title: z.string(), description: z.string() });

export const CommandFailure = z.strictObject({
  name: z.string(),
  command: z.string(),
  exitCode: z.number().nullable(),
  timedOut: z.boolean(),
  outputTail: z.string(),
});
export type CommandFailure = z.infer<typeof CommandFailure>;

/** What one agent is asked to do: build a feature, resolve a merge conflict, or repair a failed validation. */
export const AgentTask = z.discriminatedUnion('role', [
  z.strictObject({
    role: z.literal('feature'),
    milestone: MilestoneRef,
    feature: PlanFeature,
    /** A retry (retryFeature): this is attempt n > 1, and how the one before it ended. */
    retry: z.strictObject({ attempt: z.number().int().min(2), previous: z.strictObject({ state: z.string(), summary: z.string() }) }).optional(),
  }),
  z.strictObject({
    role: z.literal('integration'),
    milestone: MilestoneRef,
    branch: z.string(),
    conflictFiles: z.array(z.string()),
    incoming: FeatureBrief,
    merged: z.array(FeatureBrief),
  }),
  z.strictObject({ role: z.literal('repair'), milestone: MilestoneRef, criteria: z.array(z.string()), failures: z.array(CommandFailure) }),
]);
export type AgentTask = z.infer<typeof AgentTask>;

/** Input of the `feature` child workflow: one agent working on one task in one working directory. */
const TokenCounts = z.object({
  prompt: z.number(),
  completion: z.number(),
  total: z.number(),
  cached: z.number().optional(),
  costUsd: z.number().optional(),
  unpriced: z.number().optional(),
});
/** TokenUsage (src/api/status.ts) as carried across continue-as-new. */
const TokenUsageSchema = TokenCounts.extend({ compact: TokenCounts.optional() });

export const FeatureInput = z.strictObject({
  missionId: z.string().min(1),
  missionKey: z.string().min(1),
  prompt: z.string(),
  task: AgentTask,
  repo: z.string().min(1),
  workdir: z.string().min(1),
  branch: z.string().min(1),
  /** Commit the work started from; commits after it belong to this task. */
  startCommit: z.string().min(1),
  model: z.string().optional(),
  /** The input's `models.prices`, when set (kept with the conversation on disk). */
  prices: PriceTable.optional(),
  /** The input's `models.contextWindow`, when set. */
  contextWindows: z.record(z.string(), z.number()).optional(),
  maxTurns: z.number().int().min(1),
  /** The input's `stallAfterSeconds`: with no new turn for this long the agent tells the mission it is stalled. */
  stallAfterSeconds: z.number().positive().optional(),
  /** Commit the agent's work with this message; absent when the caller concludes (a merge in progress). */
  commitMessage: z.string().optional(),
  /** What the agent's commands may reach beyond the working tree (the mission's sandbox settings). */
  sandbox: z.strictObject({ network: z.boolean(), env: z.array(z.string()) }).optional(),
  /** The mission's host: the agent's turns and commits run on its task queue (src/workflows/proxies.ts, missionProxies). */
  host: z.strictObject({ hostId: z.string().min(1), taskQueue: z.string().min(1), pickupSec: z.number().int().min(1).optional() }).optional(),
  /** Steering notes of the mission so far: the agent reads them in its first request (later ones come by signal). */
  steering: z.array(z.strictObject({ index: z.number().int().min(0), at: z.string(), note: z.string(), by: z.string().optional() })).optional(),
  /** Set by the workflow itself when it continues as new: where the agent loop stands. */
  carried: z
    .strictObject({
      turn: z.number().int().min(0),
      tokens: TokenUsageSchema,
      startedAt: z.number(),
      refused: z.strictObject({ count: z.number(), last: z.array(z.string()) }).optional(),
      skillsRead: z.array(z.string()).optional(),
      /** Indexes of the steering notes already in the conversation. */
      steered: z.array(z.number().int().min(0)).optional(),
    })
    .optional(),
});
export type FeatureInput = z.infer<typeof FeatureInput>;

/** A stable name per task: the conversation's file name and the end of the child workflow id. */
export function agentTaskId(task: AgentTask): string {
  // A retry is a new agent with a conversation (and workflow id) of its own; `attempt-` is reserved in plan ids.
  if (task.role === 'feature') return task.retry ? `attempt-${task.retry.attempt}-${task.feature.id}` : task.feature.id;
  return task.role === 'integration' ? `integration-${task.incoming.id}` : `repair-${task.milestone.id}`;
}

export type AgentOutcome = 'done' | 'blocked' | 'incomplete';

export interface FeatureResult {
  taskId: string;
  role: AgentTask['role'];
  state: AgentOutcome;
  summary: string;
  branch: string;
  commit: string | null;
  turns: number;
  tokens: TokenUsage;
  durationMs: number;
  /** Actions of this agent that were refused for safety: how many, and the last few. */
  refused?: { count: number; last: string[] };
  /** Skills the agent read with read_skill, in the order first read. */
  skillsRead?: string[];
  /** A person stopped it (stopAgent, sent by skipFeature): it ended early with its work committed. */
  stopped?: string;
}

/** Where a conversation lives (outside workflow history). */
export interface SessionRef {
  missionKey: string;
  name: string;
}

/** What an agent turn returns to the workflow: small and independent of the conversation's length. */
export interface TurnResult {
  toolCalls: { id: string; name: string; label: string }[];
  text: string;
  tokens: TokenUsage;
}

export interface ToolRunResult {
  ok: boolean;
  label: string;
  finish?: { status: 'done' | 'blocked'; summary: string };
  /** The action was refused for safety (a tool's check, or the sandbox stopping a command). */
  refused?: string;
  /** A finish call asked to commit (RunToolInput.commit): the agent's commit, null when it changed nothing. */
  commit?: string | null;
}

/** What an agent spent before it failed: carried in its failure's details so the mission still counts it. */
export const AgentSpent = z.object({
  // Loose: TokenUsage may carry more counters (cached tokens, cost) than the three this needs.
  tokens: z.looseObject({ prompt: z.number(), completion: z.number(), total: z.number() }),
  turns: z.number().int().min(0),
});
export type AgentSpent = { tokens: TokenUsage; turns: number };

/**
 * The failure an agent workflow ends with: the same root type and message, plus what it spent. Only
 * Temporal failures are wrapped: a plain Error is a bug in workflow code, and Temporal retries the
 * workflow task for it; a cancellation stays a cancellation.
 */
export function failedWithTokens(err: unknown, spent: AgentSpent): unknown {
  if (!(err instanceof TemporalFailure) || err instanceof CancelledFailure) return err;
  const root = rootFailure(err);
  return ApplicationFailure.create({ type: failureType(err) ?? root.type ?? 'AGENT_FAILED', message: root.message, nonRetryable: true, details: [spent], cause: err });
}

/** What a failed agent spent, from its failure (anywhere in the cause chain); undefined when it did not say. */
export function spentOf(err: unknown): AgentSpent | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 8; depth++) {
    if (current instanceof ApplicationFailure) {
      const parsed = AgentSpent.safeParse(current.details?.[0]);
      if (parsed.success) return parsed.data as AgentSpent;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
