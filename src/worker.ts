import { NativeConnection, Worker } from '@temporalio/worker';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import OpenAI from 'openai';
import { createActivities, type Activities, type ActivityDeps } from './activities';
import { gitProcess } from './activities/git-process';
import { createHostActivities, hostQueue, resolveHostId } from './activities/host';
import { parseContextWindowSetting } from './activities/context-window';
import { loadEnvConfig, type EnvConfig } from './config';
import { parsePriceSetting } from './api/prices';
import { ensureSearchAttributes } from './search-attributes';
import { ensureWorkflowBundle } from './prebuilt-bundle';
import { installWorkerLog, WORKER_LOG_TO_TERMINAL } from './worker-log';

export interface MissionWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A workflow bundle (tests bundle once); by default the one `npm run build` made (src/prebuilt-bundle.ts). */
  workflowBundle?: { codePath: string };
  /** The activities, when not `createActivities(deps)` (the benchmarks wrap them in timers). */
  activities?: Omit<Activities, 'whichHost'>;
}

/**
 * A worker of the shared task queue (workflows, and every activity for missions recorded before host affinity) and of
 * this host's own queue (`mission-host-<hostId>`: the steps of the missions whose files are here, src/activities/host.ts).
 * Run and shut down together.
 */
export class MissionWorker {
  constructor(
    readonly shared: Worker,
    readonly host: Worker,
    readonly hostId: string,
  ) {}

  async run(): Promise<void> {
    const runs = [this.shared.run(), this.host.run()];
    // One that stops (a fatal error, a shutdown) stops the other: a half worker would take tasks it cannot finish.
    for (const run of runs) void run.catch(() => undefined).finally(() => this.shutdown());
    await Promise.all(runs);
  }

  shutdown(): void {
    for (const w of [this.shared, this.host]) if (w.getState() === 'RUNNING') w.shutdown();
  }

  getState(): ReturnType<Worker['getState']> {
    return this.shared.getState();
  }
}

export async function createMissionWorker(opts: MissionWorkerOptions): Promise<MissionWorker> {
  // Node starts the git helper while the workers are made: a mission's first git steps are on the way to its plan.
  gitProcess.warm();
  const hostId = opts.deps.hostId ?? (await resolveHostId(opts.deps.home));
  const activities = { ...(opts.activities ?? createActivities(opts.deps)), ...createHostActivities({ hostId, pickupSec: opts.deps.hostPickupSec }) };
  const namespace = opts.namespace ?? 'default';
  const workflowBundle = opts.workflowBundle ?? (await ensureWorkflowBundle({ onRebuild: (why) => console.error(`mission: ${why} (a few seconds)`) }));
  const shared = await Worker.create({
    connection: opts.connection,
    namespace,
    taskQueue: opts.taskQueue,
    activities,
    // Two workflow threads, not the SDK's one: when parallel features start or finish together their workflow
    // tasks (each new workflow evaluates the bundle) no longer queue behind one another (bench figure 2: 88% → 96% at 3).
    workflowThreadPoolSize: 2,
    workflowBundle,
  });
  const host = await Worker.create({ connection: opts.connection, namespace, taskQueue: hostQueue(hostId), activities });
  return new MissionWorker(shared, host, hostId);
}

/** A worker needs a model endpoint: said before anything starts. */
export function requireModelEndpoint(config: EnvConfig): void {
  if (!config.OPENAI_API_KEY && !config.OPENAI_BASE_URL) {
    throw new Error('OPENAI_API_KEY is not set. Export it (or OPENAI_BASE_URL for a local OpenAI-compatible server) and run the command again.');
  }
}

/** The model client: its own retries are off, Temporal retries the activity (visible in history). */
export function createModelClient(config: EnvConfig): OpenAI {
  requireModelEndpoint(config);
  return new OpenAI({
    apiKey: config.OPENAI_API_KEY ?? 'not-needed',
    baseURL: config.OPENAI_BASE_URL,
    maxRetries: 0,
    timeout: 9 * 60 * 1000,
  });
}

export function activityDeps(config: EnvConfig, env: NodeJS.ProcessEnv = process.env): ActivityDeps {
  return {
    openai: createModelClient(config),
    home: config.MISSION_HOME,
    defaultModel: config.MISSION_MODEL,
    defaultRepo: config.MISSION_REPO,
    contextWindows: parseContextWindowSetting(config.MISSION_CONTEXT_WINDOW),
    prices: parsePriceSetting(config.MISSION_PRICES),
    toolEnv: env,
    sandbox: { mode: config.MISSION_SANDBOX, bwrapPath: config.MISSION_BWRAP_PATH, allowNetwork: config.MISSION_SANDBOX_NETWORK === 'allow' },
    ...(config.MISSION_HOST_ID ? { hostId: config.MISSION_HOST_ID } : {}),
    hostPickupSec: config.MISSION_HOST_PICKUP_TIMEOUT,
  };
}

/** `mission worker`: serves the task queue until SIGINT/SIGTERM. */
export async function runWorker(env: NodeJS.ProcessEnv = process.env, json = false): Promise<void> {
  const config = loadEnvConfig(env);
  const log = installWorkerLog(config);
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions).catch((err: unknown) => {
    const address = connectionOptions.address ?? 'localhost:7233';
    throw new Error(
      `cannot reach Temporal at ${address} (${(err as Error).message.split('\n')[0]}); start a local server with "npx mission dev" ` +
        '(or "temporal server start-dev"), or set TEMPORAL_ADDRESS to your server',
      { cause: err },
    );
  });
  try {
    const ns = namespace ?? config.TEMPORAL_NAMESPACE;
    const searchAttributes = await ensureSearchAttributes(connectionOptions, ns);
    const worker = await createMissionWorker({
      connection,
      namespace: ns,
      taskQueue: config.MISSION_TASK_QUEUE,
      deps: { ...activityDeps(config, env), searchAttributes },
    });
    const address = connectionOptions.address ?? 'localhost:7233';
    console.log(
      json
        ? JSON.stringify({ event: 'ready', address, namespace: ns, taskQueue: config.MISSION_TASK_QUEUE, hostId: worker.hostId, hostQueue: hostQueue(worker.hostId), missionHome: config.MISSION_HOME, workerLog: log })
        : `mission worker: task queue "${config.MISSION_TASK_QUEUE}" on ${address}, host ${worker.hostId} (queue "${hostQueue(worker.hostId)}"), data in ${config.MISSION_HOME}${workerLogNote(log)}`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

/** Where the SDK's log went, and how to see it in the terminal instead. */
export function workerLogNote(log: string | undefined): string {
  return log ? `\n  SDK log: ${log} (MISSION_WORKER_LOG=${WORKER_LOG_TO_TERMINAL} prints it here)` : '';
}
