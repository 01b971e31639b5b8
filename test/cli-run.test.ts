import { readFileSync } from 'node:fs';
import path from 'node:path';
import { portOpen } from '../src/embedded';
import { cli, cliEnv, freePort, onHarness, spawnCli } from './support/cli-process';
import { statusQuery } from '../src/api/messages';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('cli-run');
const bin = path.join(__dirname, '..', 'bin', 'mission.js');

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('`mission run` with no server starts the embedded one; killed (SIGKILL), a second `mission run --id` finishes the same mission', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'emb', files: ['emb.txt'] }] }], 'Embedded plan'))]);
  h.model.script('feature emb', writesFiles({ 'emb.txt': 'embedded' }));
  const id = `run-embedded-${Date.now()}`;
  const env = cliEnv(h); // no TEMPORAL_ADDRESS: the CLI finds no server on --port and starts one
  const args = ['run', 'Build it embedded', '--id', id, '--port', String(port), '--ui-port', String(uiPort)];

  const first = spawnCli(args, env, { cwd: repo }); // the repository defaults to the current directory
  await first.waitFor(/approve with: +TEMPORAL_ADDRESS=127\.0\.0\.1:\d+ npx mission approve /, 90_000);
  expect(first.stderr()).toMatch(new RegExp(`mission ${id}: started on a local server started here \\(127\\.0\\.0\\.1:${port}, data in .*dev\\.db\\)\\n  Web UI: http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows/${id}`));
  expect(first.stdout()).toMatch(/Plan: Embedded plan\n {2}.*\n {2}m1 {2}Milestone m1/);
  expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  // Its supervisor stops the server when the CLI dies, so no orphan keeps the port and the database.
  await until(async () => !(await portOpen(port)), 30_000, 'the orphaned server to stop');

  const second = spawnCli(args, env, { cwd: repo });
  await second.waitFor(new RegExp(`mission ${id}: continuing`), 90_000);
  await second.waitFor(/approve with:/);
  const approved = await cli(['approve', id, '--json'], { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  expect(JSON.parse(approved.stdout)).toMatchObject({ missionId: id, sent: true });
  expect(await second.exited).toBe(0);
  expect(second.stdout()).toMatch(/# Mission report: Embedded plan[\s\S]*\*\*Outcome:\*\* completed/);
  expect(treeAt(repo, `mission/${id}`)).toMatchObject({ 'emb.txt': 'embedded' });
  expect(await portOpen(port)).toBe(false); // the embedded server stopped with the process
}, 240_000);

test('in a terminal, `mission run` shows the plan and asks: "r" revises with feedback, "y" approves, and it prints the report', async () => {
  const repo = makeRepo();
  h.model.script('plan', [
    planReply(makePlan([{ id: 'm1', features: [{ id: 'big', files: ['big.txt'] }] }], 'Too big')),
    planReply(makePlan([{ id: 'm1', features: [{ id: 'small', files: ['small.txt'] }] }], 'Just right')),
  ]);
  h.model.script('feature small', writesFiles({ 'small.txt': 'small' }));
  const id = `run-tty-${Date.now()}`;
  const command = [process.execPath, bin, 'run', 'Ask me', '--repo', repo, '--id', id].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // `script` gives the CLI a pseudo-terminal, as a person at a shell has.
  const p = spawnCli([], onHarness(h), { command: ['script', '-qfec', command, '/dev/null'] });
  await p.waitFor(/Plan: Too big[\s\S]*Approve this plan\? \[y\]es \/ \[n\]o \(reject\) \/ \[r\]evise with feedback: /);
  p.child.stdin!.write('r\n');
  await p.waitFor(/What should change\? /);
  p.child.stdin!.write('make it smaller\n');
  await p.waitFor(/Plan: Just right[\s\S]*Approve this plan\?/);
  p.child.stdin!.write('y\n');
  expect(await p.exited).toBe(0);
  expect(p.stdout()).toMatch(/# Mission report: Just right/);
  expect(JSON.stringify(h.model.requestsFor('plan').at(-1)!.body.messages)).toContain('make it smaller');
  expect(treeAt(repo, `mission/${id}`)).toMatchObject({ 'small.txt': 'small' });
}, 120_000);

test('`mission run --json` without a terminal prints JSON lines: progress, the plan with its approve command, and the report', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'j', files: ['j.txt'] }] }], 'JSON plan'))]);
  h.model.script('feature j', writesFiles({ 'j.txt': 'json' }));
  const id = `run-json-${Date.now()}`;
  const p = spawnCli(['run', 'Speak JSON', '--repo', repo, '--id', id, '--json'], onHarness(h));
  p.child.stdin!.end();
  await p.waitFor(/"event":"plan"/);
  expect((await cli(['approve', id], onHarness(h))).code).toBe(0);
  expect(await p.exited).toBe(0);
  const lines = p.stdout().trim().split('\n');
  const events = [];
  // Progress and plan are single lines; the final report is one indented JSON document.
  const start = lines.findIndex((l) => l === '{');
  for (const l of lines.slice(0, start)) events.push(JSON.parse(l) as { event?: string; phase?: string });
  const final = JSON.parse(lines.slice(start).join('\n')) as { event: string; report: { outcome: string } };
  expect(events.find((e) => e.event === 'plan')).toMatchObject({ approve: `mission approve ${id}`, plan: { title: 'JSON plan' } });
  expect(events.map((e) => e.phase).filter(Boolean)).toContain('awaiting-approval');
  expect(final).toMatchObject({ event: 'report', report: { outcome: 'completed' } });
}, 120_000);

