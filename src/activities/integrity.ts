import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missionFailure } from '../api/errors';
import { Git } from './gitcore';

/**
 * The after-step check of the user's repository (issue 12, item 3). A command an agent runs could move the user's
 * branches, plant a hook or a line of config in the shared .git, or write into the user's checkout; the sandbox
 * blocks that, and this check makes sure of it (and catches it when the worker runs without one). Before each
 * command Mission takes a snapshot, after it takes another, and any difference fails the agent with REPO_TAMPERED,
 * naming what changed.
 *
 * What the snapshot holds, and why that is enough:
 * - every ref (for-each-ref: loose and packed, tags, notes, replace refs, stash) except the branches of missions,
 *   which Mission's own steps move while other agents work; the agent's OWN branch is kept: nothing but Mission
 *   moves it, and Mission does not during a tool call;
 * - HEAD of the user's checkout (the file, so a switch to another branch shows);
 * - the HEAD of the agent's own worktree (an agent that commits or checks out another branch there);
 * - the effective git config as the agent's worktree sees it, with the file each value comes from (system,
 *   global, the repository's, worktree config and anything they include), so a planted core.fsmonitor, filter,
 *   alias or include shows, wherever it was written;
 * - the hooks folder (the repository's, and the one core.hooksPath names) and .git/info (attributes, exclude,
 *   grafts): names, sizes, modes and content hashes;
 * - the user's checkout: `git status` (untracked files one by one) plus the size and mtime of every file it lists,
 *   so a write to a tracked file shows in the status and a write to an already modified or untracked file shows in
 *   its mtime. Ignored files (node_modules, build output) are not looked at: walking them would cost more than
 *   the command; the sandbox keeps the checkout read-only for that.
 *
 * Each snapshot is five git commands through the git helper (run side by side) and a few small reads: a few
 * milliseconds (measured in test/integrity.test.ts), next to a command that takes tens of milliseconds at least.
 */

export interface RepoSnapshot {
  refs: Record<string, string>;
  head: string;
  worktreeHead: string;
  /** Every worktree of the repository and the branch it is on (its commit moves with Mission's steps; its branch must not). */
  worktrees: Record<string, string>;
  config: string[];
  files: Record<string, string>;
  status: Record<string, string>;
}

export interface SnapshotScope {
  /** The user's repository (its checkout). */
  repo: string;
  /** The agent's working directory (a worktree of `repo`). */
  workdir: string;
  /** The mission's key: branches `mission/<key>` and `mission/<key>-*` belong to Mission's own steps. */
  missionKey: string;
  /** The branch the agent works on: it must not move during a tool call. */
  branch?: string;
}

