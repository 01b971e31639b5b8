import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { temporal } from '@temporalio/proto';
import { loadHistories } from './support/histories';

/**
 * The determinism guard: histories recorded from every path a mission takes (scripts/record-histories.sh)
 * must replay against the current workflow code. A change that would break running missions fails here.
 */
const histories = loadHistories();

/** A patch marker's id (the SDK stores it JSON-encoded in the marker's `patch-data` detail). */
function patchId(marker: temporal.api.history.v1.IMarkerRecordedEventAttributes): string {
  const payload = marker.details?.['patch-data']?.payloads?.[0];
  return payload?.data ? (JSON.parse(Buffer.from(payload.data).toString()) as { id: string }).id : '';
}
const bundle = () => ({ workflowBundle: { codePath: process.env.MISSION_TEST_WORKFLOW_BUNDLE! } });

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed by another suite in this process
  }
});

test('histories of every path are committed, from each generation of the workflow code: approve, reject, revise, plan failure, cancel, conflict, repair, budget pause, continue-as-new', () => {
  const files = new Set(histories.map((h) => h.file));
  const current = [...files].filter((f) => !f.includes('/'));
  const inFolder = (dir: string) => [...files].filter((f) => f.startsWith(`${dir}/`));
  for (const path of ['two-milestones-of-parallel', 'rejecting-the-plan', 'revising-the-plan', 'a-planner-that-keeps-breaking', 'cancelling-the-mission', 'two-features-editing-the-same-lines', 'cannot-resolve-is-aborted', 'fixed-by-the-repair-agent', 'over-the-token-budget', 'continue-as-new']) {
    expect(current.filter((f) => f.includes(path))).toHaveLength(1);
    for (const dir of ['before-local-turns', 'local-turns', 'turn-activities', 'host-affinity', 'decision-updates']) expect(inFolder(dir).filter((f) => f.includes(path))).toHaveLength(1);
  }
  // The generations of agents: turns as activities (before-local-turns/, before any turns patch), as local
  // activities (local-turns/, patched 'agent-turns-as-local-activities'), as activities again (turn-activities/,
  // patched 'agent-turns-as-activities': they heartbeat, so a slow model holds no workflow task), and now on the
  // mission's host queue (host-affinity/, patched 'host-affinity', with features merged as they finish and costs
  // counted), with decisions as updates and agents reporting stalls (decision-updates/, patched 'agent-liveness'), and
  // now opening their conversation in their first turn and committing with their finish (current, patched
  // 'open-session-in-first-turn' and 'commit-with-finish'), with questions, steering and skills in the missions.
  type Recorded = (typeof histories)[number];
  const agents = (dir: (f: string) => boolean) => histories.filter((h) => dir(h.file) && h.workflowId.includes('/'));
  const missions = (dir: (f: string) => boolean) => histories.filter((h) => dir(h.file) && !h.workflowId.includes('/'));
  const scheduledOf = (h: Recorded, name: string) => (h.history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name);
  const turnsAsActivities = (h: Recorded) => scheduledOf(h, 'agentTurn').length > 0;
  const localActivities = (h: Recorded) => (h.history.events ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
  const patches = (h: Recorded) =>
    (h.history.events ?? []).flatMap((e) => (e.markerRecordedEventAttributes?.markerName === 'core_patch' ? [patchId(e.markerRecordedEventAttributes)] : []));
  const before = agents((f) => f.startsWith('before-local-turns/'));
  const local = agents((f) => f.startsWith('local-turns/'));
  const activities = agents((f) => f.startsWith('turn-activities/'));
  const hosted = agents((f) => f.startsWith('host-affinity/'));
  const updates = agents((f) => f.startsWith('decision-updates/'));
  const now = agents((f) => !f.includes('/'));
  expect(before.some(turnsAsActivities)).toBe(true);
  expect(local.some(turnsAsActivities)).toBe(false);
  expect(local.every(localActivities)).toBe(true);
  for (const generation of [activities, hosted, updates, now]) {
    expect(generation.every(turnsAsActivities)).toBe(true);
    expect(generation.some(localActivities)).toBe(false);
    expect(generation.every((h) => patches(h).includes('agent-turns-as-activities') && !patches(h).includes('agent-turns-as-local-activities'))).toBe(true);
  }
  // patched('host-affinity'): current missions ask once which host they got; their agents' turns run on that host's queue.
  expect(missions((f) => f.startsWith('turn-activities/')).some((h) => patches(h).includes('host-affinity'))).toBe(false);
  const hostedOrNow = (f: string) => !f.includes('/') || f.startsWith('host-affinity/') || f.startsWith('decision-updates/');
  expect(missions((f) => !f.includes('/')).filter((h) => scheduledOf(h, 'whichHost').length).length).toBeGreaterThanOrEqual(14);
  const hostBound = (h: Recorded) =>
    (h.history.events ?? []).every((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return !a || a.activityType?.name === 'whichHost' || a.taskQueue?.name?.startsWith('mission-host-');
    });
  expect(missions(hostedOrNow).every(hostBound)).toBe(true); // a continued run carries the host, and asks no more
  expect([...hosted, ...updates, ...now].every((h) => scheduledOf(h, 'agentTurn').every((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name?.startsWith('mission-host-')))).toBe(true);
  // patched('merge-features-as-they-finish'): current missions that ran a milestone merged through it.
  expect(missions((f) => !f.includes('/')).some((h) => patches(h).includes('merge-features-as-they-finish'))).toBe(true);
  // patched('agent-liveness'): current agents carry the marker (one stall timer per turn), earlier ones do not.
  expect([...updates, ...now].every((h) => patches(h).includes('agent-liveness'))).toBe(true);
  // patched('open-session-in-first-turn'), ('commit-with-finish'): current agents open and commit inside their turns;
  // the generation before scheduled openAgentSession and commitWork as steps of their own.
  // (An agent started with what an earlier run carried, continued as new or started again after a 429 park, opens nothing.)
  const startInput = (h: Recorded) => {
    const data = h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    return data ? (JSON.parse(Buffer.from(data).toString()) as { carried?: unknown }) : {};
  };
  const firstRun = (h: Recorded) => startInput(h).carried === undefined;
  expect(now.every((h) => scheduledOf(h, 'openAgentSession').length === 0)).toBe(true);
  expect(now.filter(firstRun).every((h) => patches(h).includes('open-session-in-first-turn'))).toBe(true);
  expect(now.some((h) => patches(h).includes('commit-with-finish') && scheduledOf(h, 'commitWork').length === 0)).toBe(true);
  expect(updates.some((h) => patches(h).includes('open-session-in-first-turn'))).toBe(false);
  expect(updates.filter(firstRun).every((h) => scheduledOf(h, 'openAgentSession').length === 1)).toBe(true);
  // The missions' newer paths, each in its own recording: questions answered, steering (steer, skip, retry, replan),
  // validation found while the agents work, ready features merged together.
  const currentMissions = missions((f) => !f.includes('/'));
  const withPatch = (id: string) => currentMissions.filter((h) => patches(h).includes(id)).map((h) => h.file);
  expect(withPatch('clarifying-questions')).toEqual([expect.stringMatching(/^questions-answered-with/)]);
  expect(withPatch('mission-steering').sort()).toEqual([
    expect.stringMatching(/^a-steer-note-reaches/),
    expect.stringMatching(/^replan-the-milestones/),
    expect.stringMatching(/^retry-a-feature/),
    expect.stringMatching(/^skip-a-pending-feature/),
  ]);
  expect(withPatch('discover-validation-early').length).toBeGreaterThanOrEqual(10);
  expect(withPatch('merge-ready-features-together').length).toBeGreaterThanOrEqual(1);
  expect(missions((f) => f.startsWith('decision-updates/')).some((h) => patches(h).includes('discover-validation-early'))).toBe(false);
  expect(hosted.some((h) => patches(h).includes('agent-liveness'))).toBe(false);
  expect(missions((f) => f.startsWith('turn-activities/')).some((h) => patches(h).includes('merge-features-as-they-finish'))).toBe(false);
  // patched('validation-criteria-checked'): a recording of each later generation holds the validator's call (the others predate it).
  const validatorCalls = histories.filter((h) => scheduledOf(h, 'checkCriteria').length > 0);
  expect(validatorCalls.map((h) => h.file).sort()).toEqual([
    expect.stringMatching(/^decision-updates\/plan-criteria-are-checked/),
    expect.stringMatching(/^host-affinity\/plan-criteria-are-checked/),
    expect.stringMatching(/^local-turns\/plan-criteria-are-checked/),
    expect.stringMatching(/^plan-criteria-are-checked/),
    expect.stringMatching(/^turn-activities\/plan-criteria-are-checked/),
  ]);
  // patched('park-on-rate-limit'): each storm recording runs the refused plan turn again after resume, and the agent as a second run;
  // patched('mission-cost-search-attribute'): the cost recordings keep MissionCostUsd.
  const stormFiles = [...files].filter((f) => f.includes('a-429-storm'));
  expect(stormFiles.length).toBeGreaterThanOrEqual(2); // recorded with local turns and with the current code
  for (const file of stormFiles) {
    const storm = histories.filter((h) => h.file === file);
    expect(storm.map((h) => scheduledOf(h, 'planTurn').length)).toContain(2);
    expect(new Set(storm.filter((h) => h.workflowId.endsWith('/m1/a')).map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId)).size).toBe(2);
  }
  const costKept = histories.filter((h) => (h.history.events ?? []).some((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.MissionCostUsd));
  expect(costKept.filter((h) => h.file.includes('the-report-costs')).map((h) => h.file.includes('/'))).toEqual(expect.arrayContaining([true, false]));
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
