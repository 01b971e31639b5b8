import { Client, Connection } from '@temporalio/client';
import { approvePlanSignal, statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { portOpen } from '../src/embedded';
import { cliEnv, freePort, spawnCli } from './support/cli-process';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

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
