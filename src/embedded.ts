import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
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
  /** How long to wait for another server to release the database (one just stopping still writes it). */
  lockWaitMs?: number;
}

/**
 * Dynamic config for a local dev server. Its history transfer queue is read at most 20 times a second by
 * default, so every workflow and activity task waits ~40 ms before a worker gets it (measured in bench/,
 * figure 1); reading it at up to 1000/s and eager activity starts take most of that wait away. One partition
 * per task queue: `mission run` starts its mission while its worker is still being made, and a first task
 * written to one of the default four partitions was seen to wait 1.2 s for the new worker's polls to reach it.
 */
export const LOCAL_SERVER_CONFIG: Record<string, string | number | boolean> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'system.enableActivityEagerExecution': true,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
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
 * It also holds the database's lock (proper-lockfile: a lock folder whose mtime it keeps fresh) for exactly
 * as long as the server runs, so a server that is still stopping is waited for, and a lock left by a crash
 * goes stale in seconds — no pid file, whose pid a later process may reuse.
 */
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const lockfile = require(process.env.MISSION_LOCKFILE_PATH);
const [db, waitMs, bin, ...args] = process.argv.slice(1);
let server;
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  if (!server) process.exit(0);
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), 10000).unref();
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const retries = Math.max(0, Math.ceil(Number(waitMs) / 250));
lockfile
  .lock(db, { realpath: false, stale: 10000, update: 2000, retries: { retries, factor: 1, minTimeout: 250, maxTimeout: 250 }, onCompromised: () => undefined })
  .then((release) => {
    if (stopping) return release().finally(() => process.exit(0));
    server = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    server.on('exit', (code) => release().catch(() => undefined).finally(() => process.exit(stopping ? 0 : code ?? 1)));
  })
  .catch((err) => {
    console.error('MISSION_DB_LOCKED ' + err.message);
    process.exit(75);
  });
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
  const binary = temporalBinary(env);
  if (!binary) return startWithSdk(opts, address, uiUrl);

  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1', '--port', String(opts.port), '--ui-port', String(opts.uiPort),
    '--db-filename', opts.db, '--log-level', 'warn',
    ...MISSION_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${key.type === 'DOUBLE' ? 'Double' : 'Keyword'}`]),
    ...dynamicConfigArgs({ ...LOCAL_SERVER_CONFIG, ...opts.dynamicConfig }),
  ];
  const log = path.join(path.dirname(opts.db), 'server.log');
  const logFd = openSync(log, 'a');
  const waitMs = opts.lockWaitMs ?? 30_000;
  const supervisor = spawn(process.execPath, ['-e', SUPERVISOR, opts.db, String(waitMs), binary, ...args], {
    stdio: ['pipe', logFd, logFd],
    detached: true,
    env: { ...process.env, MISSION_LOCKFILE_PATH: require.resolve('proper-lockfile') },
  });
  closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => supervisor.on('exit', resolve));
  try {
    await waitUntilReady(address, supervisor, exited, log, opts.db, waitMs);
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

async function waitUntilReady(address: string, supervisor: ChildProcess, exited: Promise<number | null>, log: string, db: string, lockWaitMs: number): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + lockWaitMs + 60_000;
  while (Date.now() < deadline) {
    if (done) {
      if (supervisor.exitCode === 75) {
        throw new Error(`another Temporal dev server is using ${db}; stop it (its "mission dev" or "mission run"), wait for it to finish stopping, or pass --db`);
      }
      const tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`the Temporal dev server exited (code ${supervisor.exitCode}) before it was ready; its log (${log}) ends with:\n${tail}`);
    }
    if (await temporalAnswers(address)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the Temporal dev server did not answer at ${address} within 60 s; see ${log}`);
}

/** The SDK's own launcher (it downloads a server): loaded only here, when no local binary is known. */
async function startWithSdk(opts: EmbeddedServerOptions, address: string, uiUrl: string): Promise<EmbeddedServer> {
  const testing = await import('@temporalio/testing');
  const server = await testing.TestWorkflowEnvironment.createLocal({
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
