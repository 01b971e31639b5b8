import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { describeIssues } from '../api/issues';
import { editFileTool, listFilesTool, readFileTool, searchTool, ToolError, writeFileTool } from './file-tools';
import { ApplicationFailure } from '@temporalio/common';
import { Sandbox } from './sandbox';
import type { SkillLibrary } from './skill-library';

export { runShell, scrubEnv, type ShellResult } from './shell';
export { globToRegExp, resolveInside, ToolError } from './file-tools';

/** The agent's tools (DESIGN.md, "Model protocol"). Arguments are zod schemas; the JSON schemas sent to the model come from them. */
export const ToolArgs = {
  read_file: z.strictObject({
    path: z.string().min(1).describe('file path relative to the working directory'),
    offset: z.number().int().min(1).optional().describe('first line to read (1-based)'),
    limit: z.number().int().min(1).max(5000).optional().describe('number of lines (default 2000)'),
  }),
  write_file: z.strictObject({ path: z.string().min(1), content: z.string() }),
  edit_file: z.strictObject({
    path: z.string().min(1),
    old_string: z.string().min(1).describe('exact text to replace'),
    new_string: z.string(),
    replace_all: z.boolean().optional().describe('replace every occurrence instead of exactly one'),
  }),
  list_files: z.strictObject({
    path: z.string().optional().describe('folder to list (default: the working directory)'),
    pattern: z.string().optional().describe('glob such as **/*.ts'),
  }),
  search: z.strictObject({ pattern: z.string().min(1).describe('regular expression (RE2: no lookaround or backreferences)'), path: z.string().optional() }),
  run_command: z.strictObject({
    command: z.string().min(1).describe('bash command, run in the working directory'),
    timeoutSec: z.number().int().min(1).optional().describe('default 120, at most 1800'),
  }),
  read_skill: z.strictObject({
    name: z.string().min(1).describe('a skill named in your task'),
    file: z.string().min(1).optional().describe("another file in the skill's folder (default SKILL.md)"),
  }),
  finish: z.strictObject({ summary: z.string().min(1), status: z.enum(['done', 'blocked']) }),
} as const;

export type ToolName = keyof typeof ToolArgs;
export const TOOL_NAMES = Object.keys(ToolArgs) as ToolName[];

const DESCRIPTIONS: Record<ToolName, string> = {
  read_file: 'Read a text file; returns numbered lines.',
  write_file: 'Create or overwrite a file (parent folders are created).',
  edit_file: 'Replace old_string with new_string in a file; old_string must match exactly once unless replace_all is true.',
  list_files: 'List files (respecting .gitignore), optionally under a folder and matching a glob.',
  search: 'Search file contents with a regular expression; returns file:line: text.',
  run_command: 'Run a shell command in the working directory; returns the exit code and the tail of its output.',
  read_skill: "Read a skill (the repository's or the mission's instructions for a kind of work) by name: its SKILL.md, or another file of it.",
  finish: 'End your work with a short factual summary; status "done" or "blocked".',
};

export const TOOL_DEFINITIONS: ChatCompletionFunctionTool[] = TOOL_NAMES.map((name) => {
  const { $schema: _ignored, ...parameters } = z.toJSONSchema(ToolArgs[name], { target: 'draft-7' }) as Record<string, unknown>;
  return { type: 'function', function: { name, description: DESCRIPTIONS[name], parameters } };
});

/** The tools offered to an agent: read_skill only when the mission has skills. */
export function offeredTools(skills: boolean): ChatCompletionFunctionTool[] {
  return skills ? TOOL_DEFINITIONS : WITHOUT_SKILLS;
}
const WITHOUT_SKILLS = TOOL_DEFINITIONS.filter((t) => t.function.name !== 'read_skill');

export interface ToolContext {
  root: string;
  /** Where run_command's allowlisted variables come from (default: the worker's environment). */
  env?: NodeJS.ProcessEnv;
  /** The worker's sandbox; default: bubblewrap (or sandbox-exec on macOS) hiding nothing beyond HOME. */
  sandbox?: Sandbox;
  /** Whether run_command may use the network (the mission's `sandbox.network`). */
  network?: boolean;
  /** Variable names the repository's .mission/config.json adds to the allowlist. */
  envNames?: readonly string[];
  defaultTimeoutSec?: number;
  maxTimeoutSec?: number;
  maxOutputChars?: number;
  signal?: AbortSignal;
  onProgress?: () => void;
  /** The skills read_skill reads (loaded for that tool only). */
  skills?: SkillLibrary;
}

