import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { MISSION_SEARCH_ATTRIBUTES } from './api/search';
import { loadEnvConfig } from './config';
import { activityDeps, createMissionWorker } from './worker';

export interface DevOptions {
  port: number;
  uiPort: number;
  /** SQLite file of the dev server: missions survive restarts. Default <MISSION_HOME>/temporal/dev.db */
  db?: string;
}

/** The `temporal` binary: TEMPORAL_CLI_PATH, else on PATH; undefined lets the SDK download one. */
function temporalBinary(env: NodeJS.ProcessEnv): string | undefined {
  if (env.TEMPORAL_CLI_PATH) return env.TEMPORAL_CLI_PATH;
  try {
    return execFileSync('which', ['temporal'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `mission dev`: a local Temporal dev server (persistent, with the Web UI) and a worker in this process.
 * Stop it with Ctrl-C; start it again and unfinished missions continue where they stopped.
 */
export async function runDev(opts: DevOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadEnvConfig(env);
  const db = opts.db ?? path.join(config.MISSION_HOME, 'temporal', 'dev.db');
  mkdirSync(path.dirname(db), { recursive: true });
  const binary = temporalBinary(env);
  const server = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: binary ? { type: 'existing-path', path: binary } : { type: 'cached-download' },
      dbFilename: db,
      ip: '127.0.0.1',
      port: opts.port,
      ui: true,
      uiPort: opts.uiPort,
      searchAttributes: MISSION_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'warn' },
    },
  });
  try {
    const worker = await createMissionWorker({
      connection: server.nativeConnection,
      taskQueue: config.MISSION_TASK_QUEUE,
      deps: { ...activityDeps(config, env), searchAttributes: true },
    });
    console.log(
      `mission dev: Temporal on 127.0.0.1:${opts.port}, Web UI http://127.0.0.1:${opts.uiPort}, data in ${db}\n` +
        `mission dev: worker on task queue "${config.MISSION_TASK_QUEUE}"; in another terminal: export TEMPORAL_ADDRESS=127.0.0.1:${opts.port}`,
    );
    await worker.run(); // until SIGINT/SIGTERM
  } finally {
    await server.teardown();
  }
}
