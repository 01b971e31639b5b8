import { readFileSync } from 'node:fs';
import { statusQuery } from '../src/api/messages';
import type { MissionStatus } from '../src/api/status';
import { approvePlan, replan, retryFeature, skipFeature, steer } from '../src/client';
import { runCli } from './support/cli';
import type { ChatMessage } from './support/model-server';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { finish, makePlan, planReply, writesFiles } from './support/scripts';
import { temporalWorkflow } from './support/temporal-cli';

const h = useHarness('steering');

/** How many user messages of a request carry the text. */
const mentions = (messages: ChatMessage[], text: string) => messages.filter((m) => m.role === 'user' && String(m.content).includes(text)).length;
const feature = (s: MissionStatus, id: string) => s.milestones.flatMap((m) => m.features).find((f) => f.id === id);
/** Long enough for a decision sent from another process to arrive while the model call is out, on a loaded machine. */
const SLOW_MS = 8000;

test('a steer note reaches a running agent in its next request and a later agent in its first, once each; status and report keep it', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'early', files: ['a.txt', 'b.txt'] }] }, { id: 'm2', features: [{ id: 'later', files: ['c.txt'] }] }]))]);
  const [first, ...rest] = writesFiles({ 'a.txt': 'a', 'b.txt': 'b' });
  h.model.script('feature early', [{ ...first!, delayMs: SLOW_MS }, ...rest]);
  h.model.script('feature later', writesFiles({ 'c.txt': 'c' }));
  const handle = await h.start({ prompt: 'Steer me', repo, requirePlanApproval: false });
  await waitForRequests('feature early', 1);

  const NOTE = 'Write every file in lower case.';
  const cli = await runCli(h, ['steer', handle.workflowId, NOTE, '--by', 'alice']);
  expect(cli.code).toBe(0);
  expect(cli.out.join('\n')).toContain(`steer applied to ${handle.workflowId}`);

  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  const early = h.model.requestsFor('feature early').map((r) => r.body.messages);
  // Not in the request already out; in the next one, as its last message; and only once from then on.
  expect(early.map((messages) => mentions(messages, NOTE))).toEqual([0, 1, 1]);
  expect(early[1]![early[1]!.length - 1]).toEqual({ role: 'user', content: expect.stringMatching(/^Steering note from a person \(alice\) running this mission, sent \S+:\nWrite every file in lower case\./) });
  const later = h.model.requestsFor('feature later').map((r) => r.body.messages);
  expect(later.map((messages) => mentions(messages, NOTE))).toEqual([1, 1]);

  const status = await handle.query(statusQuery);
  expect(status.steering).toEqual([{ at: expect.any(String), note: NOTE, by: 'alice' }]);
  expect(result.steering).toEqual(status.steering);
  expect(readFileSync(result.reportPath!, 'utf8')).toMatch(/## Steering notes\n[\s\S]*- \S+ \(alice\): Write every file in lower case\./);

  // Once the mission has ended, a note is refused with the phase named: mission CLI and Temporal CLI alike.
  const refused = await runCli(h, ['steer', handle.workflowId, 'too late']);
  expect(refused.code).toBe(1);
  expect(refused.err.join('\n')).toMatch(/ended|already completed/);
  const viaTemporal = await temporalWorkflow(h, ['update', 'execute'], handle.workflowId, 'steer', { note: 'too late' });
  expect(viaTemporal.code).not.toBe(0);

  // The four decisions are in `mission --help`.
  const help = (await runCli(h, ['--help'])).out.join('\n');
  for (const command of ['steer', 'replan', 'skip', 'retry']) expect(help).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
});

test('skip: a pending feature is not run, a running one stops with its work kept on its branch; both unresolved, the mission completed-with-issues', async () => {
  const repo = makeRepo();
  const plan = makePlan([
    {
      id: 'm1',
      features: [
        { id: 'long', files: ['long.txt', 'more.txt'] },
        { id: 'after', files: ['after.txt'], dependsOn: ['long'] },
        { id: 'fine', files: ['fine.txt'] },
      ],
    },
  ]);
  h.model.script('plan', [planReply(plan)]);
  const [wrote, more] = writesFiles({ 'long.txt': 'partial', 'more.txt': 'never' });
  h.model.script('feature long', [wrote!, { ...more!, delayMs: SLOW_MS }]);
  h.model.script('feature fine', writesFiles({ 'fine.txt': 'fine' }));
  const handle = await h.start({ prompt: 'Skip some', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 2 });
  await waitForRequests('feature long', 2);

  // Plain JSON through the Temporal CLI's signal, as the Web UI would send it.
  expect((await temporalWorkflow(h, ['signal'], handle.workflowId, 'skipFeature', { featureId: 'after', reason: 'not needed' })).code).toBe(0);
  await h.waitFor(handle, (s) => feature(s, 'after')?.state === 'skipped');
  await expect(skipFeature(h.client, handle.workflowId, 'nope')).rejects.toThrow('skipFeature refused: no feature "nope" in the plan; its features: long, after, fine');
  const ack = await skipFeature(h.client, handle.workflowId, 'long', 'taking too long');
  expect(ack).toMatchObject({ decision: 'skipFeature' });

  const result = await handle.result();
  expect(result.outcome).toBe('completed-with-issues');
  expect(h.model.requestsFor('feature after')).toEqual([]);
  const long = result.milestones[0]!.features.find((f) => f.id === 'long')!;
  expect(long).toMatchObject({ state: 'skipped', skipped: { wasRunning: true, reason: 'taking too long' } });
  expect(result.unresolved.map((u) => [u.name, u.detail])).toEqual([
    ['long', expect.stringMatching(/^skipped by a person \(taking too long\): its agent was stopped; its work is commit \w{8} on \S+, not merged$/)],
    ['after', 'skipped by a person (not needed): not run'],
  ]);
  // Nothing lost: the stopped agent's first file is on its branch; the mission branch has only the finished feature.
  expect(treeAt(repo, long.branch!)).toMatchObject({ 'long.txt': 'partial' });
  const merged = treeAt(repo, result.branch!);
  expect(merged).toMatchObject({ 'fine.txt': 'fine' });
  expect(merged['long.txt']).toBeUndefined();
});

