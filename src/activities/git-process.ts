import { spawn, type ChildProcess } from 'node:child_process';
import { scrubEnv } from './shell';

/**
 * git runs in a small helper process, not in the worker's own.
 *
 * Starting a process from Node forks the parent, and fork copies the parent's page tables: from a
 * worker of ~350 MB (the Temporal runtime, the workflow bundle, many missions) every spawn blocks the
 * worker's event loop for ~17 ms on a 2-core VM, against ~2 ms from a 50 MB process (bench/README.md,
 * figure 2). A mission runs a dozen git commands per feature, and parallel features run theirs at the
 * same moments, so those pauses stalled every other agent on the worker. The helper is a plain Node
 * process that runs simple-git for us; the worker only exchanges a message with it.
 *
 * The helper starts on first use, never keeps the worker alive (it is unref'd while idle), exits when
 * the worker does (its IPC channel closes), and is started again if it dies; requests it had in flight
 * fail with a retryable error, so Temporal retries the activity.
 */

interface Request {
  id: number;
  dir: string;
  args: string[];
}

type Reply = { id: number; ok: true; out: string } | { id: number; ok: false; message: string };

/** A git command that ran and failed (non-zero exit, or a directory simple-git refuses): its output. */
export class GitCommandError extends Error {}

// The helper's code. It needs nothing but simple-git, whose path the worker resolves and passes in.
const HELPER = `
const { simpleGit } = require(process.env.MISSION_SIMPLE_GIT_PATH);
const errors = (error, result) => error || (result.exitCode === 0 ? undefined : Buffer.concat([...result.stdErr, ...result.stdOut]));
process.on('message', async (m) => {
  let reply;
  try {
    // simple-git resolves a non-zero exit when stderr is empty (e.g. show-ref --quiet): every non-zero exit is a failure.
    const out = await simpleGit({ baseDir: m.dir, trimmed: true, errors }).raw(m.args);
    reply = { id: m.id, ok: true, out };
  } catch (err) {
    reply = { id: m.id, ok: false, message: String((err && err.message) || err) };
  }
  if (process.connected) process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;

export class GitProcess {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { child: ChildProcess; resolve: (out: string) => void; reject: (err: Error) => void }>();

  /** Runs `git args` in `dir`; resolves with stdout (trimmed by simple-git), rejects with GitCommandError. */
  raw(dir: string, args: string[]): Promise<string> {
    const child = this.start();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { child, resolve, reject });
      this.hold(child);
      child.send({ id, dir, args } satisfies Request, (err) => {
        if (err) this.settle(id, () => new Error(`could not reach the git helper process: ${err.message}; retrying`));
      });
    });
  }

  /** Stops the helper (the worker's own shutdown does this too, by closing the channel). */
  close(): void {
    this.child?.kill();
    this.child = undefined;
  }

  /** The helper's pid (tests kill it to check that a new one takes over). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): ChildProcess {
    if (this.child?.connected) return this.child;
    const child = spawn(process.execPath, ['-e', HELPER], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // No secrets: git runs the repository's hooks (reference-transaction, post-checkout, ...) with this environment.
      env: { ...scrubEnv(process.env), MISSION_SIMPLE_GIT_PATH: require.resolve('simple-git') },
    });
    child.on('message', (reply: Reply) => {
      if (reply.ok) this.settle(reply.id, reply.out);
      else this.settle(reply.id, () => new GitCommandError(reply.message));
    });
    const gone = (why: string) => {
      if (this.child === child) this.child = undefined;
      for (const [id, waiter] of [...this.pending]) {
        if (waiter.child === child) this.settle(id, () => new Error(`the git helper process ${why}; retrying`));
      }
    };
    child.on('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    child.on('error', (err) => gone(`failed (${err.message})`));
    child.unref();
    this.release(child);
    this.child = child;
    return child;
  }

  private settle(id: number, outcome: string | (() => Error)): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (typeof outcome === 'string') waiter.resolve(outcome);
    else waiter.reject(outcome());
    if (this.child && ![...this.pending.values()].some((w) => w.child === this.child)) this.release(this.child);
  }

  /** While requests are in flight the channel keeps the process alive; idle, it does not. */
  private hold(child: ChildProcess): void {
    (child.channel as { ref?: () => void } | undefined)?.ref?.();
  }

  private release(child: ChildProcess): void {
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
  }
}

/** The worker's one helper. */
export const gitProcess = new GitProcess();
