import { z } from 'zod';
import { PlanFeature } from './plan';
import type { TokenUsage } from './status';

/** Input of the `feature` child workflow: one agent working on one task in one working directory. */
export const FeatureInput = z.strictObject({
  missionId: z.string().min(1),
  missionKey: z.string().min(1),
  prompt: z.string(),
  milestone: z.strictObject({ id: z.string(), title: z.string(), goal: z.string() }),
  feature: PlanFeature,
  repo: z.string().min(1),
  workdir: z.string().min(1),
  branch: z.string().min(1),
  /** Commit the work started from; commits after it belong to this feature. */
  startCommit: z.string().min(1),
  model: z.string().optional(),
  maxTurns: z.number().int().min(1),
});
export type FeatureInput = z.infer<typeof FeatureInput>;

export type AgentOutcome = 'done' | 'blocked' | 'incomplete';


export interface FeatureResult {
  featureId: string;
  state: AgentOutcome;
  summary: string;
  branch: string;
  commit: string | null;
  turns: number;
  tokens: TokenUsage;
  durationMs: number;
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
}
