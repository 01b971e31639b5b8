import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import OpenAI from 'openai';
import { MISSION_WORKFLOW } from '../../src/api/constants';
import type { MissionRequest } from '../../src/api/input';
import { statusQuery } from '../../src/api/messages';
import type { MissionStatus } from '../../src/api/status';
import type { mission } from '../../src/workflows/mission';
import { ensureSearchAttributes } from '../../src/search-attributes';
import type { ActivityDeps } from '../../src/activities';
import { createMissionWorker } from '../../src/worker';
import { ScriptedModelServer } from './model-server';
import { recordHistories } from './histories';
import { tempDir } from './repo';

export interface Harness {
  client: Client;
  taskQueue: string;
  address: string;
  model: ScriptedModelServer;
  home: string;
  start(input: MissionRequest | Record<string, unknown>, id?: string): Promise<WorkflowHandle<typeof mission>>;
  /** Ids of the missions `start` started in the current test. */
  started: string[];
  waitFor(handle: WorkflowHandle, predicate: (s: MissionStatus) => boolean, timeoutMs?: number): Promise<MissionStatus>;
  close(): Promise<void>;
}

let counter = 0;

/**
 * One test file's view of the shared dev server: its own task queue, worker, scripted model server
 * and MISSION_HOME. The worker runs the real activities against real git and the real openai client.
 */
export async function createHarness(name: string, extra: Pick<ActivityDeps, 'sandbox' | 'prices'> = {}): Promise<Harness> {
  const address = process.env.MISSION_TEST_TEMPORAL_ADDRESS;
  const bundle = process.env.MISSION_TEST_WORKFLOW_BUNDLE;
  if (!address || !bundle) {
    throw new Error('The Temporal dev server was not started for this jest run (is MISSION_TEST_SERVER=off set?); run the tests with "npm test".');
  }
  quietRuntime();
  const taskQueue = `test-${name}-${process.pid}-${Date.now().toString(36)}`;
  const model = scriptDefaults(await ScriptedModelServer.start());
  const home = tempDir('mission-home-');
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const worker = await createMissionWorker({
    connection: nativeConnection,
    taskQueue,
    workflowBundle: { codePath: bundle },
    deps: {
      openai: new OpenAI({ baseURL: model.baseURL, apiKey: 'sk-test-secret-key-123456', maxRetries: 0 }),
      home,
      defaultModel: 'test-model',
      toolEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
      searchAttributes: await ensureSearchAttributes({ address }, 'default'),
      // A host of its own: worker processes that tests start on this MISSION_HOME (crash tests) must be the ones
      // that run their missions' steps, not this worker through a shared host queue.
      hostId: `harness-${taskQueue}`,
      ...extra,
    },
  });
  const running = worker.run();
  const started: string[] = [];

  return {
    client,
    taskQueue,
    address,
    model,
    home,
    started,
    start: (input, id) => {
      const workflowId = id ?? `${name}-${++counter}-${Date.now().toString(36)}`;
      started.push(workflowId);
      return client.workflow.start<typeof mission>(MISSION_WORKFLOW, { taskQueue, workflowId, args: [input as MissionRequest] });
    },
    waitFor: async (handle, predicate, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      let last: MissionStatus | undefined;
      while (Date.now() < deadline) {
        last = await handle.query(statusQuery);
        if (predicate(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`status never matched within ${timeoutMs} ms; last phase ${last?.phase}, events: ${JSON.stringify(last?.events.slice(-5))}`);
    },
    close: async () => {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await model.close();
    },
  };
}

let runtimeInstalled = false;
/** Worker lifecycle lines and the warnings of deliberately failed workflows drown test output; errors still show. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed in this process
  }
}

/**
 * A harness for the whole test file: created before the first test, closed after the last, and
 * after each test the scripted model server must have used its whole script without failures.
 */
export function useHarness(name: string, extra: Pick<ActivityDeps, 'sandbox' | 'prices'> = {}): Harness {
  const harness = {} as Harness;
  beforeAll(async () => {
    Object.assign(harness, await createHarness(name, extra));
  });
  afterAll(async () => {
    await harness.close?.();
  });
  afterEach(async () => {
    try {
      await recordHistories(harness.client, harness.started.splice(0), expect.getState().currentTestName ?? name);
      harness.model.assertDone();
    } finally {
      scriptDefaults(harness.model.reset()); // a failed test must not fail the next one
    }
  });
  return harness;
}

/** Every completed mission asks for a report narrative; tests that check it script `report` themselves. */
export const DEFAULT_NARRATIVE = 'Scripted summary of the mission.';
function scriptDefaults(model: ScriptedModelServer): ScriptedModelServer {
  return model.scriptPrefix('report', { content: DEFAULT_NARRATIVE });
}
