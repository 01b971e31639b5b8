import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * Process handling for the run_command tool: one `bash -c` per command, in its own process
 * group so that a timeout, a cancellation or the end of the command stops everything it
 * started (grandchildren included), with output kept as a bounded tail.
 */

export interface ShellResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The last `maxOutputChars` characters of stdout and stderr, interleaved as they arrived. */
  output: string;
  truncated: boolean;
}

export interface ShellOptions {
  cwd: string;
  timeoutSec: number;
  env: NodeJS.ProcessEnv;
  /** The program to run instead of `bash -c command` (a sandbox wrapping it); its last element runs the command. */
  argv?: string[];
  maxOutputChars?: number;
  signal?: AbortSignal;
  onProgress?: () => void;
  /** Gives the child a pipe on fd 3 (bwrap's --info-fd), handed to `onStart` with the child's pid. */
  infoPipe?: boolean;
  /** Called once the child has started (the sandbox's resource guard watches it from here). */
  onStart?: (pid: number, info?: Readable) => void;
}

const DEFAULT_MAX_OUTPUT = 16_000;
const KILL_GRACE_MS = 2_000;
const PROGRESS_INTERVAL_MS = 5_000;
const PROGRESS_MIN_GAP_MS = 1_000;
/** How long to wait for the output pipes to close after bash itself has exited. */
const CLOSE_GRACE_MS = KILL_GRACE_MS + 500;

const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;
const TEMPORAL_CLIENT_SECRET = /^TEMPORAL_.*(TLS|CERT|KEY|API)/i;
/** Names that match SECRET_NAME only by accident and that git needs to attribute commits. */
const KEEP = new Set(['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_DATE']);

/** A copy of `env` without API keys, tokens, passwords and Temporal client credentials. */
export function scrubEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    const secret = SECRET_NAME.test(name) || TEMPORAL_CLIENT_SECRET.test(name) || /^OPENAI_.*KEY/i.test(name);
    if (!secret || KEEP.has(name.toUpperCase())) clean[name] = value;
  }
  return clean;
}

/** Keeps the last `max` characters of a stream of text without holding all of it. */
class TailBuffer {
  private chunks: string[] = [];
  private length = 0;
  private total = 0;

  constructor(private readonly max: number) {}

  push(text: string): void {
    this.chunks.push(text);
    this.length += text.length;
    this.total += text.length;
    if (this.length > this.max * 2) this.compact();
  }

  private compact(): void {
    const joined = this.chunks.join('').slice(-this.max);
    this.chunks = [joined];
    this.length = joined.length;
  }

  get truncated(): boolean {
    return this.total > this.max;
  }

  text(): string {
    return this.chunks.join('').slice(-this.max);
  }
}

/** Sends `signal` to every process in the group led by `pgid`; a group that is gone is not an error. */
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group has already exited.
  }
}

/** Stops a process group politely, then for good: SIGTERM now, SIGKILL after the grace period. */
function groupTerminator(pgid: number | undefined): { terminate: () => void } {
  let killTimer: NodeJS.Timeout | undefined;
  return {
    terminate: () => {
      if (pgid === undefined || killTimer) return;
      killGroup(pgid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pgid, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    },
  };
}

/** Calls `onProgress` every few seconds and (at most once a second) when output arrives. */
function progressReporter(onProgress: (() => void) | undefined): { poke: () => void; stop: () => void } {
  if (!onProgress) return { poke: () => undefined, stop: () => undefined };
  let last = 0;
  const report = (): void => {
    last = Date.now();
    try {
      onProgress();
    } catch {
      // A failing heartbeat must not break the command.
    }
  };
  const interval = setInterval(report, PROGRESS_INTERVAL_MS);
  return {
    poke: () => {
      if (Date.now() - last >= PROGRESS_MIN_GAP_MS) report();
    },
    stop: () => clearInterval(interval),
  };
}

/**
 * Runs `bash -c command` in its own process group with stdin closed. When bash exits, any
 * process it left behind is stopped too; on timeout or abort the whole group is stopped.
 * Rejects only when the process cannot be started (missing bash or cwd).
 */
export function runShell(command: string, opts: ShellOptions): Promise<ShellResult> {
  return new Promise<ShellResult>((resolve, reject) => {
    const started = Date.now();
    const tail = new TailBuffer(opts.maxOutputChars ?? DEFAULT_MAX_OUTPUT);
    const [file, ...args] = opts.argv ?? ['bash', '-c', command];
    const stdio = opts.infoPipe ? (['ignore', 'pipe', 'pipe', 'pipe'] as const) : (['ignore', 'pipe', 'pipe'] as const);
    const child = spawn(file!, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: [...stdio] });
    if (child.pid !== undefined) opts.onStart?.(child.pid, opts.infoPipe ? (child.stdio[3] as Readable) : undefined);
    const group = groupTerminator(child.pid);
    const progress = progressReporter(opts.onProgress);
    let timedOut = false;
    let exit: { code: number | null; signal: string | null } | undefined;
    let settled = false;

    const onAbort = (): void => group.terminate();
    const timeout = setTimeout(() => {
      timedOut = true;
      group.terminate();
    }, Math.max(0, opts.timeoutSec * 1000));

    const cleanup = (): void => {
      settled = true;
      clearTimeout(timeout);
      progress.stop();
      opts.signal?.removeEventListener('abort', onAbort); // a scheduled SIGKILL stays: stragglers must still die
    };
    const finish = (): void => {
      if (settled) return;
      cleanup();
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        durationMs: Date.now() - started,
        output: tail.text(),
        truncated: tail.truncated,
      });
    };

    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        tail.push(text);
        progress.poke();
      });
    }
    child.on('error', (err) => {
      if (settled) return;
      cleanup();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      group.terminate();
      setTimeout(finish, CLOSE_GRACE_MS).unref();
    });
    child.on('close', finish);

    if (opts.signal?.aborted) group.terminate();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
