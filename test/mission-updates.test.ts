import { approvePlanSignal, approvePlanUpdate, pauseUpdate, resumeUpdate, revisePlanUpdate, statusQuery } from '../src/api/messages';
import { approvePlan, DecisionRefusedError } from '../src/client';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';
import { temporalWorkflow } from './support/temporal-cli';

const h = useHarness('updates');

/** `temporal workflow update execute`: exit code and what it printed (a refused update exits non-zero). */
const updateWithTemporalCli = (id: string, name: string, input: unknown) => temporalWorkflow(h, 'update', id, name, input);

test('an approval while still planning is refused at once with the phase named: client, Temporal CLI and mission CLI', async () => {
  const repo = makeRepo();
  // The planner thinks long enough for three refusals, one of them from a separate process.
  h.model.script('plan', [{ ...planReply(makePlan([{ id: 'm1', features: [{ id: 'u', files: ['u.txt'] }] }])), delayMs: 8000 }]);
  h.model.script('feature u', writesFiles({ 'u.txt': 'approved by update' }));
  const handle = await h.start({ prompt: 'Too early', repo });
  await h.waitFor(handle, (s) => s.phase === 'planning');

  const refused = approvePlan(h.client, handle.workflowId, { approvedBy: 'api' });
  await expect(refused).rejects.toThrow(DecisionRefusedError);
  await expect(refused).rejects.toThrow('approvePlan refused: the mission is planning, not awaiting approval');

  const viaTemporal = await updateWithTemporalCli(handle.workflowId, 'approvePlan', {});
  expect(viaTemporal.code).not.toBe(0);
  expect(viaTemporal.out).toMatch(/approvePlan refused: the mission is planning, not awaiting approval/);

  const viaMission = await runCli(h, ['approve', handle.workflowId]);
  expect(viaMission.code).toBe(1);
  expect(viaMission.err.join('\n')).toMatch(/approvePlan refused: the mission is planning, not awaiting approval/);

  // A refused update leaves nothing behind: no ignored-signal events, still planning.
  const still = await handle.query(statusQuery);
  expect(still.events.filter((e) => e.type === 'signal-ignored')).toEqual([]);

  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  const accepted = await updateWithTemporalCli(handle.workflowId, 'approvePlan', { revision: 1, approvedBy: 'temporal-cli' });
  expect(accepted.code).toBe(0);
  expect(accepted.out).toMatch(/decision:approvePlan .*planRevision:1/);
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'u.txt': 'approved by update' });
});

test('a stale approval (revision n-1 after a revise) is refused, the current one is taken; the signal of the same name still works', async () => {
  const repo = makeRepo();
  const first = makePlan([{ id: 'm1', features: [{ id: 'one', files: ['one.txt'] }] }], 'First');
  const second = makePlan([{ id: 'm1', features: [{ id: 'two', files: ['two.txt'] }] }], 'Second');
  h.model.script('plan', [planReply(first), planReply(second)]);
  h.model.script('feature two', writesFiles({ 'two.txt': 'second plan' }));
  const handle = await h.start({ prompt: 'Revise me', repo });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 1);

  const ack = await handle.executeUpdate(revisePlanUpdate, { args: [{ feedback: 'name it two' }] });
  expect(ack).toMatchObject({ decision: 'revisePlan', planRevision: 1 });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 2);

  await expect(handle.executeUpdate(approvePlanUpdate, { args: [{ revision: 1 }] })).rejects.toMatchObject({
    cause: { message: expect.stringMatching(/approvePlan refused: it approves plan revision 1, but the plan awaiting approval is revision 2/) },
  });
  const stale = await runCli(h, ['approve', handle.workflowId, '--revision', '1']);
  expect(stale.code).toBe(1);
  expect(stale.err.join('\n')).toMatch(/approvePlan refused: it approves plan revision 1, but the plan awaiting approval is revision 2/);
  // A stale approval as a signal is recorded as ignored; the mission keeps waiting.
  await handle.signal(approvePlanSignal, { revision: 1 });
  const ignored = await h.waitFor(handle, (s) => s.events.some((e) => e.type === 'signal-ignored'));
  expect(ignored.phase).toBe('awaiting-approval');
  expect(ignored.events.map((e) => e.message)).toContainEqual(expect.stringMatching(/^approvePlan ignored: it approves plan revision 1, but .* revision 2/));

  // Pause and resume answer back too.
  await expect(handle.executeUpdate(resumeUpdate, { args: [{}] })).rejects.toMatchObject({ cause: { message: 'resume refused: the mission is already running' } });
  expect(await handle.executeUpdate(pauseUpdate, { args: [{}] })).toMatchObject({ paused: true });
  expect((await runCli(h, ['resume', handle.workflowId])).code).toBe(0);

  await handle.signal(approvePlanSignal, { revision: 2 });
  const result = await handle.result();
  expect(result.plan?.title).toBe('Second');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'two.txt': 'second plan' });
});

test('at the gate the current details and `mission status` hold the plan in Markdown and the exact commands to decide', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'shown', files: ['shown.txt'] }] }], 'Plan at the gate'))]);
  const handle = await h.start({ prompt: 'Show me', repo });
  const id = handle.workflowId;
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');

  const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
  const details = meta.currentDetails;
  expect(details).toMatch(/^awaiting-approval: /);
  expect(details).toContain('## Plan (revision 1): Plan at the gate');
  expect(details).toMatch(/- \*\*shown\*\* .* — `shown.txt`/);
  expect(details).toContain(`mission approve ${id} --revision 1`);
  expect(details).toContain(`temporal workflow update execute --workflow-id ${id} --name approvePlan --input '{"revision":1}'`);
  expect(details).toContain(`temporal workflow signal --workflow-id ${id} --name approvePlan --input '{"revision":1}'`);

  const printed = (await runCli(h, ['status', id])).out.join('\n');
  expect(printed).toContain(details.slice(details.indexOf('## Plan')));

  await runCli(h, ['reject', id, '--reason', 'seen enough']);
  await handle.result();
  const after = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
  expect(after.currentDetails).not.toContain('## Plan');
});