test('skip without worktrees: the stopped agent\'s work is committed on the mission branch (said so), and the next feature goes on from it', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'first', files: ['x.txt', 'y.txt'] }, { id: 'second', files: ['z.txt'] }] }]))]);
  const [x, y] = writesFiles({ 'x.txt': 'x', 'y.txt': 'never' });
  h.model.script('feature first', [x!, { ...y!, delayMs: SLOW_MS }]);
  h.model.script('feature second', writesFiles({ 'z.txt': 'z' }));
  const handle = await h.start({ prompt: 'Skip in place', repo, requirePlanApproval: false });
  await waitForRequests('feature first', 2);
  expect((await runCli(h, ['skip', handle.workflowId, 'first'])).code).toBe(0);

  const result = await handle.result();
  expect(result.outcome).toBe('completed-with-issues');
  expect(result.unresolved.map((u) => [u.name, u.merged, u.detail])).toEqual([['first', true, expect.stringMatching(/^skipped by a person: its agent was stopped; its work is commit \w{8} on \S+ \(on the mission branch\)$/)]]);
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'x.txt': 'x', 'z.txt': 'z' });
  expect(treeAt(repo, result.branch!)['y.txt']).toBeUndefined();
});

test('retry: a feature that ended blocked runs again with a new agent told of the first attempt, and ends done and merged', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'flaky', files: ['flaky.txt'] }, { id: 'slow', files: ['slow.txt'] }] }]))]);
  h.model.script('feature flaky', [finish('the spec file is missing', 'blocked'), ...writesFiles({ 'flaky.txt': 'second time' })]);
  const [slowFirst, ...slowRest] = writesFiles({ 'slow.txt': 'slow' });
  h.model.script('feature slow', [{ ...slowFirst!, delayMs: SLOW_MS }, ...slowRest]);
  const handle = await h.start({ prompt: 'Retry me', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 2 });
  await h.waitFor(handle, (s) => feature(s, 'flaky')?.state === 'blocked');

  await expect(retryFeature(h.client, handle.workflowId, 'slow')).rejects.toThrow('retryFeature refused: feature "slow" has not ended (it is running): only a feature that ended can be retried');
  const cli = await runCli(h, ['retry', handle.workflowId, 'flaky', '--reason', 'spec added']);
  expect(cli.code).toBe(0);

  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  const flaky = result.milestones[0]!.features.find((f) => f.id === 'flaky')!;
  expect(flaky).toMatchObject({ state: 'done', attempts: [{ state: 'blocked', summary: 'the spec file is missing' }], merge: { state: 'merged' } });
  const retried = h.model.requestsFor('feature flaky');
  expect(retried).toHaveLength(3);
  expect(String(retried[1]!.body.messages[1]!.content)).toContain('This is attempt 2 at this task: a person asked for it to be done again.\nThe previous attempt ended blocked: the spec file is missing');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'flaky.txt': 'second time', 'slow.txt': 'slow' });
  expect(result.milestones[0]!.state).toBe('done');
});

