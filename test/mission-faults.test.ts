import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { MissionReport } from '../src/api/report';
import { useHarness } from './support/harness';
import { branches, git, makeRepo, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';

const h = useHarness('faults');

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
  return (err as WorkflowFailedError).cause as ApplicationFailure;
}

test('a rejected API key fails the mission at once with MODEL_AUTH, without retrying', async () => {
  h.model.script('plan', [{ status: 401, message: 'Incorrect API key provided' }]);
  const handle = await h.start({ prompt: 'x', repo: makeRepo() });
  const f = await failureOf(handle.result());
  expect(f.type).toBe('MODEL_AUTH');
  expect(f.message).toMatch(/refused the credentials \(HTTP 401\).*Set a valid OPENAI_API_KEY/);
  expect(h.model.requestsFor('plan')).toHaveLength(1);
  const status = await h.waitFor(handle, (s) => s.phase === 'failed');
  expect(status.error).toMatchObject({ type: 'MODEL_AUTH' });
});

test('a fatal model error inside a feature agent fails the mission, keeping the work branch', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f' }] }]))]);
  h.model.script('feature f', [tools(call('write_file', { path: 'kept.txt', content: 'kept' })), { status: 404, message: 'no such model' }]);
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true });
  const f = await failureOf(handle.result());
  expect(f.type).toBe('MODEL_NOT_FOUND');
  expect(f.message).toMatch(/Set MISSION_MODEL or the input's models/);
  // Nothing is lost: the feature's branch still exists.
  expect(branches(repo)).toContain(`mission/${handle.workflowId}-f`);
  expect(readFileSync(path.join(h.home, 'worktrees', `${handle.workflowId}-f`, 'kept.txt'), 'utf8')).toBe('kept');
  // The failed agent's tokens still count: the status and the failed mission's report hold every token the server reported.
  const served = (role: string) => h.model.requestsFor(role).reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0);
  expect(served('feature f')).toBeGreaterThan(0);
  const status = await h.waitFor(handle, (s) => s.phase === 'failed');
  expect(status.tokensByRole.feature?.total).toBe(served('feature f'));
  const file = path.join(h.home, 'reports', `${handle.workflowId}.json`);
  await h.waitFor(handle, () => existsSync(file));
  const report = JSON.parse(readFileSync(file, 'utf8')) as MissionReport;
  expect(report.tokens.total).toBe(h.model.requests.reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0));
});

test('transient model errors (503, dropped connection) are retried by Temporal and the mission completes', async () => {
  const repo = makeRepo();
  h.model.script('plan', [{ status: 503, message: 'overloaded' }, planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'] }] }]))]);
  h.model.script('feature f', [{ status: 0, dropConnection: true }, ...writesFiles({ 'f.txt': 'after retries' })]);
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'f.txt': 'after retries' });
  expect(h.model.requestsFor('plan')).toHaveLength(2);
  expect(h.model.requestsFor('feature f')).toHaveLength(3);
}, 60_000);

test('malformed tool calls go back to the model as tool errors', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f' }] }]))]);
  h.model.script('feature f', [
    tools(call('delete_repo', {}), call('write_file', '{"path": "x.txt", "content": '), call('read_file', { path: 42 })),
    ...writesFiles({ 'x.txt': 'recovered' }),
  ]);
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  const answers = h.model.requestsFor('feature f')[1]!.body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content));
  expect(answers).toEqual([
    expect.stringMatching(/unknown tool "delete_repo"/),
    expect.stringMatching(/arguments of write_file are not valid JSON/),
    expect.stringMatching(/invalid arguments for read_file: path:/),
  ]);
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'x.txt': 'recovered' });
});

