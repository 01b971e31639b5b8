import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { approvePlanSignal, pauseSignal, rejectPlanSignal, revisePlanSignal } from '../src/api/messages';
import { useHarness } from './support/harness';
import { branches, git, makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('approval');

const userMessages = (role: string, index: number) =>
  h.model.requestsFor(role)[index]!.body.messages.filter((m) => m.role === 'user').map((m) => String(m.content));

test('rejecting the plan ends the mission with no commits and no branch or worktree left', async () => {
  const repo = makeRepo({ 'README.md': '# reject\n' });
  const head = git(repo, 'rev-parse', 'HEAD');
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f1' }] }]))]);
  const handle = await h.start({ prompt: 'Something unwanted', repo });
  const waiting = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  expect(branches(repo)).toEqual(['main', `mission/${handle.workflowId}`]);

  // A signal that does not fit (revise without feedback) is ignored and recorded, not fatal.
  await handle.signal(revisePlanSignal, {} as never);
  await handle.signal(rejectPlanSignal, { reason: 'not now' });
  const result = await handle.result();

  expect(result.outcome).toBe('rejected');
  expect(result.rejection).toEqual({ reason: 'not now' });
  expect(branches(repo)).toEqual(['main']);
  expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
  expect(git(repo, 'status', '--porcelain')).toBe('');
  expect(git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(1);
  expect(existsSync(waiting.worktree!)).toBe(false);
  const status = await h.waitFor(handle, (s) => s.phase === 'rejected');
  expect(status.events.map((e) => e.message)).toContainEqual(expect.stringMatching(/revisePlan ignored: invalid payload: feedback/));
  expect(h.model.requests.filter((r) => r.role.startsWith('feature'))).toHaveLength(0);
});

test('revising the plan with feedback plans again and the second plan is the one carried out', async () => {
  const repo = makeRepo();
  const first = makePlan([{ id: 'm1', features: [{ id: 'old' }] }], 'First plan');
  const second = makePlan([{ id: 'm1', features: [{ id: 'new', files: ['new.txt'] }] }], 'Second plan');
  h.model.script('plan', [planReply(first), planReply(second)]);
  h.model.script('feature new', writesFiles({ 'new.txt': 'revised' }));

  const handle = await h.start({ prompt: 'Plan twice', repo });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 1);
  await handle.signal(revisePlanSignal, { feedback: 'Call the feature "new" and write new.txt' });
  const again = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 2);
  expect(again.plan?.title).toBe('Second plan');
  await handle.signal(approvePlanSignal); // no payload at all, as `temporal workflow signal` sends without --input
  const result = await handle.result();

  expect(result.plan?.title).toBe('Second plan');
  expect(result.milestones[0]!.features.map((f) => f.id)).toEqual(['new']);
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'new.txt': 'revised' });
  // The planner saw its first plan and the feedback in the same conversation.
  expect(userMessages('plan', 1).at(-1)).toContain('Call the feature "new" and write new.txt');
  expect(h.model.requestsFor('plan')[1]!.body.messages.some((m) => m.role === 'assistant' && String(m.content).includes('First plan'))).toBe(true);
  expect(h.model.requestsFor('plan')[0]!.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'mission_plan' } });
});

test('a plan over the limits is sent back with the errors and the corrected plan is used', async () => {
  const repo = makeRepo();
  const tooBig = makePlan([
    { id: 'm1', features: [{ id: 'a' }] },
    { id: 'm2', features: [{ id: 'b' }] },
  ]);
  const fixed = makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }] }], 'Fixed');
  h.model.script('plan', [planReply(tooBig), planReply(fixed)]);
  h.model.script('feature a', writesFiles({ 'a.txt': 'A' }));

  const handle = await h.start({ prompt: 'Small please', repo, maxMilestones: 1, requirePlanApproval: false });
  const result = await handle.result();

  expect(result.plan?.title).toBe('Fixed');
  expect(userMessages('plan', 1).at(-1)).toContain('the plan has 2 milestones but at most 1 are allowed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'a.txt': 'A' });
});

