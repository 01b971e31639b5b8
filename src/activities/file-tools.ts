import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { RE2JS } from 're2js';
import type { z } from 'zod';
import { GitCommandError, gitProcess } from './git-process';
import type { ToolArgs, ToolContext, ToolOutcome } from './tools';

/**
 * The agent's file tools (read_file, write_file, edit_file, list_files, search), confined to one working directory.
 *
 * The path check alone (resolveInside) is not enough: an agent also runs commands in that directory, so between
 * the check and the open it can swap a file for a symlink to ~/.ssh/id_rsa, or make a hard link to it. So a file is
 * opened without following a final symlink, and what was OPENED is checked: a regular file, one link only, and its
 * real path (from the open descriptor, not from the path string) inside the working directory and outside .git.
 * Reads are capped before anything is read, and search uses a linear-time regular expression engine (RE2), in
 * slices that let the worker's event loop run, so a pattern cannot stall every other agent on the worker.
 */

/** A refusal the model should read and act on; `refused` marks a refusal for safety (shown in status and report). */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly refused?: string,
  ) {
    super(message);
  }
}

type Result = Omit<ToolOutcome, 'ok' | 'label'>;
type Args<K extends keyof typeof ToolArgs> = z.infer<(typeof ToolArgs)[K]>;

/** read_file and edit_file refuse larger files (checked with fstat before reading; reads stop there even if the file grows). */
export const MAX_READ_BYTES = 5 * 1024 * 1024;
const MAX_LIST = 500;
const MAX_MATCHES = 200;
const MAX_SEARCH_BYTES = 1_000_000;
/** Search works through this much text, then lets the event loop run. */
const SEARCH_SLICE_CHARS = 64 * 1024;
const SEARCH_DEADLINE_MS = 20_000;

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// A FIFO planted under a file name would block the open (and a thread of libuv's pool) forever.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

export async function readFileTool(ctx: ToolContext, args: Args<'read_file'>): Promise<Result> {
  const buffer = await withOpened(ctx.root, args.path, 'read', (handle, stat) => readCapped(handle, stat, args.path));
  if (buffer.includes(0)) throw new ToolError(`${args.path} is a binary file`);
  const lines = buffer.toString('utf8').split('\n');
  const start = (args.offset ?? 1) - 1;
  const slice = lines.slice(start, start + (args.limit ?? 2000));
  const numbered = slice.map((line, i) => `${String(start + i + 1).padStart(6)}\t${line.length > 2000 ? `${line.slice(0, 2000)}…` : line}`);
  const more = start + slice.length < lines.length ? `\n(${lines.length} lines in all; read on with offset ${start + slice.length + 1})` : '';
  return { output: (numbered.join('\n') || '(empty file)') + more };
}

export async function writeFileTool(ctx: ToolContext, args: Args<'write_file'>): Promise<Result> {
  await withOpened(ctx.root, args.path, 'write', (handle) => replaceContent(handle, args.content));
  return { output: `wrote ${Buffer.byteLength(args.content)} bytes to ${args.path}` };
}

export async function editFileTool(ctx: ToolContext, args: Args<'edit_file'>): Promise<Result> {
  if (args.old_string === args.new_string) throw new ToolError('old_string and new_string are the same; nothing to change');
  const count = await withOpened(ctx.root, args.path, 'edit', async (handle, stat) => {
    const text = (await readCapped(handle, stat, args.path)).toString('utf8');
    const found = text.split(args.old_string).length - 1;
    if (found === 0) throw new ToolError(`old_string was not found in ${args.path}; read the file and copy the text exactly`);
    if (found > 1 && !args.replace_all) {
      throw new ToolError(`old_string matches ${found} times in ${args.path}; add surrounding context to make it unique, or set replace_all`);
    }
    await replaceContent(handle, args.replace_all ? text.split(args.old_string).join(args.new_string) : text.replace(args.old_string, () => args.new_string));
    return found;
  });
  return { output: `replaced ${args.replace_all ? count : 1} occurrence(s) in ${args.path}` };
}

export async function listFilesTool(ctx: ToolContext, args: Args<'list_files'>): Promise<Result> {
  const files = await listFiles(ctx.root, args.path, args.pattern);
  if (!files.length) return { output: 'no files match' };
  const shown = files.slice(0, MAX_LIST);
  return { output: shown.join('\n') + (files.length > MAX_LIST ? `\n... and ${files.length - MAX_LIST} more` : '') };
}

