import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { MISSION_SEARCH_ATTRIBUTES } from './api/search';

/** A local Temporal dev server with its data in a file: missions survive restarts of this process. */
export interface EmbeddedServer {
  address: string;
  uiUrl: string;
  db: string;
  /** Where the server writes its log (undefined when the SDK runs the server). */
  log?: string;
  stop(): Promise<void>;
}

export interface EmbeddedServerOptions {
  port: number;
  uiPort: number;
  db: string;
  /** Dynamic config for the server, e.g. { 'limit.historyCount.suggestContinueAsNew': 200 }. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/**
 * Dynamic config for a local dev server. Its history transfer queue is read at most 20 times a second by
 * default, so every workflow and activity task waits ~40 ms before a worker gets it (measured in bench/,
 * figure 1); reading it at up to 1000/s and eager activity starts take most of that wait away.
 */
export const LOCAL_SERVER_CONFIG: Record<string, string | number | boolean> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'system.enableActivityEagerExecution': true,
};

export const dynamicConfigArgs = (config: Record<string, string | number | boolean>) =>
  Object.entries(config).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]);

/** The `temporal` binary: TEMPORAL_CLI_PATH, else on PATH; undefined lets the SDK download one. */
export function temporalBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI_PATH) {
    if (!existsSync(env.TEMPORAL_CLI_PATH)) throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} does not exist; fix the path or unset it`);
    return env.TEMPORAL_CLI_PATH;
  }
  try {
    return execFileSync('which', ['temporal'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

/** True when a Temporal frontend answers at address. */
export async function temporalAnswers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The supervisor between this process and the server: it holds a pipe from us, and when the pipe closes
 * (we exited, even by SIGKILL) it stops the server, so no orphaned server keeps the port and the database.
 */
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const [bin, ...args] = process.argv.slice(1);
const server = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), 10000).unref();
};
server.on('exit', (code, signal) => process.exit(stopping ? 0 : code ?? 1));
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
`;

/**
 * Starts `temporal server start-dev` on 127.0.0.1 with the Web UI, the search attributes registered and the
 * data in `opts.db`. Without a local binary, the SDK downloads one and runs it.
 */
export async function startEmbeddedServer(opts: EmbeddedServerOptions, env: NodeJS.ProcessEnv = process.env): Promise<EmbeddedServer> {
  mkdirSync(path.dirname(opts.db), { recursive: true });
  const address = `127.0.0.1:${opts.port}`;
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  if (await portOpen(opts.port)) {
    throw new Error(`port ${opts.port} is already in use (another "mission dev" or Temporal server?); stop it, pass --port, or set TEMPORAL_ADDRESS=${address} to use it`);
  }
  await waitForPreviousServer(opts.db);
  const binary = temporalBinary(env);
  if (!binary) return startWithSdk(opts, address, uiUrl);

  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1', '--port', String(opts.port), '--ui-port', String(opts.uiPort),
    '--db-filename', opts.db, '--log-level', 'warn',
    ...MISSION_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ...dynamicConfigArgs({ ...LOCAL_SERVER_CONFIG, ...opts.dynamicConfig }),
  ];
  const log = path.join(path.dirname(opts.db), 'server.log');
  const logFd = openSync(log, 'a');
  const supervisor = spawn(process.execPath, ['-e', SUPERVISOR, binary, ...args], { stdio: ['pipe', logFd, logFd], detached: true });
  closeSync(logFd);
  writeFileSync(pidFile(opts.db), String(supervisor.pid));
  const exited = new Promise<number | null>((resolve) => supervisor.on('exit', resolve));
  try {
    await waitUntilReady(address, supervisor, exited, log);
  } catch (err) {
    supervisor.stdin!.end();
    await exited;
    throw err;
  }
  return {
    address,
    uiUrl,
    db: opts.db,
    log,
    stop: async () => {
      if (supervisor.exitCode === null) supervisor.stdin!.end();
      await exited;
    },
  };
}

const pidFile = (db: string) => `${db}.pid`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A server stopping (its owner was just killed, or Ctrl-C'd) may still be writing the database after its port
 * closed: wait for its supervisor, which lives exactly as long as the server, before opening the same file.
 */
async function waitForPreviousServer(db: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(db), 'utf8'));
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (pid > 0 && alive(pid)) {
    if (Date.now() > deadline) throw new Error(`another Temporal dev server (supervisor pid ${pid}) is still using ${db}; stop it or pass --db`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitUntilReady(address: string, supervisor: ChildProcess, exited: Promise<number | null>, log: string): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (done) {
      const tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`the Temporal dev server exited (code ${supervisor.exitCode}) before it was ready; its log (${log}) ends with:\n${tail}`);
    }
    if (await temporalAnswers(address)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the Temporal dev server did not answer at ${address} within 60 s; see ${log}`);
}

async function startWithSdk(opts: EmbeddedServerOptions, address: string, uiUrl: string): Promise<EmbeddedServer> {
  const server = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      dbFilename: opts.db,
      ip: '127.0.0.1',
      port: opts.port,
      ui: true,
      uiPort: opts.uiPort,
      searchAttributes: MISSION_SEARCH_ATTRIBUTES,
      extraArgs: dynamicConfigArgs({ ...LOCAL_SERVER_CONFIG, ...opts.dynamicConfig }),
      log: { format: 'pretty', level: 'warn' },
    },
  }).catch((err: unknown) => {
    throw explainDownloadFailure(err);
  });
  return { address, uiUrl, db: opts.db, stop: () => server.teardown() };
}

/** With no `temporal` binary the SDK downloads one; offline, say how to provide one instead of only what failed. */
export function explainDownloadFailure(err: unknown): unknown {
  if (!(err instanceof Error) || !/download/i.test(err.message)) return err;
  return new Error(
    `no Temporal CLI found and downloading one failed (${err.message}). Install it (go install github.com/temporalio/cli/cmd/temporal@v1.5.1, ` +
      'then put $(go env GOPATH)/bin on PATH), set TEMPORAL_CLI_PATH to a temporal binary, or set TEMPORAL_ADDRESS to a running server',
    { cause: err },
  );
}
