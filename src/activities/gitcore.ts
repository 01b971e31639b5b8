import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missionFailure } from '../api/errors';
import { GitCommandError, gitProcess } from './git-process';

/** The trailer that marks which mission step made a commit; it makes commits idempotent. */
export const STEP_TRAILER = 'Mission-Step';

/**
 * git's own answers when another process holds one of its locks (index.lock, a ref's lock, config.lock) or is half way
 * through adding a worktree: a race, not a broken repository, so the step is retried.
 */
const LOCK_RACE = /\.lock': File exists|could not lock|cannot lock ref|Unable to create '[^']*\.lock'|failed to read [^\n]*\/worktrees\/[^\n]*\/commondir/i;

const FALLBACK_IDENTITY = ['-c', 'user.name=Mission', '-c', 'user.email=mission@localhost'];

/**
 * git in one directory, always through argument arrays (never a shell string), run in the helper process
 * (git-process.ts) so that spawning git never blocks the worker, with the settings that keep hooks, fsmonitor and
 * drivers an agent may have planted from running (git-safety.ts).
 */
export class Git {
  constructor(readonly dir: string) {}

  /** stdout; a command that fails throws GIT_FAILED (non-retryable), a helper that died a retryable error. */
  async run(args: string[]): Promise<string> {
    try {
      return (await gitProcess.raw(this.dir, args)).trim();
    } catch (err) {
      if (!(err instanceof GitCommandError)) throw err;
      if (LOCK_RACE.test(err.message)) throw missionFailure('GIT_LOCKED', `git ${args.join(' ')} in ${this.dir} met another process's lock: ${err.message.trim()}; the step is retried`);
      throw missionFailure('GIT_FAILED', `git ${args.join(' ')} failed in ${this.dir}: ${err.message.trim()}`);
    }
  }

  /** stdout, or undefined when the command failed (for commands whose exit code is the answer); a dead helper still throws. */
  async attempt(args: string[]): Promise<string | undefined> {
    try {
      return (await gitProcess.raw(this.dir, args)).trim();
    } catch (err) {
      if (err instanceof GitCommandError) return undefined;
      throw err;
    }
  }

  async succeeds(args: string[]): Promise<boolean> {
    return (await this.attempt(args)) !== undefined;
  }

  head(): Promise<string> {
    return this.run(['rev-parse', 'HEAD']);
  }

  async resolveCommit(ref: string): Promise<string | undefined> {
    return (await this.attempt(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])) || undefined;
  }

  branchExists(branch: string): Promise<boolean> {
    return this.succeeds(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`]);
  }

  isAncestor(ancestor: string, of: string): Promise<boolean> {
    return this.succeeds(['merge-base', '--is-ancestor', ancestor, of]);
  }

  async isClean(): Promise<boolean> {
    return (await this.run(['status', '--porcelain'])) === '';
  }

  /** Identity flags when the repository has none configured, so commits never fail on a fresh machine. */
  async identityArgs(): Promise<string[]> {
    return (await this.attempt(['config', '--get', 'user.email'])) ? [] : FALLBACK_IDENTITY;
  }

  /** Commit created for `step` in since..HEAD, if any. */
  async findStepCommit(step: string, since: string): Promise<string | undefined> {
    // rev-list, not log: it reads commits only (one git process, no driver scan before it). Older git prints a
    // `commit <sha>` line before each formatted one: skipped.
    const log = await this.run(['rev-list', `--format=%H%x09%(trailers:key=${STEP_TRAILER},valueonly,separator=%x2C)`, `${since}..HEAD`]);
    for (const line of log.split('\n')) {
      if (!line.includes('\t')) continue;
      const [sha, values] = line.split('\t');
      if (sha && values?.split(',').some((v) => v.trim() === step)) return sha;
    }
    return undefined;
  }

  /**
   * Mission only ever commits and merges on its own branches (`mission/...`). A worktree whose HEAD points anywhere
   * else was tampered with (an agent without a sandbox can rewrite a worktree's HEAD file): refuse, before git
   * writes anything, rather than commit a feature's work on the user's branch.
   */
  async requireMissionBranch(): Promise<void> {
    const ref = (await this.attempt(['symbolic-ref', '-q', 'HEAD'])) || '(a detached HEAD)';
    if (ref.startsWith('refs/heads/mission/')) return;
    throw missionFailure('REPO_TAMPERED', `the worktree ${this.dir} is on ${ref}, not on a mission branch; Mission commits and merges only on mission/... branches. Something switched it (an agent's command?): inspect the repository before going on`);
  }

  /** Stages everything and commits it with the step trailer; undefined when there was nothing to commit. */
  async commitAll(message: string, step: string, opts: { allowEmpty?: boolean } = {}): Promise<string | undefined> {
    // The branch check and the identity lookup read only: together, before anything is staged or written.
    const [, identity] = await Promise.all([this.requireMissionBranch(), this.identityArgs()]);
    await this.run(['add', '-A']);
    const args = [...identity, 'commit', '--no-verify', '-m', message, '-m', `${STEP_TRAILER}: ${step}`];
    if (opts.allowEmpty) args.push('--allow-empty');
    // Committing straight away, and asking whether anything was staged only when git refuses, saves a command
    // (two processes, with its driver check) on the path of every feature.
    try {
      await this.run(args);
    } catch (err) {
      if (opts.allowEmpty || (await this.run(['diff', '--cached', '--name-only']))) throw err;
      return undefined;
    }
    return this.head();
  }

  async worktrees(): Promise<{ path: string; branch?: string }[]> {
    const out = await this.run(['worktree', 'list', '--porcelain']);
    const entries: { path: string; branch?: string }[] = [];
    for (const line of out.split('\n')) {
      if (line.startsWith('worktree ')) entries.push({ path: line.slice('worktree '.length) });
      else if (line.startsWith('branch ') && entries.length) entries[entries.length - 1]!.branch = line.slice('branch refs/heads/'.length);
    }
    return entries;
  }

  /**
   * Makes `dir` a worktree on `branch` (created from `startPoint` when missing). Already there: nothing to do.
   * A leftover directory or registration from a crashed attempt (in Mission's own home) is cleared first.
   * Callers hold the repository's lock: git's worktree bookkeeping is not safe against concurrent adds
   * (git 2.39 fails one with "failed to read .git/worktrees/<other>/commondir" while another is half made).
   */
  async ensureWorktree(dir: string, branch: string, startPoint: string): Promise<'added' | 'existing'> {
    if (await exists(dir)) {
      const target = await realpathOrSelf(dir);
      const existing = (await this.worktrees()).find((w) => w.path === target || w.path === dir);
      if (existing) {
        if (existing.branch === branch) return 'existing';
        throw missionFailure('GIT_FAILED', `worktree ${dir} is on branch ${existing.branch ?? '(detached)'}, expected ${branch}`);
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
    await fs.mkdir(path.dirname(dir), { recursive: true });
    // Registered without its files (checkout() adds them outside the lock): the usual case, a new feature,
    // is one quick git command under the repository's lock.
    if (await this.succeeds(['worktree', 'add', '--no-checkout', '-b', branch, dir, startPoint])) return 'added';
    // Else the branch exists (a retry), or a crash left the worktree registered with its folder gone.
    await this.run(['worktree', 'prune']);
    await fs.rm(dir, { recursive: true, force: true });
    if (await this.branchExists(branch)) await this.run(['worktree', 'add', '--no-checkout', dir, branch]);
    else await this.run(['worktree', 'add', '--no-checkout', '-b', branch, dir, startPoint]);
    return 'added';
  }

  /**
   * Checks out the files of a worktree that ensureWorktree registered (callers hold the worktree's lock, or the
   * repository's for the mission worktree). A worktree that has an index was checked out before (a retry after
   * a crash): nothing to do, nothing overwritten. Submodules are left alone, as `git worktree add` leaves them.
   */
  async checkout(state: 'added' | 'existing'): Promise<void> {
    if (state === 'existing') {
      // --git-path answers relative to the worktree or absolute, depending on the git version and the worktree.
      const index = path.resolve(this.dir, await this.run(['rev-parse', '--git-path', 'index']));
      if (await exists(index)) return;
      await this.clearStaleLock(`${index}.lock`);
    }
    await this.run(['reset', '--hard', '--no-recurse-submodules']);
  }

  /**
   * A checkout that was killed leaves index.lock behind, and git refuses to start another while it exists. A fresh
   * lock may still belong to a running git (an earlier attempt on another worker): retried later. An old one is removed.
   */
  private async clearStaleLock(lock: string, staleMs = 60_000): Promise<void> {
    const stat = await fs.stat(lock).catch(() => undefined);
    if (!stat) return;
    if (Date.now() - stat.mtimeMs < staleMs) {
      throw new Error(`git is still checking out ${this.dir} (${lock} exists); the step is retried`);
    }
    await fs.rm(lock, { force: true });
  }

  async removeWorktree(dir: string): Promise<void> {
    const target = await realpathOrSelf(dir);
    if ((await this.worktrees()).some((w) => w.path === target || w.path === dir)) {
      await this.run(['worktree', 'remove', '--force', dir]);
    }
    await this.run(['worktree', 'prune']);
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return path.resolve(p);
  }
}