export async function searchTool(ctx: ToolContext, args: Args<'search'>): Promise<Result> {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(RE2JS.translateRegExp(args.pattern));
  } catch (err) {
    throw new ToolError(`pattern is not a valid regular expression (RE2 syntax: no lookaround, no backreferences): ${(err as Error).message}`);
  }
  const matches: string[] = [];
  const deadline = Date.now() + SEARCH_DEADLINE_MS;
  let sinceYield = 0;
  let stopped = '';
  for (const file of await listFiles(ctx.root, args.path)) {
    // Files that are not plain, single-link files inside the tree (or are too big) are skipped, not read.
    const buffer = await withOpened(ctx.root, file, 'read', async (handle, stat) => (stat.size > MAX_SEARCH_BYTES ? undefined : readCapped(handle, stat, file))).catch(() => undefined);
    if (!buffer || buffer.includes(0)) continue;
    const lines = buffer.toString('utf8').split('\n');
    for (let i = 0; i < lines.length && matches.length <= MAX_MATCHES; i++) {
      const line = lines[i]!;
      if (regex.test(line)) matches.push(`${file}:${i + 1}: ${line.slice(0, 300)}`);
      sinceYield += line.length + 1;
      if (sinceYield >= SEARCH_SLICE_CHARS) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
        if (Date.now() > deadline) {
          stopped = `\n(search stopped after ${SEARCH_DEADLINE_MS / 1000}s at ${file}; narrow the path or pattern)`;
          break;
        }
      }
    }
    if (matches.length > MAX_MATCHES || stopped) break;
  }
  if (!matches.length) return { output: `no matches${stopped}` };
  const more = matches.length > MAX_MATCHES ? `\n(more than ${MAX_MATCHES} matches; narrow the pattern or path)` : '';
  return { output: matches.slice(0, MAX_MATCHES).join('\n') + more + stopped };
}

