import { statusQuery } from '../src/api/messages';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { makeRepo, tempDir, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('cli');

test('run --detach → status → approve → watch to completion → list → report, all from the CLI as a subprocess', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'cli', files: ['cli.txt'] }] }], 'CLI plan'))]);
  h.model.script('feature cli', writesFiles({ 'cli.txt': 'via the CLI' }));
  const id = `cli-flow-${Date.now()}`;

  // TEMPORAL_ADDRESS is set (the test server), so `run` uses it and the harness's worker serves the task queue.
  const started = await runCli(h, ['run', 'From the CLI', '--repo', repo, '--id', id, '--detach', '--json', '--max-concurrency', '2']);
  expect(started.code).toBe(0);
  expect(JSON.parse(started.out[0]!)).toMatchObject({ missionId: id, address: h.address, continued: false });
  const handle = h.client.workflow.getHandle(id);
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  const status = await runCli(h, ['status', id, '--json']);
  expect(JSON.parse(status.out[0]!)).toMatchObject({ phase: 'awaiting-approval', plan: { title: 'CLI plan' } });
  expect((await runCli(h, ['status', id])).out[0]).toMatch(new RegExp(`^${id}: awaiting-approval · \\d+ tokens · unknown \\(no price for the model\\)\n {2}m1 pending`));

  const approved = await runCli(h, ['approve', id, '--by', 'cli-user', '--node', 'mission:approve-plan', '--json']);
  expect(JSON.parse(approved.out[0]!)).toEqual({ missionId: id, signal: 'approvePlan', sent: true, applied: true });
  const watched = await runCli(h, ['watch', id]);
  expect(watched.code).toBe(0);
  expect(watched.out[0]).toMatch(/: completed · \d+ tokens · unknown \(no price for the model\)\n {2}m1 done · validation not-validated/);
  const watchedJson = await runCli(h, ['watch', id, '--json']);
  expect(watchedJson.out[0]!.trim().split('\n').map((l) => JSON.parse(l) as { phase: string }).at(-1)).toMatchObject({ phase: 'completed', milestones: [{ id: 'm1', state: 'done' }] });
  expect(treeAt(repo, `mission/${id}`)).toMatchObject({ 'cli.txt': 'via the CLI' });

  let listed: { missionId: string; status: string }[] = [];
  for (let i = 0; i < 50 && !listed.some((r) => r.missionId === id && r.status === 'COMPLETED'); i++) {
    listed = JSON.parse((await runCli(h, ['list', '--json'])).out[0]!) as typeof listed;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(listed).toContainEqual(expect.objectContaining({ missionId: id, status: 'COMPLETED' }));
  expect((await runCli(h, ['report', id])).out[0]).toMatch(/^# Mission report: CLI plan/);
  expect(JSON.parse((await runCli(h, ['report', id, '--json'])).out[0]!)).toMatchObject({ outcome: 'completed', missionId: id });
  expect(JSON.parse((await runCli(h, ['list', '--json', '--query', `WorkflowId = '${id}'`])).out[0]!)).toEqual([expect.objectContaining({ missionId: id })]);
});

test('revise, pause, resume, reject and cancel from the CLI', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }], 'One')), planReply(makePlan([{ id: 'm1', features: [{ id: 'b' }] }], 'Two'))]);
  const id = `cli-revise-${Date.now()}`;
  expect((await runCli(h, ['start', '--id', id, '--input', JSON.stringify({ prompt: 'Revise me', repo })])).code).toBe(0);
  const handle = h.client.workflow.getHandle(id);
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  expect((await runCli(h, ['revise', id, '--feedback', 'make it two'])).code).toBe(0);
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.plan?.title === 'Two');
  expect(JSON.parse((await runCli(h, ['pause', id, '--json'])).out[0]!)).toEqual({ missionId: id, signal: 'pause', sent: true, applied: true });
  await h.waitFor(handle, (s) => s.paused);
  expect((await runCli(h, ['resume', id])).code).toBe(0);
  await h.waitFor(handle, (s) => !s.paused);
  expect((await runCli(h, ['reject', id, '--reason', 'changed my mind'])).code).toBe(0);
  expect(await handle.result()).toMatchObject({ outcome: 'rejected', rejection: { reason: 'changed my mind' } });

  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'c' }] }]))]);
  const other = `cli-cancel-${Date.now()}`;
  await runCli(h, ['start', '--id', other, '--input', JSON.stringify({ prompt: 'Cancel me', repo })]);
  await h.waitFor(h.client.workflow.getHandle(other), (s) => s.phase === 'awaiting-approval');
  expect(JSON.parse((await runCli(h, ['cancel', other, '--json'])).out[0]!)).toEqual({ missionId: other, cancelRequested: true });
  await expect(h.client.workflow.getHandle(other).result()).rejects.toThrow();
  expect((await h.client.workflow.getHandle(other).describe()).status.name).toBe('CANCELLED');
});

