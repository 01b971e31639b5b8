import { resumeSignal } from '../src/api/messages';
import { budgetExceeded, raiseBudget } from '../src/api/budget';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';
import type { ScriptedMessage } from './support/model-server';

const h = useHarness('budget');
const costly = (replies: ScriptedMessage[], tokens: number) => replies.map((r) => ({ ...r, usage: { prompt_tokens: tokens, completion_tokens: 0 } }));

describe('budget rules (pure)', () => {
  test('tokens and minutes each stop new work at their limit; a raise replaces only what it names', () => {
    const limits = { maxTurnsPerFeature: 40, maxTokens: 1000, maxMinutes: 2 };
    expect(budgetExceeded(limits, { tokens: 999, activeMs: 119_999 })).toBeUndefined();
    expect(budgetExceeded(limits, { tokens: 1000, activeMs: 0 })).toBe('token budget reached: 1000 of 1000 tokens used');
    expect(budgetExceeded(limits, { tokens: 0, activeMs: 120_000 })).toBe('time budget reached: 2.00 of 2 minutes of work');
    expect(budgetExceeded({ maxTurnsPerFeature: 40 }, { tokens: 1e9, activeMs: 1e9 })).toBeUndefined();
    expect(raiseBudget(limits, { maxTokens: 5000 })).toEqual({ maxTurnsPerFeature: 40, maxTokens: 5000, maxMinutes: 2 });
  });
});

test('over the token budget the mission pauses in paused-budget before the next feature; resume with a raised budget finishes it, nothing redone', async () => {
  const repo = makeRepo();
  h.model.script('plan', costly([planReply(makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }, { id: 'b', files: ['b.txt'] }] }]))], 1000));
  h.model.script('feature a', costly(writesFiles({ 'a.txt': 'A' }), 600));
  h.model.script('feature b', writesFiles({ 'b.txt': 'B' }));
  const handle = await h.start({ prompt: 'Spend carefully', repo, requirePlanApproval: false, budget: { maxTokens: 1500 } });

  const paused = await h.waitFor(handle, (s) => s.phase === 'paused-budget');
  expect(paused.budget).toMatchObject({ maxTokens: 1500, exceeded: expect.stringMatching(/^token budget reached: \d+ of 1500 tokens used$/) });
  expect(paused.milestones[0]!.features.map((f) => [f.id, f.state])).toEqual([['a', 'done'], ['b', 'pending']]);
  expect(treeAt(repo, `mission/${handle.workflowId}`)).toMatchObject({ 'a.txt': 'A' });
  expect(h.model.requestsFor('feature b')).toHaveLength(0);

  // A resume without a raise is refused with what to do; the mission stays paused.
  await handle.signal(resumeSignal, {});
  const still = await h.waitFor(handle, (s) => s.events.some((e) => e.type === 'signal-ignored'));
  expect(still.events.at(-1)!.message).toMatch(/^resume ignored: token budget reached: .*send resume with a raised budget/);
  expect(still.phase).toBe('paused-budget');

  const resumed = await runCli(h, ['resume', handle.workflowId, '--budget.max-tokens', '100000']);
  expect(resumed.code).toBe(0);
  const report = await handle.result();
  expect(report.outcome).toBe('completed');
  expect(treeAt(repo, report.branch!)).toMatchObject({ 'a.txt': 'A', 'b.txt': 'B' });
  expect(h.model.requestsFor('feature a')).toHaveLength(2); // not paid again
  const status = await handle.query('status');
  expect(status).toMatchObject({ budget: { maxTokens: 100000 } });
});

test('over the time budget (work minutes, not the approval wait) the mission pauses too, and a raised maxMinutes continues it', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }] }, { id: 'm2', features: [{ id: 'b', files: ['b.txt'] }] }]))]);
  h.model.script('feature a', writesFiles({ 'a.txt': 'A' }));
  h.model.script('feature b', writesFiles({ 'b.txt': 'B' }));
  // 0.001 minutes = 60 ms of work: the first milestone starts at once, the second waits for a raise.
  const handle = await h.start({ prompt: 'Quickly', repo, budget: { maxMinutes: 0.001 } });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await new Promise((r) => setTimeout(r, 300)); // time waiting for approval is not work time
  await handle.signal('approvePlan', {});
  const paused = await h.waitFor(handle, (s) => s.phase === 'paused-budget');
  expect(paused.milestones.map((m) => m.state)).toEqual(['done', 'pending']);
  expect(paused.budget.exceeded).toMatch(/^time budget reached: [\d.]+ of 0\.001 minutes of work$/);

  expect((await runCli(h, ['resume', handle.workflowId, '--budget.max-minutes', 'soon'])).code).toBe(2);
  await handle.signal(resumeSignal, { budget: { maxMinutes: 60 } });
  const report = await handle.result();
  expect(report.outcome).toBe('completed');
  expect(report.milestones.map((m) => m.state)).toEqual(['done', 'done']);
});
