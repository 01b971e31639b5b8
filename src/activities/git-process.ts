import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { GIT_SAFETY } from './git-safety';
import { scrubEnv } from './shell';

/**
 * git runs in a small helper process, not in the worker's own.
 *
 * Starting a process from Node forks the parent, and fork copies the parent's page tables: from a
 * worker of ~350 MB (the Temporal runtime, the workflow bundle, many missions) every spawn blocks the
 * worker's event loop for ~17 ms on a 2-core VM, against ~2 ms from a 50 MB process (bench/README.md,
 * figure 2). A mission runs a dozen git commands per feature, and parallel features run theirs at the
 * same moments, so those pauses stalled every other agent on the worker. The helper is a plain Node
 * process that runs git for us; the worker only exchanges a message with it. It runs git with the
 * settings of git-safety.ts, so that nothing an agent plants in the repository runs inside Mission's git.
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

/** A git command that ran and failed (non-zero exit, or a directory that does not exist): its output. */
export class GitCommandError extends Error {}

// The helper's code: it runs git with execFile and the safety settings of git-safety.ts (a plain script, so it
// cannot import them: the worker passes them in MISSION_GIT_SAFETY).
const HELPER = `
const { execFile } = require('node:child_process');
const safety = JSON.parse(process.env.MISSION_GIT_SAFETY);
delete process.env.MISSION_GIT_SAFETY;
// Variables such as GIT_DIR or GIT_CONFIG_PARAMETERS in the worker's environment must not redirect Mission's git.
for (const name of Object.keys(process.env)) if (name.toUpperCase().startsWith('GIT_')) delete process.env[name];
const git = (dir, args, env) => new Promise((resolve) => {
  execFile('git', args, { cwd: dir, env, maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
});
const withConfig = (pairs) => {
  const env = { ...process.env, ...safety.env, GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([key, value], i) => { env['GIT_CONFIG_KEY_' + i] = key; env['GIT_CONFIG_VALUE_' + i] = value; });
  return env;
};
// Drivers (filter, merge, diff) are named by .gitattributes and defined in config under any name, so they cannot be
// switched off by a fixed list: the ones the repository's own config defines (where an agent could plant one) are
// overridden, command by command. The user's global and system config (git-lfs, say) stays in force.
async function driverOverrides(dir) {
  const { err, stdout } = await git(dir, ['config', '-z', '--show-scope', '--get-regexp', safety.driverPattern], withConfig(safety.config));
  if (err) return [];
  const pairs = [];
  // -z prints scope NUL key LF value NUL, entry after entry.
  const tokens = stdout.split('\\0');
  for (let i = 0; i + 1 < tokens.length; i += 2) {
    const scope = tokens[i];
    const key = tokens[i + 1].split('\\n')[0];
    if (!safety.repoScopes.includes(scope)) continue;
    const m = /^(filter|merge|diff)\\.(.+)\\.([^.]+)$/i.exec(key);
    if (!m) continue;
    const value = safety.driverValues[m[1].toLowerCase() + '.' + m[3].toLowerCase()];
    if (value !== undefined) pairs.push([key, value]);
    if (m[1].toLowerCase() === 'filter') pairs.push([m[1] + '.' + m[2] + '.required', 'false']);
  }
  return pairs;
}
// Commands that read refs, objects or config only never run a driver: no need to look for them first.
const command = (args) => args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-c');
// Commands that can print a patch never run an external diff program (diff.external is also emptied, which
// makes git fail rather than run one, so patches need git's own diff).
const withInternalDiff = (args) => {
  const at = args.indexOf(command(args));
  return safety.patchCommands.includes(args[at]) ? [...args.slice(0, at + 1), '--no-ext-diff', ...args.slice(at + 1)] : args;
};
process.on('message', async (m) => {
  const pairs = [...safety.config, ...(safety.readOnly.includes(command(m.args)) ? [] : await driverOverrides(m.dir))];
  const { err, stdout, stderr } = await git(m.dir, withInternalDiff(m.args), withConfig(pairs));
  const missing = err && err.code === 'ENOENT' && !require('node:fs').existsSync(m.dir);
  const reply = err
    ? { id: m.id, ok: false, message: missing ? 'directory ' + m.dir + ' does not exist' : (stderr + stdout).trim() || String(err.message) }
    : { id: m.id, ok: true, out: stdout.trim() };
  if (process.connected) process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;

export class GitProcess {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { child: ChildProcess; resolve: (out: string) => void; reject: (err: Error) => void }>();

  /** Runs `git args` in `dir`; resolves with stdout (trimmed), rejects with GitCommandError. */
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

  /**
   * Starts the helper ahead of the first command (a worker does at start): Node takes tens of ms to start it, and the
   * first git commands of a mission are on the way to its plan. It still never keeps the process alive.
   */
  warm(): void {
    // One command, so that git itself is read from disk too.
    this.raw(os.tmpdir(), ['--version']).catch(() => undefined);
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
      // No secrets: whatever git starts (a user's global filter such as git-lfs) gets this environment.
      env: { ...scrubEnv(process.env), MISSION_GIT_SAFETY: JSON.stringify(GIT_SAFETY) },
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
