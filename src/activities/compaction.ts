import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { CHARS_PER_TOKEN, messageText } from './context-window';

/**
 * Compaction: when a conversation nears the model's context window, its older turns are replaced by a
 * model-written summary (what was done, what was learned, what is left). Kept verbatim: the system
 * message and the task (everything up to the first user message), the last few turns, and the list of
 * files the agent touched. The model is told in plain words that this happened, as coding agents such as
 * Codex and opencode do, so it re-reads a file rather than trusting a detail it no longer sees.
 * Pure functions here; the model call and the session file are the caller's (llm.ts).
 */

type Message = ChatCompletionMessageParam;

/** Compact when the estimate passes this share of the window; aim below `TARGET_SHARE` afterwards. */
export const COMPACT_AT_SHARE = 0.75;
export const TARGET_SHARE = 0.5;
/** Turns (an assistant message and its tool answers) kept verbatim after compaction. */
export const KEEP_TURNS = 3;

export const COMPACTED_MARKER = '[Mission compacted this conversation';

export interface CompactionSplit {
  /** System message(s) and the task: never compacted. */
  head: Message[];
  /** What the summary replaces. */
  older: Message[];
  /** The last turns, kept verbatim. */
  recent: Message[];
}

/** Splits the conversation; undefined when there is nothing older than the turns to keep. */
export function splitForCompaction(messages: Message[], keepTurns: number): CompactionSplit | undefined {
  const task = messages.findIndex((m) => m.role === 'user');
  if (task < 0) return undefined;
  const head = messages.slice(0, task + 1);
  const starts: number[] = [];
  for (let i = task + 1; i < messages.length; i++) if (messages[i]!.role === 'assistant') starts.push(i);
  // Recent turns start at an assistant message, so every tool answer they hold follows its call.
  const cut = starts.length > keepTurns ? starts[starts.length - keepTurns]! : undefined;
  if (cut === undefined) return undefined;
  const older = messages.slice(task + 1, cut);
  if (!older.some((m) => m.role === 'assistant' || m.role === 'tool')) return undefined;
  return { head, older, recent: messages.slice(cut) };
}

const WRITING_TOOLS = new Set(['write_file', 'edit_file']);