test('a planner that keeps breaking the rules fails the mission with a clear message after a bounded number of tries', async () => {
  const repo = makeRepo();
  h.model.script('plan', [{ content: 'not json' }, planReply({ title: 'x' }), { content: '{"milestones": 3}' }]);
  const handle = await h.start({ prompt: 'Hopeless', repo, requirePlanApproval: false });
  const err = await handle.result().catch((e: unknown) => e);

  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe('PLAN_INVALID');
  expect(cause.message).toMatch(/invalid plan 3 times; last problems: .*milestones/);
  expect(h.model.requestsFor('plan')).toHaveLength(3);
});

test('signals that do not fit the phase are recorded and ignored; pause holds new work until resume', async () => {
  const repo = makeRepo();
  h.model.script('plan', [{ ...planReply(makePlan([{ id: 'm1', features: [{ id: 'p', files: ['p.txt'] }] }])), delayMs: 500 }]);
  h.model.script('feature p', writesFiles({ 'p.txt': 'paused then resumed' }));
  const handle = await h.start({ prompt: 'Pause me', repo });
  await h.waitFor(handle, (s) => s.phase === 'planning');
  await handle.signal(approvePlanSignal, { comment: 'too early' });
  await handle.signal(pauseSignal, {});
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await handle.signal(approvePlanSignal, {});
  const paused = await h.waitFor(handle, (s) => s.phase === 'running' && s.paused);
  expect(paused.events.map((e) => e.message)).toContainEqual('approvePlan ignored: the mission is planning, not awaiting approval');
  await new Promise((r) => setTimeout(r, 500));
  expect(h.model.requestsFor('feature p')).toHaveLength(0);
  await handle.signal('resume' as never);
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'p.txt': 'paused then resumed' });
});

test('a mission started and approved with the plain Temporal CLI runs to completion', async () => {
  const binary = process.env.MISSION_TEST_TEMPORAL_BINARY;
  if (!binary) throw new Error('this test needs the temporal CLI: set TEMPORAL_CLI_PATH or put temporal on PATH');
  const run = promisify(execFile);
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'cli', files: ['cli.txt'] }] }]))]);
  h.model.script('feature cli', writesFiles({ 'cli.txt': 'from the cli' }));
  const id = `cli-${Date.now()}`;
  const input = JSON.stringify({ prompt: 'Started from the Temporal CLI', repo, useWorktrees: true });
  const common = ['--address', h.address, '--namespace', 'default'];
  await run(binary, ['workflow', 'start', ...common, '--type', 'mission', '--task-queue', h.taskQueue, '--workflow-id', id, '--input', input]);
  const handle = h.client.workflow.getHandle(id);
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await run(binary, ['workflow', 'signal', ...common, '--workflow-id', id, '--name', 'approvePlan']);
  const { stdout } = await run(binary, ['workflow', 'result', ...common, '--workflow-id', id, '--output', 'json']);
  expect(stdout).toContain('"outcome": "completed"');
  expect(treeAt(repo, `mission/${id}`)).toMatchObject({ 'cli.txt': 'from the cli' });
  expect(path.isAbsolute(repo)).toBe(true);
  // Filter missions by their search attributes with the plain CLI (visibility is eventually consistent).
  let listed = '';
  for (let i = 0; i < 50 && !listed.includes(id); i++) {
    listed = (await run(binary, ['workflow', 'list', ...common, '--query', `WorkflowId = '${id}' AND MissionStatus = 'completed'`, '--output', 'json'])).stdout;
    if (!listed.includes(id)) await new Promise((r) => setTimeout(r, 200));
  }
  expect(listed).toContain(id);
});

test('cancelling the mission at the approval gate aborts it and removes the empty branch and worktree', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f1' }] }]))]);
  const handle = await h.start({ prompt: 'Cancel me', repo });
  const waiting = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  expect(branches(repo)).toEqual(['main']);
  expect(existsSync(waiting.worktree!)).toBe(false);
  expect(h.model.requests.filter((r) => r.role !== 'plan')).toHaveLength(0);
});
