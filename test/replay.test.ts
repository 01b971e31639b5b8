import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { temporal } from '@temporalio/proto';
import { loadHistories } from './support/histories';

/**
 * The determinism guard: histories recorded from every path a mission takes (scripts/record-histories.sh)
 * must replay against the current workflow code. A change that would break running missions fails here.
 */
const histories = loadHistories();
const bundle = () => ({ workflowBundle: { codePath: process.env.MISSION_TEST_WORKFLOW_BUNDLE! } });

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed by another suite in this process
  }
});

test('histories of every path are committed: approve, reject, revise, plan failure, cancel, conflict, repair, budget pause, continue-as-new', () => {
  const files = new Set(histories.map((h) => h.file));
  const current = [...files].filter((f) => !f.includes('/'));
  const beforeLocalTurns = [...files].filter((f) => f.startsWith('before-local-turns/'));
  for (const path of ['two-milestones-of-parallel', 'rejecting-the-plan', 'revising-the-plan', 'a-planner-that-keeps-breaking', 'cancelling-the-mission', 'two-features-editing-the-same-lines', 'cannot-resolve-is-aborted', 'fixed-by-the-repair-agent', 'over-the-token-budget', 'continue-as-new']) {
    expect(current.filter((f) => f.includes(path))).toHaveLength(1);
    expect(beforeLocalTurns.filter((f) => f.includes(path))).toHaveLength(1);
  }
  // Both sides of patched('agent-turns-as-local-activities'): agents' turns as activities before, as local activities now.
  const EventType = temporal.api.enums.v1.EventType;
  const agents = (dir: (f: string) => boolean) => histories.filter((h) => dir(h.file) && h.workflowId.includes('/'));
  const turnsAsActivities = (h: (typeof histories)[number]) =>
    (h.history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'agentTurn');
  const localActivities = (h: (typeof histories)[number]) =>
    (h.history.events ?? []).some((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
  expect(agents((f) => f.startsWith('before-local-turns/')).some(turnsAsActivities)).toBe(true);
  expect(agents((f) => !f.includes('/')).some(turnsAsActivities)).toBe(false);
  expect(agents((f) => !f.includes('/')).every(localActivities)).toBe(true);
  // patched('validation-criteria-checked'): a recording holds the validator's call (the others predate it).
  const validatorCalls = histories.filter((h) => (h.history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkCriteria'));
  expect(validatorCalls.map((h) => h.file)).toEqual([expect.stringContaining('plan-criteria-are-checked')]);
  // patched('park-on-rate-limit'): the storm recording runs the refused plan turn again after resume, and the agent as a second run;
  // patched('mission-cost-search-attribute'): the cost recordings keep MissionCostUsd.
  const scheduled = (h: (typeof histories)[number], name: string) => (h.history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  const storm = histories.filter((h) => h.file.includes('a-429-storm'));
  expect(storm.map((h) => scheduled(h, 'planTurn'))).toContain(2);
  expect(new Set(storm.filter((h) => h.workflowId.endsWith('/m1/a')).map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId)).size).toBe(2);
  const costKept = histories.filter((h) => (h.history.events ?? []).some((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.MissionCostUsd));
  expect(costKept.some((h) => h.file.includes('the-report-costs'))).toBe(true);
  // The continue-as-new recording holds several runs of the mission and of an agent.
  const chained = histories.filter((h) => h.file === 'continue-as-new.json');
  const runsOf = (id: string) => chained.filter((h) => h.workflowId === id).length;
  expect(Math.max(...chained.map((h) => runsOf(h.workflowId)))).toBeGreaterThan(1);
});

test('every committed history replays against the current workflow code', async () => {
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(bundle(), histories)) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
}, 120_000);

test('a tampered history (a step the code never schedules) fails replay with a determinism error', async () => {
  const original = histories.find((h) => h.file.startsWith('two-milestones-of-parallel') && !h.workflowId.includes('/'))!; // the current recording
  const tampered = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(original.history).finish());
  const scheduled = tampered.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'planTurn')!;
  scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'somethingElse';
  await expect(Worker.runReplayHistory(bundle(), tampered, original.workflowId)).rejects.toBeInstanceOf(DeterminismViolationError);
});