test('a decision that does not fit the phase is not reported as sent: approve while planning, twice, and after the end', async () => {
  const repo = makeRepo();
  // The planner thinks long enough for a CLI process to start on a loaded machine.
  h.model.script('plan', [{ ...planReply(makePlan([{ id: 'm1', features: [{ id: 'late', files: ['late.txt'] }] }])), delayMs: 8000 }]);
  h.model.script('feature late', writesFiles({ 'late.txt': 'x' }));
  const id = `cli-late-${Date.now()}`;
  expect((await runCli(h, ['start', '--id', id, '--input', JSON.stringify({ prompt: 'Too early', repo })])).code).toBe(0);
  const handle = h.client.workflow.getHandle(id);
  await h.waitFor(handle, (s) => s.phase === 'planning');

  const early = await runCli(h, ['approve', id]);
  expect(early.code).toBe(1);
  expect(early.err.join('\n')).toMatch(/approvePlan refused: the mission is planning, not awaiting approval/);
  expect(early.out.join('')).not.toMatch(/sent to/);

  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  const approved = await runCli(h, ['approve', id]);
  expect(approved.code).toBe(0);
  expect(approved.out[0]!.trim()).toBe(`approvePlan applied to ${id}`);
  const again = await runCli(h, ['approve', id]);
  expect(again.code).toBe(1);
  expect(again.err.join('\n')).toMatch(/approvePlan refused: the mission is (running|validating|committing|reporting|completed), not awaiting approval|has already ended/);
  await handle.result();
  const ended = await runCli(h, ['reject', id]);
  expect(ended.code).toBe(1);
  expect(ended.err.join('\n')).toMatch(new RegExp(`mission ${id} has already ended \\(completed\\); rejectPlan was not sent`));
  const status = await handle.query(statusQuery);
  expect(status.events.filter((e) => e.type === 'signal-ignored')).toEqual([]);
});

test('mission report reads a failed mission\'s report from Temporal, not from the CLI\'s own disk (a worker on another host)', async () => {
  h.model.script('plan', [{ status: 401, message: 'Incorrect API key provided' }]);
  const id = `cli-report-${Date.now()}`;
  expect((await runCli(h, ['start', '--id', id, '--input', JSON.stringify({ prompt: 'Fail me', repo: makeRepo() })])).code).toBe(0);
  await expect(h.client.workflow.getHandle(id).result()).rejects.toThrow();
  // The CLI's MISSION_HOME is not the worker's: only Temporal can answer.
  const elsewhere = { MISSION_HOME: tempDir('cli-home-') };
  const printed = await runCli(h, ['report', id, '--json'], elsewhere);
  expect(printed.err.join('')).toBe('');
  expect(printed.code).toBe(0);
  expect(JSON.parse(printed.out[0]!)).toMatchObject({ missionId: id, outcome: 'failed' });
  expect((await runCli(h, ['report', id], elsewhere)).out[0]).toMatch(/^# Mission report/);
});

test.each([
  [['approve'], /expected one mission id\nusage: mission approve MISSION_ID/],
  [['start', '--input', 'not json'], /--input is not valid JSON/],
  [['start', '--input', '{"maxConcurency": 1}'], /maxConcurency: unknown field \(did you mean "maxConcurrency"\?\)/],
  [['start', '--bogus'], /Unknown option '--bogus'/],
  [['run', '--max-concurrency', '99', 'x'], /--max-concurrency: must be at most 16/],
  [['run', '--budget.max-tokens', 'lots', 'x'], /--budget\.max-tokens: "lots" is not a number/],
  [['run', '--validation.commands', '[{"name":"t"}]', 'x'], /validation\.commands\.0\.run: /],
  [['run', '--validation.commands', 'npm test', 'x'], /--validation\.commands: not valid JSON .* for example --validation\.commands '\[\{"name":"test","run":"npm test"\}\]'/],
  [['run', '--prompt', 'a', 'b'], /give the prompt once/],
  [['run', '--input', '@/no/such/file.json'], /--input @\/no\/such\/file\.json: cannot read the file \(ENOENT\)/],
  [['run', '--input', '[1]'], /--input must be a JSON object/],
  [['run', '--port', 'http', 'x'], /--port must be a port number/],
  [['run', '--use-worktrees=yes', 'x'], /--use-worktrees' does not take an argument/],
  [['list', 'extra'], /unexpected argument "extra"/],
  [['watch', 'id', '--interval', '0'], /--interval must be a number of seconds above 0/],
  [['schedule', 'create', '--cron', '* * * * *'], /--id is required/],
  [['status', 'a', 'b', '--json'], /"error":"expected one mission id/],
  [['revise', 'some-id'], /--feedback is required/],
  [['replan', 'some-id'], /--feedback is required\nusage: mission replan MISSION_ID --feedback TEXT/],
  [['steer', 'some-id'], /expected a mission id and the note\nusage: mission steer MISSION_ID "NOTE"/],
  [['skip', 'some-id'], /expected a mission id and a feature id\nusage: mission skip MISSION_ID FEATURE_ID/],
  [['retry', 'some-id', 'f1', 'f2'], /expected a mission id and a feature id\nusage: mission retry MISSION_ID FEATURE_ID/],
  [['frobnicate'], /unknown command "frobnicate"/],
  [['start', 'Do it', '--require-plan-approval', 'false'], /--require-plan-approval takes no value: write --require-plan-approval for true, --no-require-plan-approval for false/],
  [['approve', 'some-id', '--node', 'deploy'], /--node must be mission:approve-plan/],
])('bad invocation %j exits 2 with a clear message', async (args, message) => {
  const result = await runCli(h, args);
  expect(result.code).toBe(2);
  expect(result.err.join('\n')).toMatch(message);
});

test('an unknown mission id and an unreachable server each get a message that says what to do', async () => {
  const unknown = await runCli(h, ['status', 'no-such-mission']);
  expect(unknown.code).toBe(1);
  expect(unknown.err.join('\n')).toMatch(/no mission "no-such-mission" on this Temporal server and namespace; "mission list" shows the missions/);

  const unreachable = await runCli(h, ['status', 'x'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(unreachable.code).toBe(1);
  expect(unreachable.err.join('\n')).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1 .*"npx mission dev".*TEMPORAL_ADDRESS/);

  const worker = await runCli(h, ['worker'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(worker.code).toBe(1);
  expect(worker.err.join('\n')).toMatch(/mission worker: cannot reach Temporal at 127\.0\.0\.1:1 .*"npx mission dev".*TEMPORAL_ADDRESS/);
}, 60_000);
