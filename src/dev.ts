import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { loadEnvConfig, type EnvConfig } from './config';
import { startEmbeddedServer, temporalAnswers, type EmbeddedServer } from './embedded';
import { activityDeps, createMissionWorker, requireModelEndpoint, workerLogNote, type MissionWorker } from './worker';
import { installWorkerLog } from './worker-log';

export interface LocalServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file of the dev server: missions survive restarts. Default <MISSION_HOME>/temporal/dev.db */
  db?: string;
}

export const DEFAULT_PORT = 7233;
export const DEFAULT_UI_PORT = 8233;

export const defaultDb = (config: EnvConfig) => path.join(config.MISSION_HOME, 'temporal', 'dev.db');

/** Where `mission run` talks to Temporal: TEMPORAL_ADDRESS; else a server already on the local port; else one it starts. */
export interface LocalTemporal {
  address: string;
  uiUrl?: string;
  origin: 'configured' | 'local' | 'embedded';
  server?: EmbeddedServer;
}

export async function resolveTemporal(opts: LocalServerOptions, env: NodeJS.ProcessEnv = process.env): Promise<LocalTemporal> {
  const config = loadEnvConfig(env);
  if (config.TEMPORAL_ADDRESS) return { address: config.TEMPORAL_ADDRESS, origin: 'configured' };
  requireModelEndpoint(config); // the local worker needs one: say so before a server starts
  const address = `127.0.0.1:${opts.port}`;
  if (await temporalAnswers(address)) return { address, uiUrl: `http://127.0.0.1:${opts.uiPort}`, origin: 'local' };
  const server = await startEmbeddedServer({ port: opts.port, uiPort: opts.uiPort, db: opts.db ?? defaultDb(config) }, env);
  return { address: server.address, uiUrl: server.uiUrl, origin: 'embedded', server };
}

/** A worker in this process for the mission task queue, on the given server. */
export async function startLocalWorker(address: string, env: NodeJS.ProcessEnv = process.env): Promise<{ worker: MissionWorker; log?: string; close(): Promise<void> }> {
  const config = loadEnvConfig(env);
  // The embedded server registers the search attributes at start. Built before connecting: a missing key fails here.
  const deps = { ...activityDeps(config, env), searchAttributes: true };
  const log = installWorkerLog(config); // before the connection installs the SDK's default runtime (log in the terminal)
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await createMissionWorker({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.MISSION_TASK_QUEUE, deps });
    return { worker, log, close: () => connection.close() };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/**
 * `mission dev`: a local Temporal dev server (persistent, with the Web UI) and a worker in this process.
 * Stop it with Ctrl-C; start it again and unfinished missions continue where they stopped.
 */
export async function runDev(opts: LocalServerOptions, env: NodeJS.ProcessEnv = process.env, json = false): Promise<void> {
  const config = loadEnvConfig(env);
  requireModelEndpoint(config); // before a server starts
  const server = await startEmbeddedServer({ port: opts.port, uiPort: opts.uiPort, db: opts.db ?? defaultDb(config) }, env);
  try {
    const { worker, log, close } = await startLocalWorker(server.address, env);
    try {
      const ready = { address: server.address, webUi: server.uiUrl, db: server.db, serverLog: server.log, taskQueue: config.MISSION_TASK_QUEUE, missionHome: config.MISSION_HOME, workerLog: log };
      console.log(
        json
          ? JSON.stringify({ event: 'ready', ...ready })
          : `mission dev: Temporal on ${server.address}, Web UI ${server.uiUrl}, data in ${server.db}\n` +
              `mission dev: worker on task queue "${config.MISSION_TASK_QUEUE}"; in another terminal: export TEMPORAL_ADDRESS=${server.address}${workerLogNote(log)}`,
      );
      await worker.run(); // until SIGINT/SIGTERM
    } finally {
      await close();
    }
  } finally {
    await server.stop();
  }
}
