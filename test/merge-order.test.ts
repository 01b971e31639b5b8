import type { temporal } from '@temporalio/proto';
import { useHarness } from './support/harness';
import { branches, makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('merge-order');

type Event = temporal.api.history.v1.IHistoryEvent;
const summary = (e: Event) => (e.userMetadata?.summary?.data ? (JSON.parse(Buffer.from(e.userMetadata.summary.data).toString()) as string) : undefined);

/** Event ids, from the mission's history, of when each activity of `type` completed. */
function completions(events: Event[], type: string): { summary?: string; scheduled: number; completed: number }[] {
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type);
  return scheduled.map((s) => {
    const done = events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(s.eventId));
    return { summary: summary(s), scheduled: Number(s.eventId), completed: Number(done?.eventId ?? Infinity) };
  });
}

test('a feature is merged as soon as it and the features before it are done, not after the last agent; worktrees go once all are merged', async () => {
  const repo = makeRepo({ 'README.md': '# order\n' });
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'first', files: ['a.txt'] }, { id: 'second', files: ['b.txt'] }] }]))]);
  h.model.script('feature first', writesFiles({ 'a.txt': 'a' }));
  // The second agent thinks for seconds: the first one's merge has all that time to happen.
  h.model.script('feature second', writesFiles({ 'b.txt': 'b' }).map((reply) => ({ ...reply, delayMs: 4000 })));

  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 2 });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'a.txt': 'a', 'b.txt': 'b' });
  expect(branches(repo)).toEqual(['main', `mission/${handle.workflowId}`]);

  const events = (await handle.fetchHistory()).events ?? [];
  const secondDone = events.find((e) => e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId?.endsWith('second'));
  expect(secondDone).toBeDefined();
  const merges = completions(events, 'mergeFeature');
  expect(merges.map((m) => m.summary)).toEqual(['git: merge first', 'git: merge second']);
  expect(merges[0]!.completed).toBeLessThan(Number(secondDone!.eventId));
  // Removals wait for the last merge (a later feature may still merge an earlier one's branch), then go together.
  const removals = completions(events, 'removeFeatureWorktree');
  expect(removals).toHaveLength(2);
  for (const r of removals) expect(r.scheduled).toBeGreaterThan(merges[1]!.completed);
  expect(Math.max(...removals.map((r) => r.scheduled)) - Math.min(...removals.map((r) => r.scheduled))).toBeLessThanOrEqual(1);
});
