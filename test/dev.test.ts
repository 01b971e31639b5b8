import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { approvePlanSignal, statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('dev');
const bin = path.join(__dirname, '..', 'bin', 'mission.js');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function startDev(port: number, uiPort: number): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(process.execPath, [bin, 'dev', '--port', String(port), '--ui-port', String(uiPort)], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MISSION_HOME: h.home,
      OPENAI_BASE_URL: h.model.baseURL,
      OPENAI_API_KEY: 'sk-test-secret-key-123456',
      TEMPORAL_CLI_PATH: process.env.MISSION_TEST_TEMPORAL_BINARY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => output.includes('mission dev: worker on task queue') && (clearInterval(timer), resolve()), 50);
    void exited.then((code) => (clearInterval(timer), reject(new Error(`mission dev exited (${code}):\n${output}`))));
  });
  return { child, ready, exited };
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
