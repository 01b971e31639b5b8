import { execFile } from 'node:child_process';
import { ApplicationFailure } from '@temporalio/common';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { describeIssues } from '../api/issues';
import { Sandbox } from './sandbox';

export { runShell, scrubEnv, type ShellResult } from './shell';

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
  search: z.strictObject({ pattern: z.string().min(1).describe('JavaScript regular expression'), path: z.string().optional() }),
  run_command: z.strictObject({
    command: z.string().min(1).describe('bash command, run in the working directory'),
    timeoutSec: z.number().int().min(1).optional().describe('default 120, at most 1800'),
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
  finish: 'End your work with a short factual summary; status "done" or "blocked".',
};

export const TOOL_DEFINITIONS: ChatCompletionFunctionTool[] = TOOL_NAMES.map((name) => {
  const { $schema: _ignored, ...parameters } = z.toJSONSchema(ToolArgs[name], { target: 'draft-7' }) as Record<string, unknown>;
  return { type: 'function', function: { name, description: DESCRIPTIONS[name], parameters } };
});

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
}

export interface ToolOutcome {
  ok: boolean;
  output: string;
  label: string;
  finish?: { status: 'done' | 'blocked'; summary: string };
  /** Set when the action was refused for safety (a tool's check, or the sandbox stopping the command). */
  refused?: string;
}

/** A refusal the model should read and act on. */
export class ToolError extends Error {}

const MAX_LIST = 500;
const MAX_MATCHES = 200;
const MAX_SEARCH_BYTES = 1_000_000;
const run = promisify(execFile);

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
    if (err instanceof ToolError) return fail(err.message);
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
  async read_file(ctx, args) {
    const file = await resolveInside(ctx.root, args.path);
    const buffer = await fs.readFile(file);
    if (buffer.includes(0)) throw new ToolError(`${args.path} is a binary file`);
    const lines = buffer.toString('utf8').split('\n');
    const start = (args.offset ?? 1) - 1;
    const slice = lines.slice(start, start + (args.limit ?? 2000));
    const numbered = slice.map((line, i) => `${String(start + i + 1).padStart(6)}\t${line.length > 2000 ? `${line.slice(0, 2000)}…` : line}`);
    const more = start + slice.length < lines.length ? `\n(${lines.length} lines in all; read on with offset ${start + slice.length + 1})` : '';
    return { output: (numbered.join('\n') || '(empty file)') + more };
  },
  async write_file(ctx, args) {
    const file = await resolveInside(ctx.root, args.path);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, args.content);
    return { output: `wrote ${Buffer.byteLength(args.content)} bytes to ${args.path}` };
  },
  async edit_file(ctx, args) {
    const file = await resolveInside(ctx.root, args.path);
    if (args.old_string === args.new_string) throw new ToolError('old_string and new_string are the same; nothing to change');
    const text = await fs.readFile(file, 'utf8');
    const count = text.split(args.old_string).length - 1;
    if (count === 0) throw new ToolError(`old_string was not found in ${args.path}; read the file and copy the text exactly`);
    if (count > 1 && !args.replace_all) {
      throw new ToolError(`old_string matches ${count} times in ${args.path}; add surrounding context to make it unique, or set replace_all`);
    }
    await fs.writeFile(file, args.replace_all ? text.split(args.old_string).join(args.new_string) : text.replace(args.old_string, () => args.new_string));
    return { output: `replaced ${args.replace_all ? count : 1} occurrence(s) in ${args.path}` };
  },
  async list_files(ctx, args) {
    const files = await listFiles(ctx.root, args.path, args.pattern);
    if (!files.length) return { output: 'no files match' };
    const shown = files.slice(0, MAX_LIST);
    return { output: shown.join('\n') + (files.length > MAX_LIST ? `\n... and ${files.length - MAX_LIST} more` : '') };
  },
  async search(ctx, args) {
    let regex: RegExp;
    try {
      regex = new RegExp(args.pattern);
    } catch (err) {
      throw new ToolError(`pattern is not a valid regular expression: ${(err as Error).message}`);
    }
    const matches: string[] = [];
    for (const file of await listFiles(ctx.root, args.path)) {
      const abs = path.join(ctx.root, file);
      const stat = await fs.lstat(abs).catch(() => undefined); // lstat: never follow a symlink out of the tree
      if (!stat?.isFile() || stat.size > MAX_SEARCH_BYTES) continue;
      const buffer = await fs.readFile(abs);
      if (buffer.includes(0)) continue;
      buffer
        .toString('utf8')
        .split('\n')
        .forEach((line, i) => {
          if (matches.length <= MAX_MATCHES && regex.test(line)) matches.push(`${file}:${i + 1}: ${line.slice(0, 300)}`);
        });
      if (matches.length > MAX_MATCHES) break;
    }
    if (!matches.length) return { output: 'no matches' };
    return { output: matches.slice(0, MAX_MATCHES).join('\n') + (matches.length > MAX_MATCHES ? `\n(more than ${MAX_MATCHES} matches; narrow the pattern or path)` : '') };
  },
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
  const detail = name === 'run_command' ? args.command : name === 'finish' ? args.status : name === 'search' ? args.pattern : args.path;
  const text = typeof detail === 'string' && detail ? `${name} ${detail.replace(/\s+/g, ' ')}` : name;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/**
 * The absolute path of `relPath` inside `root`, or a ToolError: absolute paths, `..` escapes,
 * symlinks that lead outside, and git internals (`.git`) are refused.
 */
export async function resolveInside(root: string, relPath: string): Promise<string> {
  if (path.isAbsolute(relPath)) throw new ToolError(`path "${relPath}" is absolute; use a path relative to the working directory`);
  const target = path.resolve(root, relPath);
  const rel = path.relative(root, target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ToolError(`path "${relPath}" is outside the working directory; use a path relative to it`);
  }
  if (rel.split(path.sep).includes('.git')) throw new ToolError(`path "${relPath}" is inside .git; git internals are off limits`);
  const realRoot = await fs.realpath(root);
  let existing = target;
  while (!(await exists(existing))) existing = path.dirname(existing);
  const real = await fs.realpath(existing);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new ToolError(`path "${relPath}" leads outside the working directory through a symlink`);
  }
  if (path.relative(realRoot, real).split(path.sep).includes('.git')) {
    throw new ToolError(`path "${relPath}" leads into .git through a symlink; git internals are off limits`);
  }
  return target;
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/** Files under `sub` (relative to root, `/`-separated): git's view when in a work tree (respects .gitignore), else a walk. */
async function listFiles(root: string, sub = '.', pattern?: string): Promise<string[]> {
  const base = await resolveInside(root, sub || '.');
  const prefix = path.relative(root, base).split(path.sep).join('/');
  let files: string[];
  try {
    const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', prefix || '.'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    const listed = stdout.split('\0').filter(Boolean);
    files = (await Promise.all(listed.map(async (f) => ((await exists(path.join(root, f))) ? f : undefined)))).filter((f): f is string => !!f);
  } catch {
    files = await walk(root, base);
  }
  const matcher = pattern ? globToRegExp(pattern) : undefined;
  return files.filter((f) => !matcher || matcher.test(f) || (!pattern!.includes('/') && matcher.test(path.posix.basename(f)))).sort();
}

async function walk(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.git' || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(root, full)));
    else out.push(path.relative(root, full).split(path.sep).join('/'));
  }
  return out;
}

/** `**` any depth, `*` and `?` within a segment, `{a,b}` alternatives. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') re += '(?:';
    else if (c === '}') re += ')';
    else if (c === ',' && glob.lastIndexOf('{', i) > glob.lastIndexOf('}', i)) re += '|';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
