import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import OpenAI from 'openai';
import { MISSION_WORKFLOW } from '../src/api/constants';
import type { MissionReport } from '../src/api/report';
import type { MissionStatus } from '../src/api/status';
import { startEmbeddedServer } from '../src/embedded';
import { createMissionWorker } from '../src/worker';
import { cliEnv, freePort } from './support/cli-process';
import { recordHistories } from './support/histories';
import { useHarness } from './support/harness';
import { makeRepo, tempDir, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools } from './support/scripts';

const h = useHarness('can');

/** An agent that writes `n` files, one per turn, then finishes: n + 1 turns. */
const writes = (id: string, n: number) => Array.from({ length: n }, (_, i) => tools(call('write_file', { path: `${id}/${i}.txt`, content: `${id} ${i}` })));
const writesMany = (id: string, n: number) => [...writes(id, n), finish()];

/**
 * An agent's turns are local activities: with a fast model a whole agent runs in one workflow task, and
 * Temporal's continue-as-new suggestion is only refreshed when a new workflow task starts. A tool call
 * that takes longer than 8 s makes the worker heartbeat the workflow task (80% of its 10 s timeout),
 * which starts a new one; with 40+ events by then, the agent continues as new at its next turn.
 */
const F1_WRITES = 20;
const slowAgent = (id: string) => [...writes(id, F1_WRITES), tools(call('run_command', { command: 'sleep 9' })), ...writesMany(`${id}-after`, 2)];

test('with a low history limit, features continue as new between turns and the mission between milestones; the result is the same', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  // The dev server suggests continue-as-new after 40 events instead of thousands.
  const server = await startEmbeddedServer({ port, uiPort, db: path.join(tempDir('can-'), 'dev.db'), dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40 } }, cliEnv(h));
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const worker = await createMissionWorker({
    connection: nativeConnection,
    taskQueue: 'can',
    workflowBundle: { codePath: process.env.MISSION_TEST_WORKFLOW_BUNDLE! },
    deps: {
      openai: new OpenAI({ baseURL: h.model.baseURL, apiKey: 'sk-test-secret-key-123456', maxRetries: 0 }),
      home: h.home,
      defaultModel: 'test-model',
      toolEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
      searchAttributes: true,
    },
  });
  const running = worker.run();
  try {
    const repo = makeRepo();
    h.model.script('plan', [planReply(makePlan(['m1', 'm2', 'm3'].map((m, i) => ({ id: m, features: [{ id: `f${i + 1}`, files: [`f${i + 1}/`] }] }))))]);
    h.model.script('feature f1', slowAgent('f1'));
    for (const f of ['f2', 'f3']) h.model.script(`feature ${f}`, writesMany(f, 8));
    const id = `can-${Date.now()}`;
    const handle = await client.workflow.start(MISSION_WORKFLOW, { taskQueue: 'can', workflowId: id, args: [{ prompt: 'Long haul', repo, requirePlanApproval: false }] });
    // A steering note before any agent: every agent reads it once, also after it (and the mission) continued as new.
    const NOTE = 'Keep every file short.';
    await handle.signal('steer', { note: NOTE });
    const report = (await handle.result()) as MissionReport;
    const agentRequests = h.model.requests.filter((r) => r.role.startsWith('feature '));
    expect(agentRequests.map((r) => r.body.messages.filter((m) => m.role === 'user' && String(m.content).includes(NOTE)).length)).toEqual(agentRequests.map(() => 1));
    expect(report.steering).toEqual([{ at: expect.any(String), note: NOTE }]);

    expect(report.outcome).toBe('completed');
    expect(report.milestones.map((m) => m.state)).toEqual(['done', 'done', 'done']);
    const tree = treeAt(repo, report.branch!);
    for (let i = 0; i < F1_WRITES; i++) expect(tree[`f1/${i}.txt`]).toBe(`f1 ${i}`);
    for (let i = 0; i < 2; i++) expect(tree[`f1-after/${i}.txt`]).toBe(`f1-after ${i}`);
    for (const f of ['f2', 'f3']) for (let i = 0; i < 8; i++) expect(tree[`${f}/${i}.txt`]).toBe(`${f} ${i}`);
    const f1Turns = F1_WRITES + 1 + 3;
    expect(report.milestones.flatMap((m) => m.features.map((f) => f.turns))).toEqual([f1Turns, 9, 9]);

    const runs = async (workflowId: string) => {
      const statuses: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) statuses.push(w.status.name);
      return statuses;
    };
    let missionRuns: string[] = [];
    for (let i = 0; i < 50 && !missionRuns.includes('COMPLETED'); i++) {
      missionRuns = await runs(id);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(missionRuns.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
    expect((await runs(`${id}/m1/f1`)).filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
    // The last run's status covers the whole mission (carried across runs).
    const status = await handle.query<MissionStatus>('status');
    expect(status.events.some((e) => e.type === 'continued')).toBe(true);
    expect(status.tokensByRole.plan?.total).toBeGreaterThan(0);
    // No model call repeated: 1 plan + the agents' turns + 1 report narrative.
    expect(h.model.requests).toHaveLength(1 + f1Turns + 18 + 1);
    await recordHistories(client, [id], 'continue-as-new');
  } finally {
    worker.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
    await server.stop();
  }
}, 180_000);