test('HTTP 429 with Retry-After: Temporal retries the turn no sooner than the server asked, and the mission completes', async () => {
  const repo = makeRepo();
  h.model.script('plan', [
    { status: 429, message: 'rate limited', headers: { 'retry-after': '3' } },
    planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'] }] }])),
  ]);
  h.model.script('feature f', writesFiles({ 'f.txt': 'after the wait' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  const [limited, retried] = h.model.requestsFor('plan');
  expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(2900);
  // The wait is Temporal's (visible in history as the activity's retry), not the openai client's.
  const history = await handle.fetchHistory();
  const planTask = history.events!.find((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt === 2);
  expect(planTask).toBeDefined();
}, 60_000);

test('a plan whose feature ids are Mission\'s own names (plan, report) is sent back to the planner, and the next plan runs', async () => {
  const repo = makeRepo();
  const clashing = makePlan([{ id: 'm1', features: [{ id: 'plan', files: ['p.txt'] }, { id: 'report', files: ['r.txt'] }] }]);
  const fixed = makePlan([{ id: 'm1', features: [{ id: 'planner-notes', files: ['p.txt'] }, { id: 'summary', files: ['r.txt'] }] }]);
  h.model.script('plan', [planReply(clashing), planReply(fixed)]);
  h.model.script('feature planner-notes', writesFiles({ 'p.txt': 'p' }));
  h.model.script('feature summary', writesFiles({ 'r.txt': 'r' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'p.txt': 'p', 'r.txt': 'r' });
  const second = JSON.stringify(h.model.requestsFor('plan')[1]!.body.messages.at(-1));
  expect(second).toMatch(/feature id \\"plan\\" is reserved for Mission's own use/);
  expect(second).toMatch(/feature id \\"report\\" is reserved/);
});

test('without worktrees, a failed feature\'s edits are kept on a branch of their own, never in the next feature\'s commit', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'broken', files: ['a.txt'] }, { id: 'next', files: ['b.txt'] }] }]))]);
  // `broken` writes a file, then hangs in a model call until an operator terminates its workflow.
  h.model.script('feature broken', [tools(call('write_file', { path: 'a.txt', content: 'half done' })), { ...finish('never sent'), delayMs: 20_000 }]);
  h.model.script('feature next', writesFiles({ 'b.txt': 'next' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: false });
  const child = h.client.workflow.getHandle(`${handle.workflowId}/m1/broken`);
  for (let i = 0; i < 200 && h.model.requestsFor('feature broken').length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  await child.terminate('stuck agent');
  const result = await handle.result();

  const branch = `mission/${handle.workflowId}`;
  const nextCommit = result.milestones[0]!.features.find((f) => f.id === 'next')!.commit!;
  expect(git(repo, 'show', '--name-only', '--format=', nextCommit).split('\n')).toEqual(['b.txt']);
  expect(treeAt(repo, branch)).not.toHaveProperty('a.txt');
  const kept = `mission/${handle.workflowId}-broken`;
  expect(branches(repo)).toContain(kept);
  expect(treeAt(repo, kept)).toMatchObject({ 'a.txt': 'half done' });
  expect(result.milestones[0]!.features.find((f) => f.id === 'broken')).toMatchObject({ state: 'failed', branch: kept });
}, 90_000);

test('a feature agent that fails (its work cannot be committed) fails alone: its tokens count, it is unresolved, the mission goes on', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'nested', files: ['sub/'] }, { id: 'fine', files: ['fine.txt'] }] }]))]);
  // An empty nested repository makes `git add -A` fail (GIT_FAILED): the agent's workflow fails after its turns.
  h.model.script('feature nested', [tools(call('run_command', { command: 'git init -q sub' })), finish('made a nested repo')]);
  h.model.script('feature fine', writesFiles({ 'fine.txt': 'fine' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true });
  const result = await handle.result();

  const [nested, fine] = result.milestones[0]!.features;
  expect(nested).toMatchObject({ state: 'failed', turns: 2, summary: expect.stringMatching(/git add -A failed/) });
  expect(fine).toMatchObject({ state: 'done', merge: { state: 'merged' } });
  expect(result.outcome).toBe('completed-with-issues');
  expect(result.unresolved).toEqual([expect.objectContaining({ kind: 'feature', name: 'nested', state: 'failed' })]);
  const served = (role: string) => h.model.requestsFor(role).reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0);
  expect(nested!.tokens!.total).toBe(served('feature nested'));
  expect(result.tokensByRole.feature!.total).toBe(served('feature nested') + served('feature fine'));
  expect(result.tokens.total).toBe(h.model.requests.reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0));
});