export interface ToolOutcome {
  ok: boolean;
  output: string;
  label: string;
  finish?: { status: 'done' | 'blocked'; summary: string };
  /** Set when the tool refused the action for safety: a short description. */
  refused?: string;
}

/** Runs one tool call. Never throws for bad input: the model gets an error text and can try again. */
export async function executeTool(ctx: ToolContext, name: string, rawArguments: string): Promise<ToolOutcome> {
  const label = toolLabel(name, rawArguments);
  const fail = (message: string): ToolOutcome => ({ ok: false, output: `error: ${message}`, label });
  if (!(name in ToolArgs)) return fail(`unknown tool "${name}"; use one of ${TOOL_NAMES.join(', ')}`);
  let json: unknown;
  try {
    json = rawArguments.trim() ? JSON.parse(rawArguments) : {};
  } catch (err) {
    return fail(`arguments of ${name} are not valid JSON (${(err as Error).message}); send a JSON object`);
  }
  const parsed = ToolArgs[name as ToolName].safeParse(json);
  if (!parsed.success) return fail(`invalid arguments for ${name}: ${describeIssues(parsed.error, ToolArgs[name as ToolName]).join('; ')}`);
  try {
    return { ok: true, label, ...(await IMPLEMENTATIONS[name as ToolName](ctx, parsed.data as never)) };
  } catch (err) {
    if (err instanceof ToolError) return { ...fail(err.message), ...(err.refused ? { refused: err.refused } : {}) };
    // Our own failures (no sandbox on this worker) are the worker's problem, not the model's.
    if (err instanceof ApplicationFailure) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail(`no such file or folder (${(err as Error).message.split(', ').pop()}); check the path with list_files`);
    if (code === 'EISDIR') return fail('that path is a folder; use list_files to see what is in it');
    return fail((err as Error).message);
  }
}

type Impl<K extends ToolName> = (ctx: ToolContext, args: z.infer<(typeof ToolArgs)[K]>) => Promise<Omit<ToolOutcome, 'ok' | 'label'>>;

const IMPLEMENTATIONS: { [K in ToolName]: Impl<K> } = {
  read_file: readFileTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  list_files: listFilesTool,
  search: searchTool,
  async run_command(ctx, args) {
    const timeoutSec = Math.min(args.timeoutSec ?? ctx.defaultTimeoutSec ?? 120, ctx.maxTimeoutSec ?? 1800);
    const sandbox = ctx.sandbox ?? new Sandbox({ env: ctx.env });
    const result = await sandbox.run({
      command: args.command,
      workdir: ctx.root,
      network: ctx.network ?? false,
      envNames: ctx.envNames,
      timeoutSec,
      maxOutputChars: ctx.maxOutputChars,
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
    const head = result.timedOut ? `timed out after ${timeoutSec}s (process group killed)` : `exit code: ${result.exitCode ?? `killed by ${result.signal}`}`;
    const output = `${head}${result.truncated ? ' (output truncated to its tail)' : ''}\n${result.output}`;
    return { output, ...(result.refused ? { refused: `run_command: ${result.refused}` } : {}) };
  },
  async read_skill(ctx, args) {
    if (!ctx.skills) throw new ToolError('this mission has no skills');
    return { output: await ctx.skills.read(args.name, args.file) };
  },
  async finish(_ctx, args) {
    return { output: `finished: ${args.status}`, finish: { status: args.status, summary: args.summary } };
  },
};

/** Short human label for logs and the Web UI, e.g. `run_command npm test`. */
export function toolLabel(name: string, rawArguments: string): string {
  let args: Record<string, unknown> = {};
  try {
    args = JSON.parse(rawArguments) as Record<string, unknown>;
  } catch {
    // label without arguments
  }
  const detail = name === 'run_command' ? args.command : name === 'finish' ? args.status : name === 'search' ? args.pattern : name === 'read_skill' ? args.name : args.path;
  const text = typeof detail === 'string' && detail ? `${name} ${detail.replace(/\s+/g, ' ')}` : name;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
