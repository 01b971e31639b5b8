import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CHARS_PER_TOKEN, DEFAULT_CONTEXT_WINDOW } from './context-window';

/**
 * Large tool outputs (a 5,000-line read_file, a noisy test run) would fill the context window in a few
 * turns. The conversation gets the head and tail with a note; the full text is kept in a file outside the
 * working tree, which the agent pages through with read_file on the `@output/…` path the note gives.
 */

export const OUTPUT_PREFIX = '@output/';

/** At most a tenth of the window per tool answer, between 2,000 and 24,000 characters. */
export function outputLimitChars(windowTokens = DEFAULT_CONTEXT_WINDOW): number {
  return Math.min(24_000, Math.max(2_000, Math.floor(windowTokens * CHARS_PER_TOKEN * 0.1)));
}

/** Head and tail of `output` within `limit` characters, with a note saying where the whole text is. */
export function cutOutput(output: string, limit: number, savedAs: string): string {
  const lines = output.split('\n').length;
  const headChars = Math.floor(limit * 0.6);
  const tailChars = Math.floor(limit * 0.3);
  const head = output.slice(0, headChars);
  const tail = output.slice(output.length - tailChars);
  const note =
    `[output cut: ${output.length} characters (${lines} lines) in all; the first ${headChars} and the last ${tailChars} are shown. ` +
    `The full output is saved: page through it with read_file {"path": "${savedAs}", "offset": 1, "limit": 100}]`;
  return `${head}\n…\n${note}\n…\n${tail}`;
}

/** Where a session's saved outputs live, and the `@output/` name of one of them. */
export function savedOutputName(callId: string): string {
  return `${OUTPUT_PREFIX}${callId.replace(/[^A-Za-z0-9_-]/g, '_')}.txt`;
}

export async function saveOutput(dir: string, name: string, output: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, name.slice(OUTPUT_PREFIX.length)), output);
}

/** A read_file call on a saved output: its arguments rewritten to the file in `dir`; undefined for any other call. */
export function savedOutputRead(name: string, rawArgs: string): string | undefined {
  if (name !== 'read_file') return undefined;
  let args: unknown;
  try {
    args = JSON.parse(rawArgs);
  } catch {
    return undefined;
  }
  if (typeof args !== 'object' || args === null || typeof (args as { path?: unknown }).path !== 'string') return undefined;
  const target = (args as { path: string }).path;
  if (!target.startsWith(OUTPUT_PREFIX)) return undefined;
  return JSON.stringify({ ...args, path: target.slice(OUTPUT_PREFIX.length) });
}
