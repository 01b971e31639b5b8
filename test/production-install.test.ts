import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { onHarness, spawnCli, cli } from './support/cli-process';
import { useHarness } from './support/harness';
import { makeRepo, tempDir, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('prod');
const root = path.join(__dirname, '..');

/**
 * What a user or the Docker image gets: the packed package installed without dev dependencies. It must run
 * every command, and a `mission worker` from it must carry a mission through (the image does exactly this).
 */
test('the packed package, installed with --omit=dev, runs `mission --help` and a worker that completes a mission', async () => {
  const packDir = tempDir('mission-pack-');
  // dist/ was built by the test run's global setup; --ignore-scripts skips building it again.
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], { cwd: root, stdio: 'ignore' });
  const tarball = path.join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz'))!);
  const app = tempDir('mission-prod-');
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'prod-check', private: true }));
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, stdio: 'ignore' });
  const installed = [process.execPath, path.join(app, 'node_modules', 'mission', 'bin', 'mission.js')];

  const help = await cli(['--help'], onHarness(h), { command: installed });
  expect(help.stderr).toBe('');
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/usage: mission <command>/);

  const taskQueue = `prod-${Date.now()}`;
  const worker = spawnCli(['worker'], onHarness(h, { MISSION_TASK_QUEUE: taskQueue }), { command: installed });
  try {
    await worker.waitFor(/mission worker: task queue/, 90_000);
    const repo = makeRepo();
    h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'prod', files: ['prod.txt'] }] }]))]);
    h.model.script('feature prod', writesFiles({ 'prod.txt': 'from the packed worker' }));
    const handle = await h.client.workflow.start('mission', { taskQueue, workflowId: `prod-${Date.now()}`, args: [{ prompt: 'x', repo, requirePlanApproval: false }] });
    const result = (await handle.result()) as { outcome: string; branch: string };
    expect(result.outcome).toBe('completed');
    expect(treeAt(repo, result.branch)).toMatchObject({ 'prod.txt': 'from the packed worker' });
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  expect(worker.stderr()).not.toMatch(/Cannot find module/);
  // It loaded the bundle the package ships: no webpack run at start.
  expect(worker.stderr()).not.toMatch(/building it/);
}, 300_000);
