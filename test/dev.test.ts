import { Client, Connection } from '@temporalio/client';
import { approvePlanSignal, statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { portOpen } from '../src/embedded';
import { cliEnv, freePort, spawnCli } from './support/cli-process';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';

const h = useHarness('dev');

function startDev(port: number, uiPort: number) {
  const p = spawnCli(['dev', '--port', String(port), '--ui-port', String(uiPort)], cliEnv(h));
  return { child: p.child, ready: p.waitFor(/mission dev: worker on task queue/, 90_000), exited: p.exited };
}

test('`mission dev` runs a persistent server with the Web UI and a worker; a mission outlives the process', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'dev', files: ['dev.txt'] }] }]))]);
  h.model.script('feature dev', writesFiles({ 'dev.txt': 'from mission dev' }));

  const first = startDev(port, uiPort);
  await first.ready;
  expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
  let connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  let client = new Client({ connection });
  const id = `dev-${Date.now()}`;
  await client.workflow.start('mission', { taskQueue: 'mission', workflowId: id, args: [{ prompt: 'Outlive the process', repo }] });
  for (let i = 0; i < 100 && (await client.workflow.getHandle(id).query(statusQuery)).phase !== 'awaiting-approval'; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await connection.close();
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);

  const second = startDev(port, uiPort);
  try {
    await second.ready;
    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    client = new Client({ connection });
    const handle = client.workflow.getHandle(id);
    expect((await handle.query(statusQuery)).phase).toBe('awaiting-approval');
    await handle.signal(approvePlanSignal, {});
    const report = (await handle.result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(treeAt(repo, report.branch!)).toMatchObject({ 'dev.txt': 'from mission dev' });
    await connection.close();
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
}, 120_000);

test('`mission dev` killed with SIGKILL leaves no orphaned Temporal server behind', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const dev = startDev(port, uiPort);
  await dev.ready;
  expect(await portOpen(port)).toBe(true);
  dev.child.kill('SIGKILL');
  await dev.exited;
  const deadline = Date.now() + 30_000;
  while ((await portOpen(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(await portOpen(port)).toBe(false);
  expect(await portOpen(uiPort)).toBe(false);
}, 120_000);

test('`mission dev` killed mid-feature (its worker and its Temporal server both die) finishes the mission when started again', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'slow', files: ['slow.txt'] }] }]))]);
  h.model.script('feature slow', [tools(call('run_command', { command: 'sleep 2 && echo done > slow.txt' })), finish('slow work done')]);
  const first = startDev(port, uiPort);
  await first.ready;
  let connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  const id = `dev-crash-${Date.now()}`;
  await new Client({ connection }).workflow.start('mission', { taskQueue: 'mission', workflowId: id, args: [{ prompt: 'Outlive a server crash', repo, requirePlanApproval: false }] });
  await connection.close();
  const deadline = Date.now() + 60_000;
  while (!h.model.requestsFor('feature slow')[0]?.respondedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  first.child.kill('SIGKILL');
  await first.exited;
  while (await portOpen(port)) await new Promise((r) => setTimeout(r, 200));

  const second = startDev(port, uiPort);
  try {
    await second.ready;
    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    const report = (await new Client({ connection }).workflow.getHandle(id).result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(treeAt(repo, report.branch!)).toMatchObject({ 'slow.txt': 'done' });
    expect(h.model.requestsFor('feature slow')).toHaveLength(2);
    expect(h.model.requestsFor('plan')).toHaveLength(1);
    await connection.close();
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
}, 180_000);
