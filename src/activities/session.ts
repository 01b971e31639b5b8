import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { missionFailure } from '../api/errors';
import type { ToolRunResult, TurnResult } from '../api/agent';
import type { PriceTable } from '../api/prices';
import type { TokenUsage } from '../api/status';

/**
 * A model conversation stored on the worker's disk, never in workflow history.
 * `turns` and `tools` record what already happened, so a retried activity returns the recorded
 * result instead of paying for the model call (or re-running the tool) again.
 */
export interface Session<T = unknown> {
  version: 1;
  messages: ChatCompletionMessageParam[];
  turns: Record<string, T>;
  tools: Record<string, ToolRunResult>;
  /** The context window (tokens) this conversation is kept within: configured or known, lowered when a server says less. */
  window?: number;
  /** How often older turns were compacted, and the files written or edited in the turns compacted away. */
  compactions?: number;
  files?: string[];
  /** Tokens spent on compaction for a turn not recorded yet (a retried turn must still count them once). */
  pendingTokens?: TokenUsage;
  /** The mission input's `models.prices` (set when the agent's conversation opens), over the worker's table. */
  prices?: PriceTable;
  /** The mission has no skills: read_skill, which could only fail, is not offered (its definition costs every request ~120 tokens). */
  noSkills?: true;
  /** Indexes of the mission's steering notes already in `messages` (status.steering order). */
  steered?: number[];
  /** Token counts of each model request: the server's usage, or Mission's estimate when it sent none (`estimated`). */
  requests?: RequestUsage[];
}

export interface RequestUsage {
  turn: number;
  kind: 'turn' | 'continue' | 'compact';
  prompt: number;
  completion: number;
  estimated?: true;
}

export async function loadSession<T = TurnResult>(file: string): Promise<Session<T> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const session = JSON.parse(text) as Session<T>;
    if (session.version !== 1 || !Array.isArray(session.messages)) throw new Error('unknown session format');
    return session;
  } catch (err) {
    throw missionFailure('SESSION_CORRUPT', `conversation file ${file} is unreadable (${(err as Error).message}); restore it or remove the mission's data`);
  }
}

export async function requireSession<T = TurnResult>(file: string): Promise<Session<T>> {
  const session = await loadSession<T>(file);
  if (!session) throw missionFailure('SESSION_CORRUPT', `conversation file ${file} is missing; the agent session was never opened`);
  return session;
}

export function newSession<T>(messages: ChatCompletionMessageParam[]): Session<T> {
  return { version: 1, messages, turns: {}, tools: {} };
}

/** Atomic write: a crash leaves either the old or the new file, never half of one. */
export async function saveSession<T>(file: string, session: Session<T>): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(session));
  await fs.rename(tmp, file);
}