test('`mission run` shows each running feature\'s turn, tokens and last tool, and no bundler or SDK log lines (those go to the worker log)', async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'shown', files: ['a.txt', 'b.txt'] }] }], 'Progress plan'))]);
  // Slow enough turns that the CLI's polls (every 500 ms) see the agent at work.
  h.model.script('feature shown', writesFiles({ 'a.txt': 'a', 'b.txt': 'b' }).map((r) => ({ ...r, delayMs: 1500 })));
  const id = `run-progress-${Date.now()}`;
  const run = await cli(['run', 'Show progress', '--repo', repo, '--id', id, '--port', String(port), '--ui-port', String(uiPort), '--no-require-plan-approval'], cliEnv(h));
  const output = run.stdout + run.stderr;
  expect(run.code).toBe(0);
  expect(output).toMatch(/^ {4}shown running · turn [23] of \d+ · \d+ tokens · unknown \(no price for the model\) · last: write_file a\.txt$/m);
  expect(output).not.toMatch(/TMPRL\d{4}|\[(?:WARN|INFO|DEBUG|TRACE)\]|\bwebpack\b|workflow-bundle-/i);
  // The SDK's lines are in the worker log, which the CLI names.
  const log = path.join(h.home, 'logs', 'worker.log');
  expect(run.stderr).toContain(`SDK log: ${log} (MISSION_WORKER_LOG=stderr prints it here)`);
  expect(readFileSync(log, 'utf8')).toMatch(/\[INFO\] Worker state changed .*state: 'RUNNING'/);
}, 240_000);

test('`mission run --json` of a mission cancelled midway prints its report: the phase turns final before the report is written, and the CLI waits for it', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'held', files: ['h.txt'] }] }], 'Held plan'))]);
  h.model.script('feature held', [{ ...writesFiles({ 'h.txt': 'h' })[0]!, delayMs: 60_000 }]);
  // The narrative of the cancelled mission's report takes a while: the workflow is still running when its phase says cancelled.
  h.model.script('report', [{ content: 'Cancelled while m1 ran.', delayMs: 3000 }]);
  const id = `run-cancel-report-${Date.now()}`;
  const run = spawnCli(['run', 'Hold it', '--repo', repo, '--id', id, '--no-require-plan-approval', '--json'], onHarness(h));
  const handle = h.client.workflow.getHandle(id);
  const running = async () => (await handle.query(statusQuery)).milestones[0]?.features[0]?.state === 'running';
  await until(() => running().catch(() => false), 60_000, 'the feature to run'); // not started yet: not found
  await handle.cancel();
  expect(await run.exited).toBe(1);
  // Progress lines, then the report as one indented JSON document.
  const lines = run.stdout().trim().split('\n');
  const start = lines.findIndex((l) => l === '{');
  expect(start).toBeGreaterThan(0);
  expect(JSON.parse(lines.slice(start).join('\n'))).toMatchObject({ event: 'report', report: { outcome: 'cancelled', narrative: expect.stringContaining('Cancelled while m1 ran.') } });
}, 120_000);