/** Paths the agent wrote or edited in these messages, added to those already known, in first-touched order. */
export function filesTouched(messages: Message[], known: string[] = []): string[] {
  const files = new Set(known);
  for (const m of messages) {
    for (const call of (m as { tool_calls?: { function?: { name: string; arguments: string } }[] }).tool_calls ?? []) {
      if (!call.function || !WRITING_TOOLS.has(call.function.name)) continue;
      try {
        const args = JSON.parse(call.function.arguments) as { path?: unknown };
        if (typeof args.path === 'string' && args.path) files.add(args.path);
      } catch {
        // A malformed call wrote nothing.
      }
    }
  }
  return [...files];
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)} …[${text.length - max} more characters]`);

/**
 * The older messages as plain text for the summariser, within `budgetChars`: long tool results are
 * clipped first; if that is not enough, the oldest lines go (an earlier summary, when there is one, stays).
 */
export function renderTranscript(older: Message[], budgetChars: number): string {
  const render = (toolMax: number) =>
    older.map((m) => {
      const text = typeof (m as { content?: unknown }).content === 'string' ? ((m as { content: string }).content) : '';
      if (m.role === 'tool') return `tool result: ${clip(text, toolMax)}`;
      if (m.role === 'assistant') {
        const calls = (m.tool_calls ?? []).map((c) => (c.type === 'function' ? `called ${c.function.name} ${clip(c.function.arguments, 400)}` : ''));
        return [text && `assistant: ${clip(text, 1500)}`, ...calls].filter(Boolean).join('\n');
      }
      return `${m.role}: ${clip(text, text.startsWith(COMPACTED_MARKER) ? 8000 : 2000)}`;
    });
  for (const toolMax of [1200, 400, 120]) {
    const lines = render(toolMax);
    if (lines.join('\n').length <= budgetChars) return lines.join('\n');
  }
  const lines = render(120);
  const keepFirst = lines[0]?.startsWith(`user: ${COMPACTED_MARKER}`) ? [lines.shift()!] : [];
  while (lines.length > 1 && [...keepFirst, ...lines].join('\n').length > budgetChars) lines.shift();
  return clip(['…(earlier turns left out)', ...keepFirst, ...lines].join('\n'), budgetChars);
}

export const COMPACT_SYSTEM = `You summarise the work of a coding agent so that it can go on with a shorter conversation.
Write three short sections:
1. Done: what the agent changed and checked (files, commands and their results).
2. Learned: facts about the code, errors seen, decisions made.
3. Left: what remains to finish the task.
Be concrete; keep file paths, names and error messages exact. Plain text, at most 400 words.`;

/** The summariser's request; its first user line names the role (`Role: compact m1-f1`). */
export function compactionRequest(taskId: string, head: Message[], older: Message[], windowTokens: number): Message[] {
  const task = head.filter((m) => m.role === 'user').map((m) => messageText(m)).join('\n');
  const budget = Math.max(1000, Math.floor(windowTokens * TARGET_SHARE * CHARS_PER_TOKEN) - Math.min(task.length, 4000) - COMPACT_SYSTEM.length - 400);
  return [
    { role: 'system', content: COMPACT_SYSTEM },
    {
      role: 'user',
      content: [
        `Role: compact ${taskId}`,
        '',
        'The agent was given this task:',
        clip(task, 4000),
        '',
        'Its conversation so far (the part your summary replaces):',
        renderTranscript(older, budget),
        '',
        'Write the summary.',
      ].join('\n'),
    },
  ];
}

/** The message that stands in for the older turns: says what happened, gives the summary and the files touched. */
export function compactedMessage(summary: string, replaced: number, files: string[], count: number): Message {
  return {
    role: 'user',
    content: [
      `${COMPACTED_MARKER} (${count === 1 ? 'once' : `${count} times`}): ${replaced} earlier messages were replaced by the summary below, written by a model. The task above and your latest turns are kept as they were.]`,
      '',
      'Summary of the work so far:',
      summary.trim() || '(the summariser returned nothing)',
      '',
      files.length ? `Files you have written or edited: ${files.join(', ')}` : 'You have not written or edited any file yet.',
      'If you need a detail that is no longer here, read the file again rather than guessing.',
    ].join('\n'),
  };
}

/** A task is never clipped below this: shorter than that, it would not say what to do. */
const MIN_TASK_CHARS = 1000;

/**
 * The task message (the first user message) clipped to half the window when it alone takes more: a large
 * repository listing, AGENTS.md or skills must not stop a small model. Its start (the role line, the goal)
 * and its end are kept, with a note of what was left out. Returns the same array when nothing changed.
 */
export function fitTask(messages: Message[], windowTokens: number): Message[] {
  const index = messages.findIndex((m) => m.role === 'user');
  const task = messages[index];
  if (!task || typeof task.content !== 'string') return messages;
  const headChars = messages.slice(0, index + 1).reduce((n, m) => n + messageText(m).length, 0);
  const budget = Math.max(MIN_TASK_CHARS, Math.floor(windowTokens * TARGET_SHARE * CHARS_PER_TOKEN) - (headChars - task.content.length));
  if (task.content.length <= budget) return messages;
  const keepStart = Math.floor(budget * 0.75);
  const keepEnd = Math.floor(budget * 0.2);
  const left = task.content.length - keepStart - keepEnd;
  const content = `${task.content.slice(0, keepStart)}\n…[${left} characters left out to fit the model's context window; read the repository's files for details]…\n${task.content.slice(-keepEnd)}`;
  return messages.map((m, i) => (i === index ? { ...task, content } : m));
}

/** Long tool answers among the kept turns, clipped so a compacted conversation fits (the last resort). */
export function clipToolAnswers(messages: Message[], maxChars: number): Message[] {
  return messages.map((m) => {
    if (m.role !== 'tool' || typeof m.content !== 'string' || m.content.length <= maxChars) return m;
    return { ...m, content: `${m.content.slice(0, maxChars)}\n…[cut to fit the context window: ${m.content.length - maxChars} more characters]` };
  });
}