export async function snapshotRepo(scope: SnapshotScope): Promise<RepoSnapshot> {
  const repo = new Git(scope.repo);
  const work = new Git(scope.workdir);
  const [commonDir, refs, config, status, worktreeHead, worktrees] = await Promise.all([
    repo.run(['rev-parse', '--git-common-dir']).then((dir) => path.resolve(scope.repo, dir)),
    repo.run(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(symref)']),
    work.run(['config', '--list', '--show-origin', '-z']),
    repo.run(['status', '--porcelain=v2', '-z', '--untracked-files=all', '--ignore-submodules=none']),
    work.run(['rev-parse', 'HEAD', '--symbolic-full-name', 'HEAD']).then((out) => out.split('\n').reverse().join(' at '), () => '(no HEAD)'),
    repo.run(['worktree', 'list', '--porcelain']),
  ]);
  const refMap: Record<string, string> = {};
  for (const line of refs.split('\n').filter(Boolean)) {
    const [name, object, symref] = line.split('\0');
    if (name && !isMissionRef(name, scope)) refMap[name] = symref ? `-> ${symref}` : object!;
  }
  const configEntries = config.split('\0').slice(0, -1);
  const hooksPath = configEntries.map((e) => /^core\.hookspath\n(.*)$/is.exec(e)?.[1]).filter(Boolean).at(-1);
  const files: Record<string, string> = {
    HEAD: await readOrMissing(path.join(commonDir, 'HEAD')),
    ...(await folderDigest(path.join(commonDir, 'hooks'), '.git/hooks')),
    ...(await folderDigest(path.join(commonDir, 'info'), '.git/info')),
    ...(hooksPath ? await folderDigest(path.resolve(scope.repo, hooksPath.replace(/^~(?=\/)/, process.env.HOME ?? '~')), `core.hooksPath ${hooksPath}`) : {}),
  };
  return {
    refs: refMap,
    head: files.HEAD!,
    worktreeHead,
    worktrees: worktreeBranches(worktrees),
    config: pairOrigins(configEntries),
    files,
    status: await statusDigest(scope.repo, status),
  };
}

/** What changed between two snapshots, in words; empty when nothing did. */
export function compareSnapshots(before: RepoSnapshot, after: RepoSnapshot): string[] {
  const changes: string[] = [];
  for (const name of new Set([...Object.keys(before.refs), ...Object.keys(after.refs)])) {
    const [a, b] = [before.refs[name], after.refs[name]];
    if (a === b) continue;
    if (!a) changes.push(`ref ${name} was created (${short(b!)})`);
    else if (!b) changes.push(`ref ${name} was deleted (was ${short(a)})`);
    else changes.push(`ref ${name} moved from ${short(a)} to ${short(b)}`);
  }
  if (before.head !== after.head) changes.push(`HEAD of the user's checkout changed from "${before.head.trim()}" to "${after.head.trim()}"`);
  if (before.worktreeHead !== after.worktreeHead) {
    changes.push(`the agent's worktree HEAD changed from ${before.worktreeHead} to ${after.worktreeHead} (Mission commits; agents must not)`);
  }
  for (const [dir, branch] of Object.entries(before.worktrees)) {
    const now = after.worktrees[dir];
    if (now !== undefined && now !== branch) changes.push(`worktree ${dir} was switched from ${branch} to ${now}`);
  }
  const [addedConfig, removedConfig] = [after.config.filter((c) => !before.config.includes(c)), before.config.filter((c) => !after.config.includes(c))];
  for (const c of addedConfig) changes.push(`git config gained ${c}`);
  for (const c of removedConfig) changes.push(`git config lost ${c}`);
  for (const file of new Set([...Object.keys(before.files), ...Object.keys(after.files)])) {
    if (file === 'HEAD' || before.files[file] === after.files[file]) continue;
    changes.push(`${file} was ${!before.files[file] ? 'added' : !after.files[file] ? 'removed' : 'changed'}`);
  }
  for (const file of new Set([...Object.keys(before.status), ...Object.keys(after.status)])) {
    if (before.status[file] === after.status[file]) continue;
    changes.push(`the user's checkout: ${file} was written (${before.status[file] ?? 'clean'} -> ${after.status[file] ?? 'clean'})`);
  }
  return changes;
}

/** Fails the agent step when the repository changed: non-retryable, naming what changed (the first few). */
export function assertUnchanged(repo: string, before: RepoSnapshot, after: RepoSnapshot, what: string): void {
  const changes = compareSnapshots(before, after);
  if (!changes.length) return;
  const shown = changes.slice(0, 8).join('; ') + (changes.length > 8 ? `; and ${changes.length - 8} more` : '');
  throw missionFailure(
    'REPO_TAMPERED',
    `${what} changed the user's repository ${repo}: ${shown}. Agents may only change files in their own worktree; ` +
      'inspect the repository (git reflog, git config --list --show-origin, .git/hooks) before using it again. ' +
      '(A change you made yourself at that very moment is reported the same way.)',
  );
}

function isMissionRef(name: string, scope: SnapshotScope): boolean {
  if (scope.branch && name === `refs/heads/${scope.branch}`) return false;
  // Every mission's branches: this mission's other features commit and merge while this agent works, and other
  // missions on the same repository do the same.
  return name.startsWith('refs/heads/mission/');
}

function worktreeBranches(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current: string | undefined;
  for (const line of list.split('\n')) {
    if (line.startsWith('worktree ')) out[(current = line.slice('worktree '.length))] = '(detached)';
    else if (current && line.startsWith('branch ')) out[current] = line.slice('branch '.length);
  }
  return out;
}

function pairOrigins(entries: string[]): string[] {
  // -z --show-origin prints origin NUL key LF value NUL.
  const pairs: string[] = [];
  for (let i = 0; i + 1 < entries.length; i += 2) {
    // Mission's own settings (git-safety.ts) are the same in every snapshot, and not the repository's.
    if (entries[i] === 'command line:') continue;
    const [key, ...value] = entries[i + 1]!.split('\n');
    pairs.push(`${key}=${value.join('\n')} (${entries[i]})`);
  }
  return pairs;
}

async function statusDigest(repo: string, status: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = status.split('\0').filter(Boolean);
  for (let i = 0; i < entries.length; i++) {
    // porcelain v2: "1 XY <6 fields> path", "2 XY <7 fields> path" + NUL origPath, "u XY <8 fields> path", "? path".
    const entry = entries[i]!;
    const fields = { '1': 8, '2': 9, u: 10, '?': 1, '!': 1 }[entry[0]!] ?? 1;
    const parts = entry.split(' ');
    const file = parts.slice(fields).join(' ');
    const code = entry[0] === '?' ? '??' : parts[1]!;
    if (entry[0] === '2') i++; // the rename's source follows
    const stat = await fs.lstat(path.join(repo, file)).catch(() => undefined);
    out[file] = `${code} ${stat ? `${stat.size}b ${stat.mtimeMs}` : 'gone'}`;
  }
  return out;
}

async function folderDigest(dir: string, label: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, await folderDigest(full, `${label}/${entry.name}`));
    else {
      const stat = await fs.lstat(full).catch(() => undefined);
      const content = entry.isSymbolicLink() ? await fs.readlink(full).catch(() => '') : await fs.readFile(full).catch(() => Buffer.alloc(0));
      out[`${label}/${entry.name}`] = `${stat?.mode ?? 0} ${createHash('sha1').update(content).digest('hex')}`;
    }
  }
  return out;
}

async function readOrMissing(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '(missing)');
}

const short = (value: string) => (value.startsWith('-> ') ? value : value.slice(0, 8));
