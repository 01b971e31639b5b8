import { statusQuery } from '../src/api/messages';
import { MissionStalledKey } from '../src/api/search';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('liveness');

const STALL_SECONDS = 3;
const CALL_MS = 20_000;

test('a model call that does not return shows the agent as stalled within the stall time, and clears when it returns', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'slow', files: ['slow.txt'] }] }]))]);
  const [first, ...rest] = writesFiles({ 'slow.txt': 'at last' });
  h.model.script('feature slow', [{ ...first!, delayMs: CALL_MS }, ...rest]);
  const handle = await h.start({ prompt: 'Slow model', repo, requirePlanApproval: false, stallAfterSeconds: STALL_SECONDS });

  const stalled = await h.waitFor(handle, (s) => (s.stalled ?? []).length > 0, CALL_MS);
  const seenAt = Date.now();
  expect(stalled.stalled).toEqual([{ taskId: 'slow', waitingOn: 'model call', since: expect.any(String) }]);
  // Shown within the stall time (plus the slack of a loaded machine), while the call is still out.
  const since = Date.parse(stalled.stalled![0]!.since);
  expect(seenAt - since).toBeGreaterThanOrEqual(STALL_SECONDS * 1000 - 500);
  expect(seenAt - since).toBeLessThan(CALL_MS - 5000);
  expect(stalled.events.map((e) => e.message)).toContainEqual(expect.stringMatching(/^slow stalled: no new turn since .*, waiting on model call$/));

  const described = await handle.describe();
  expect(described.typedSearchAttributes.get(MissionStalledKey)).toBe('model call');
  const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
  expect(meta.currentDetails).toMatch(/\nstalled: slow has taken no new turn since \S+; waiting on model call/);
  expect((await runCli(h, ['status', handle.workflowId])).out.join('\n')).toMatch(/ {4}slow running · stalled \(waiting on model call since \S+\)/);

  // The call returns: the stall clears and the mission goes on to the end.
  const live = await h.waitFor(handle, (s) => s.stalled === undefined && s.events.some((e) => e.message === 'slow is live again'), CALL_MS + 10_000);
  expect(live.stalled).toBeUndefined();
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'slow.txt': 'at last' });
  expect((await handle.describe()).typedSearchAttributes.get(MissionStalledKey)).toBeUndefined();
  const after = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
  expect(after.currentDetails).not.toMatch(/stalled/);
  expect((await handle.query(statusQuery)).stalled).toBeUndefined();
});

test('an agent that keeps taking turns within the stall time is never shown as stalled', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'quick', files: ['a.txt', 'b.txt'] }] }]))]);
  h.model.script('feature quick', writesFiles({ 'a.txt': 'a', 'b.txt': 'b' }));
  const handle = await h.start({ prompt: 'Quick model', repo, requirePlanApproval: false, stallAfterSeconds: 30 });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  const status = await handle.query(statusQuery);
  expect(status.events.filter((e) => e.type === 'stalled')).toEqual([]);
});