test('replan: the milestones not started are planned again (a draft that changes a done one is refused back), approved again, and run; done work stays', async () => {
  const repo = makeRepo();
  const first = makePlan([
    { id: 'm1', features: [{ id: 'f1', files: ['one.txt'] }] },
    { id: 'm2', features: [{ id: 'f2', files: ['two.txt'] }] },
    { id: 'm3', features: [{ id: 'f3', files: ['three.txt'] }] },
  ]);
  const tampered = makePlan([{ id: 'm1', title: 'Renamed', features: [{ id: 'f1', files: ['one.txt'] }] }, { id: 'm2b', features: [{ id: 'g', files: ['g.txt'] }] }]);
  const second = makePlan([first.milestones[0]!, { id: 'm2b', features: [{ id: 'g', files: ['g.txt'] }] }]);
  h.model.script('plan', [planReply(first), planReply(tampered), planReply(second)]);
  const [f1First, ...f1Rest] = writesFiles({ 'one.txt': 'one' });
  h.model.script('feature f1', [{ ...f1First!, delayMs: SLOW_MS }, ...f1Rest]);
  h.model.script('feature g', writesFiles({ 'g.txt': 'g' }));
  const handle = await h.start({ prompt: 'Replan me', repo });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await expect(replan(h.client, handle.workflowId, 'later')).rejects.toThrow('replan refused: the mission is awaiting-approval: revise the plan awaiting approval instead ("mission revise")');
  await approvePlan(h.client, handle.workflowId, { revision: 1 });
  await waitForRequests('feature f1', 1);

  const cli = await runCli(h, ['replan', handle.workflowId, '--feedback', 'Drop m2 and m3; do g instead.']);
  expect(cli.code).toBe(0);
  const gate = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 2);
  // m1 ran to its end first, untouched; the rest is the new plan.
  expect(gate.milestones.map((m) => [m.id, m.state])).toEqual([['m1', 'done'], ['m2b', 'pending']]);
  const planner = h.model.requestsFor('plan').map((r) => r.body.messages);
  expect(String(planner[1]![planner[1]!.length - 1]!.content)).toMatch(/re-plan the milestones not started yet:\nDrop m2 and m3; do g instead\.\nMilestones m1 are done or under way: keep them exactly as they are/);
  expect(String(planner[2]![planner[2]!.length - 1]!.content)).toContain('milestone "m1" is done or under way and must stay exactly as it was');
  const m1Commit = gate.milestones[0]!.commit;

  // A note at the gate reaches the agents of the new plan (the client's steer answers with the phase).
  expect(await steer(h.client, handle.workflowId, 'Name files in lower case.', 'bob')).toMatchObject({ decision: 'steer', phase: 'awaiting-approval', planRevision: 2 });
  await expect(approvePlan(h.client, handle.workflowId, { revision: 1 })).rejects.toThrow(/it approves plan revision 1, but the plan awaiting approval is revision 2/);
  await approvePlan(h.client, handle.workflowId, { revision: 2 });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(result.milestones.map((m) => [m.id, m.state])).toEqual([['m1', 'done'], ['m2b', 'done']]);
  expect(result.milestones[0]!.commit).toBe(m1Commit);
  expect(h.model.requestsFor('feature f2')).toEqual([]);
  expect(mentions(h.model.requestsFor('feature g')[0]!.body.messages, 'Name files in lower case.')).toBe(1);
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'one.txt': 'one', 'g.txt': 'g' });
  expect(treeAt(repo, result.branch!)['two.txt']).toBeUndefined();
});

test('replan rejected at the gate: the mission stops before the milestones not started; done work stays, the rest is reported not run', async () => {
  const repo = makeRepo();
  const first = makePlan([{ id: 'm1', features: [{ id: 'r1', files: ['r1.txt'] }] }, { id: 'm2', features: [{ id: 'r2', files: ['r2.txt'] }] }]);
  h.model.script('plan', [planReply(first), planReply(makePlan([first.milestones[0]!, { id: 'm9', features: [{ id: 'r9' }] }]))]);
  const [r1First, ...r1Rest] = writesFiles({ 'r1.txt': 'one' });
  h.model.script('feature r1', [{ ...r1First!, delayMs: SLOW_MS }, ...r1Rest]);
  const handle = await h.start({ prompt: 'Replan and reject', repo, requirePlanApproval: false });
  await waitForRequests('feature r1', 1);
  // Plain JSON through the Temporal CLI's update: it answers with the mission's acknowledgement.
  const viaTemporal = await temporalWorkflow(h, ['update', 'execute'], handle.workflowId, 'replan', { feedback: 'something else' });
  expect(viaTemporal.code).toBe(0);
  expect(viaTemporal.out).toMatch(/decision:replan/);
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 2);
  expect((await runCli(h, ['reject', handle.workflowId, '--reason', 'keep it as it was'])).code).toBe(0);

  const result = await handle.result();
  expect(result.outcome).toBe('completed-with-issues');
  expect(result.plan?.milestones.map((m) => m.id)).toEqual(['m1', 'm2']);
  expect(result.unresolved).toEqual([{ milestoneId: 'm2', kind: 'milestone', name: 'm2', detail: 'not run: the mission stopped here: its re-plan was rejected (keep it as it was)' }]);
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'r1.txt': 'one' });
  expect(h.model.requestsFor('feature r2')).toEqual([]);
});

async function waitForRequests(role: string, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (h.model.requestsFor(role).length < n) {
    if (Date.now() > deadline) throw new Error(`no ${n} request(s) for ${role} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
