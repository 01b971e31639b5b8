import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness';

const bin = path.join(__dirname, '..', '..', 'bin', 'mission.js');

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Waits until stdout+stderr match; rejects with the output when the process exits first or time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** The environment a real `mission` process gets in tests: the harness's model server and MISSION_HOME, a test key. */
export function cliEnv(h: Harness, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    MISSION_HOME: h.home,
    OPENAI_BASE_URL: h.model.baseURL,
    OPENAI_API_KEY: 'sk-test-secret-key-123456',
    MISSION_MODEL: 'test-model',
    TEMPORAL_CLI_PATH: process.env.MISSION_TEST_TEMPORAL_BINARY || undefined,
    ...extra,
  };
}

/** The harness's server and task queue, for commands that talk to the shared test server. */
export const onHarness = (h: Harness, extra: Record<string, string | undefined> = {}) =>
  cliEnv(h, { TEMPORAL_ADDRESS: h.address, MISSION_TASK_QUEUE: h.taskQueue, ...extra });

/** Starts `mission ARGS` (from dist/) as a real process. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; command?: string[] } = {}): CliProcess {
  let out = '';
  let err = '';
  const [file, ...pre] = opts.command ?? [process.execPath, bin];
  const child = spawn(file!, [...pre, ...args], { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = (out + err).match(pattern);
        if (match) return match;
        if (done || Date.now() > deadline) {
          throw new Error(`${done ? 'mission exited' : 'timed out'} before printing ${pattern}:\n--- stdout\n${out}\n--- stderr\n${err}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Runs `mission ARGS` to the end. */
export async function cli(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; command?: string[] } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawnCli(args, env, opts);
  p.child.stdin!.end();
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

export { freePort } from './test-server';