/** Names git treats as its own folder on some file system: `.git` in any case, `.git.`/`.git ` (NTFS), `git~1` (8.3 names), with HFS+'s ignored characters removed. */
export function isGitName(name: string): boolean {
  const plain = name.replace(/[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g, '').toLowerCase();
  return /^\.git[. ]*$/.test(plain) || /^git~\d+$/.test(plain);
}

const hasGitPart = (rel: string) => rel.split(/[\\/]/).some(isGitName);

/**
 * The absolute path of `relPath` inside `root`, or a ToolError: absolute paths, `..` escapes,
 * symlinks that lead outside, and git internals (`.git`, in any case) are refused. A check of the path only:
 * withOpened checks what is actually opened.
 */
export async function resolveInside(root: string, relPath: string): Promise<string> {
  if (path.isAbsolute(relPath)) throw new ToolError(`path "${relPath}" is absolute; use a path relative to the working directory`);
  const target = path.resolve(root, relPath);
  const rel = path.relative(root, target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ToolError(`path "${relPath}" is outside the working directory; use a path relative to it`, 'path outside the working directory');
  }
  if (hasGitPart(rel)) throw new ToolError(`path "${relPath}" is inside .git; git internals are off limits`, 'path inside .git');
  const realRoot = await fs.realpath(root);
  let existing = target;
  while (!(await exists(existing))) existing = path.dirname(existing);
  const real = await fs.realpath(existing);
  if (!isWithin(realRoot, real)) {
    throw new ToolError(`path "${relPath}" leads outside the working directory through a symlink`, 'symlink out of the working directory');
  }
  if (hasGitPart(path.relative(realRoot, real))) {
    throw new ToolError(`path "${relPath}" leads into .git through a symlink; git internals are off limits`, 'symlink into .git');
  }
  return target;
}

type Mode = 'read' | 'write' | 'edit';

/**
 * Opens `relPath` and runs `use` on it once the OPENED file is known to be safe: a regular file (no FIFO, device or
 * folder), not a symlink (O_NOFOLLOW), one hard link only, and really inside the working directory and outside .git
 * (the path the descriptor has, /proc/self/fd on Linux; elsewhere the real path must still be the same file). A file
 * that write_file creates is created exclusively; if it turns out to be outside (a folder swapped for a symlink in
 * between), it is removed again before anything is written.
 */
async function withOpened<T>(root: string, relPath: string, mode: Mode, use: (handle: fs.FileHandle, stat: Stats) => Promise<T>): Promise<T> {
  const checked = await resolveInside(root, relPath);
  const realRoot = await fs.realpath(root);
  if (mode === 'write') await makeParents(realRoot, root, path.dirname(checked), relPath);
  // A symlink that stays inside the tree is opened at its real location (what the path check saw); the open still
  // follows no final symlink, and what it opened is checked below.
  const target = await fs.realpath(checked).catch(() => checked);
  const flags = (mode === 'read' ? constants.O_RDONLY : constants.O_RDWR) | O_NOFOLLOW | O_NONBLOCK;
  let handle: fs.FileHandle;
  let created = false;
  try {
    handle = await fs.open(target, mode === 'write' ? flags | constants.O_CREAT | constants.O_EXCL : flags);
    created = mode === 'write';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (mode === 'write' && code === 'EEXIST') handle = await fs.open(target, flags).catch(refuseSymlink(relPath));
    else throw refuseSymlink(relPath)(err);
  }
  try {
    const stat = await handle.stat();
    const real = await openedPath(handle, target, stat);
    if (!real || !isWithin(realRoot, real) || hasGitPart(path.relative(realRoot, real))) {
      if (created && real) await fs.rm(real, { force: true });
      throw new ToolError(`path "${relPath}" changed while it was opened and now leads outside the working directory (a symlink swapped in); refused`, 'file swapped for a link out of the working directory');
    }
    if (stat.isDirectory()) throw Object.assign(new Error('that path is a folder'), { code: 'EISDIR' });
    if (!stat.isFile()) throw new ToolError(`${relPath} is not a regular file (a FIFO, socket or device); refused`, 'not a regular file');
    if (stat.nlink > 1) {
      throw new ToolError(`${relPath} has ${stat.nlink} hard links; files with more than one link are refused (it may be a link to a file outside the working directory)`, 'hard-linked file');
    }
    return await use(handle, stat);
  } finally {
    await handle.close();
  }
}

/** The real path of the file behind an open descriptor, or undefined when it cannot be established. */
async function openedPath(handle: fs.FileHandle, target: string, stat: Stats): Promise<string | undefined> {
  if (process.platform === 'linux') {
    const link = await fs.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    if (link !== undefined) return link.endsWith(' (deleted)') ? undefined : link;
  }
  // Elsewhere: the path's real location must still be the very file that was opened (same device and inode).
  const real = await fs.realpath(target).catch(() => undefined);
  const now = real ? await fs.lstat(real).catch(() => undefined) : undefined;
  return now && now.ino === stat.ino && now.dev === stat.dev ? real : undefined;
}

/** Creates missing parent folders one at a time, each checked to be inside the tree once made (one made outside is removed). */
async function makeParents(realRoot: string, root: string, dir: string, relPath: string): Promise<void> {
  const missing: string[] = [];
  let current = dir;
  while (!(await exists(current)) && isWithin(path.resolve(root), current)) {
    missing.unshift(current);
    current = path.dirname(current);
  }
  for (const folder of missing) {
    await fs.mkdir(folder).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    const real = await fs.realpath(folder);
    if (!isWithin(realRoot, real) || hasGitPart(path.relative(realRoot, real))) {
      await fs.rmdir(real).catch(() => undefined);
      throw new ToolError(`path "${relPath}" leads outside the working directory through a symlink`, 'symlink out of the working directory');
    }
  }
}

const refuseSymlink = (relPath: string) => (err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  // O_NOFOLLOW on a symlink: ELOOP on Linux and macOS, EMLINK on FreeBSD.
  if (code === 'ELOOP' || code === 'EMLINK') {
    throw new ToolError(`${relPath} is a symlink; read or write the file it points to by its own path`, 'symlink');
  }
  throw err;
};

/** At most MAX_READ_BYTES, decided by fstat before reading; a file that grows meanwhile is read up to its size then. */
async function readCapped(handle: fs.FileHandle, stat: Stats, relPath: string): Promise<Buffer> {
  if (stat.size > MAX_READ_BYTES) {
    throw new ToolError(`${relPath} is ${(stat.size / 1024 / 1024).toFixed(1)} MB; files over ${MAX_READ_BYTES / 1024 / 1024} MB are not read (use run_command with head, tail or grep)`, 'file too large');
  }
  const buffer = Buffer.alloc(stat.size);
  let read = 0;
  while (read < buffer.length) {
    const { bytesRead } = await handle.read(buffer, read, buffer.length - read, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return buffer.subarray(0, read);
}

async function replaceContent(handle: fs.FileHandle, content: string): Promise<void> {
  await handle.truncate(0);
  await handle.write(Buffer.from(content), 0, undefined, 0);
}

function isWithin(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot + path.sep);
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Files under `sub` (relative to root, `/`-separated): git's view when in a work tree (respects .gitignore), else a
 * walk. git runs through Mission's git helper, with the same immunity as every other git command (git-safety.ts).
 */
async function listFiles(root: string, sub = '.', pattern?: string): Promise<string[]> {
  const base = await resolveInside(root, sub || '.');
  const prefix = path.relative(root, base).split(path.sep).join('/');
  let files: string[];
  try {
    const listed = (await gitProcess.raw(root, ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', prefix || '.'])).split('\0').filter(Boolean);
    files = (await Promise.all(listed.map(async (f) => ((await exists(path.join(root, f))) ? f : undefined)))).filter((f): f is string => !!f);
  } catch (err) {
    if (!(err instanceof GitCommandError)) throw err;
    files = await walk(root, base);
  }
  files = files.filter((f) => !hasGitPart(f));
  if (!pattern) return files.sort();
  const matcher = globMatcher(pattern);
  return files.filter((f) => matcher(f) || (!pattern.includes('/') && matcher(path.posix.basename(f)))).sort();
}

async function walk(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (isGitName(entry.name) || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(root, full)));
    else out.push(path.relative(root, full).split(path.sep).join('/'));
  }
  return out;
}

/** A glob as picomatch reads it (`**` any depth, `*`, `?`, `{a,b}`, `[abc]`), dotfiles included. */
export function globMatcher(glob: string): (file: string) => boolean {
  return picomatch(glob, { dot: true });
}

/** The glob as a regular expression (kept for callers of the old hand-rolled version). */
export function globToRegExp(glob: string): RegExp {
  return picomatch.makeRe(glob, { dot: true });
}
