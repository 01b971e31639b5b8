import { promises as fs } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { missionFailure } from '../api/errors';
import { gitProcess } from './git-process';

/**
 * Locks, by path, that hold across processes on one host. Operations on a repository's shared state (adding and
 * removing worktrees, the mission branch, merges) take the repository's lock; work inside one feature worktree
 * (merging its dependencies, committing) takes that worktree's lock only, so parallel features do not wait for one
 * another's commits.
 *
 * Two layers: an in-process queue (activities of one worker wait their turn without touching the disk), then a lock
 * folder (proper-lockfile: mkdir is atomic, the holder keeps its mtime fresh, a dead holder's lock goes stale), so
 * two worker processes on one host (one MISSION_HOME or two) using one repository never interleave git's worktree
 * bookkeeping: git 2.39 fails `worktree add/list/remove` with "failed to read .git/worktrees/<x>/commondir" while
 * another process is half way through adding <x>.
 */
const queues = new Map<string, Promise<unknown>>();

/** A lock another process holds this long is still waited for; past it the step fails, retryably. */
const WAIT_RETRIES = { retries: 400, factor: 1.2, minTimeout: 50, maxTimeout: 1000 };
/** A holder that stopped refreshing its lock this long ago is dead (proper-lockfile refreshes it every stale/2). */
const STALE_MS = 30_000;

export async function withLock<T>(key: string, lockDir: () => Promise<string>, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withFileLock(key, lockDir, fn));
  const settled = run.catch(() => undefined);
  queues.set(key, settled);
  try {
    return await run;
  } finally {
    if (queues.get(key) === settled) queues.delete(key);
  }
}

async function withFileLock<T>(key: string, lockDir: () => Promise<string>, fn: () => Promise<T>): Promise<T> {
  const lockfilePath = await lockDir();
  await fs.mkdir(path.dirname(lockfilePath), { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(lockfilePath, {
      lockfilePath,
      realpath: false,
      stale: STALE_MS,
      retries: WAIT_RETRIES,
      // A lock taken over as stale while we held it (this process was frozen for 30 s): the step goes on, as git's own
      // locks still guard each command; proper-lockfile's default would throw out of a timer and end the worker.
      onCompromised: (err) => console.warn(`mission: the lock ${lockfilePath} was taken over while held (${err.message})`),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    throw missionFailure('GIT_LOCKED', `${key} is still locked by another worker process (${lockfilePath}); the step is retried`);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

const commonDirs = new Map<string, Promise<string>>();

/** The repository's .git (the common one, also for a repository that is itself a linked worktree). */
function gitCommonDir(repo: string): Promise<string> {
  let dir = commonDirs.get(repo);
  if (!dir) {
    dir = gitProcess.raw(repo, ['rev-parse', '--path-format=absolute', '--git-common-dir']).then((out) => out.trim());
    dir.catch(() => commonDirs.delete(repo));
    commonDirs.set(repo, dir);
  }
  return dir;
}

/** The repository's lock (in its .git, so every process on the host that uses the repository sees it). */
export const withRepoLock = <T>(repo: string, fn: () => Promise<T>): Promise<T> => {
  const dir = path.resolve(repo);
  return withLock(`repo:${dir}`, async () => path.join(await gitCommonDir(dir), 'mission.lock'), fn);
};

/** One feature worktree's lock: creating it and committing in it (beside the worktree, in MISSION_HOME). */
export const withWorktreeLock = <T>(worktree: string, fn: () => Promise<T>): Promise<T> => {
  const dir = path.resolve(worktree);
  return withLock(`worktree:${dir}`, async () => path.join(path.dirname(dir), '.locks', `${path.basename(dir)}.lock`), fn);
};
