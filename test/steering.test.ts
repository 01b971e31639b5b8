import { agentTaskId } from '../src/api/agent';
import { decideOutcome, unresolvedOf } from '../src/api/outcome';
import { checkPlan } from '../src/api/plan';
import type { FeatureStatus, MissionStatus } from '../src/api/status';
import { replanErrors, replannedMilestones, replanRefusal, retryRefusal, skipRefusal, steerRefusal } from '../src/api/steering';
import { makePlan } from './support/scripts';

const plan = makePlan([
  { id: 'm1', features: [{ id: 'a' }, { id: 'b' }] },
  { id: 'm2', features: [{ id: 'c' }] },
  { id: 'm3', features: [{ id: 'd' }] },
]);

function status(features: Record<string, Partial<FeatureStatus>>, patch: Partial<MissionStatus> = {}): MissionStatus {
  const milestones = plan.milestones.map((m) => ({
    id: m.id,
    title: m.title,
    state: m.features.some((f) => features[f.id]?.state && features[f.id]!.state !== 'pending') ? ('running' as const) : ('pending' as const),
    features: m.features.map((f) => ({ id: f.id, title: f.title, state: 'pending' as const, ...features[f.id] })),
  }));
  return { missionId: 'mission-1', phase: 'running', paused: false, plan, planRevision: 1, milestones, ...patch } as MissionStatus;
}

test('steer fits until the mission ends or writes its report, also before approval', () => {
  expect(steerRefusal(status({}, { phase: 'awaiting-approval' }))).toBeUndefined();
  expect(steerRefusal(status({}))).toBeUndefined();
  expect(steerRefusal(status({}, { phase: 'completed' }))).toBe('the mission is already completed');
  expect(steerRefusal(status({}, { phase: 'reporting' }))).toBe('the mission is writing its report: no agent will run again');
});

test('skip: only a pending or running feature of an approved plan; refusals name the feature, its state or the phase', () => {
  expect(skipRefusal(status({ a: { state: 'running' } }), 'a')).toBeUndefined();
  expect(skipRefusal(status({ a: { state: 'running' } }), 'c')).toBeUndefined();
  expect(skipRefusal(status({}), 'nope')).toBe('no feature "nope" in the plan; its features: a, b, c, d');
  expect(skipRefusal(status({ a: { state: 'done', commit: 'abc' } }), 'a')).toBe('feature "a" already ended done: there is nothing to skip');
  expect(skipRefusal(status({ a: { state: 'failed' } }), 'a')).toBe('feature "a" already ended failed: there is nothing to skip (to run it again: "mission retry mission-1 a")');
  expect(skipRefusal(status({ a: { state: 'running', skipped: { at: 't', wasRunning: true } } }), 'a')).toBe('feature "a" is already skipped');
  expect(skipRefusal(status({}, { phase: 'awaiting-approval' }), 'a')).toBe('the mission is awaiting-approval: no plan is approved yet (revise the plan instead)');
  expect(skipRefusal(status({}, { phase: 'cancelled' }), 'a')).toBe('the mission is already cancelled');
});

test('retry: only a feature that ended without its work done and merged; not twice, not while it runs', () => {
  for (const state of ['incomplete', 'blocked', 'failed', 'skipped'] as const) expect(retryRefusal(status({ a: { state } }), 'a')).toBeUndefined();
  expect(retryRefusal(status({ a: { state: 'done' } }), 'a')).toBeUndefined(); // said done, committed nothing
  expect(retryRefusal(status({ a: { state: 'done', commit: 'abc', merge: { state: 'conflict' } } }), 'a')).toBeUndefined();
  expect(retryRefusal(status({ a: { state: 'done', commit: 'abc', merge: { state: 'merged' } } }), 'a')).toBe('feature "a" is already done');
  expect(retryRefusal(status({ a: { state: 'running' } }), 'a')).toBe('feature "a" has not ended (it is running): only a feature that ended can be retried');
  expect(retryRefusal(status({}), 'c')).toBe('feature "c" has not ended (it is pending): only a feature that ended can be retried');
  expect(retryRefusal(status({ a: { state: 'failed', retry: { at: 't' } } }), 'a')).toMatch(/^a retry of feature "a" is already asked for/);
  expect(retryRefusal(status({}), 'zz')).toMatch(/^no feature "zz" in the plan/);
  expect(retryRefusal(status({ a: { state: 'failed' } }, { phase: 'completed-with-issues' }), 'a')).toBe('the mission is already completed-with-issues');
});

test('replan: only once a plan is approved, one at a time, and while a milestone is left unstarted', () => {
  expect(replanRefusal(status({ a: { state: 'running' } }))).toBeUndefined();
  expect(replanRefusal(status({}, { phase: 'awaiting-approval' }))).toBe('the mission is awaiting-approval: revise the plan awaiting approval instead ("mission revise")');
  expect(replanRefusal(status({}, { phase: 'planning' }))).toBe('the mission is planning: no plan is approved yet');
  expect(replanRefusal(status({}, { replan: { at: 't', feedback: 'x' } }))).toBe('a re-plan is already asked for: it begins once the running milestone has finished');
  expect(replanRefusal(status({ a: { state: 'done' }, c: { state: 'done' }, d: { state: 'running' } }))).toBe('every milestone has started: nothing is left to re-plan');
  expect(replanRefusal(status({}, { phase: 'failed' }))).toBe('the mission is already failed');
});

test('a re-plan must open with the kept milestones unchanged (key order aside); the new ones become pending, the kept keep their state', () => {
  const next = makePlan([
    { id: 'm1', features: [{ id: 'a' }, { id: 'b' }] },
    { id: 'm2b', features: [{ id: 'e' }] },
  ]);
  expect(replanErrors(plan, 1, next)).toEqual([]);
  // The planner's JSON may order keys differently: still the same milestone.
  const reordered = { ...next, milestones: [Object.fromEntries(Object.entries(next.milestones[0]!).reverse()) as typeof next.milestones[0], next.milestones[1]!] };
  expect(replanErrors(plan, 1, reordered)).toEqual([]);
  const changed = makePlan([{ id: 'm1', title: 'Another title', features: [{ id: 'a' }, { id: 'b' }] }, { id: 'm2b', features: [{ id: 'e' }] }]);
  expect(replanErrors(plan, 1, changed)).toEqual(['milestone "m1" is done or under way and must stay exactly as it was, as milestone 1 (same id, title, goal, validation and features); put it back unchanged']);
  expect(replanErrors(plan, 2, next)).toEqual([expect.stringMatching(/^milestone "m2" is done or under way/)]);
  expect(replanErrors(plan, 0, next)).toEqual([]);

  const current = status({ a: { state: 'done', commit: 'c1' }, b: { state: 'done', commit: 'c2' } }).milestones;
  current[0]!.state = 'done';
  const merged = replannedMilestones(current, 1, next);
  expect(merged.map((m) => [m.id, m.state])).toEqual([['m1', 'done'], ['m2b', 'pending']]);
  expect(merged[0]).toBe(current[0]);
  expect(merged[1]!.features).toEqual([{ id: 'e', title: 'Feature e', state: 'pending' }]);
});

test('a skipped feature is unresolved, never done: not run, or stopped with its work on its branch; a milestone not run after a rejected re-plan too', () => {
  const s = status({
    a: { state: 'skipped', skipped: { at: 't', reason: 'not needed', wasRunning: false } },
    b: { state: 'skipped', skipped: { at: 't', wasRunning: true }, commit: 'abcdef1234', branch: 'mission/k/b' },
  });
  for (const m of s.milestones) m.state = 'done';
  s.milestones[2]!.notRun = 'the mission stopped here: its re-plan was rejected';
  s.milestones[2]!.state = 'pending';
  const unresolved = unresolvedOf(s.milestones, plan);
  expect(unresolved.map((u) => [u.kind, u.name, u.detail])).toEqual([
    ['feature', 'a', 'skipped by a person (not needed): not run'],
    ['feature', 'b', 'skipped by a person: its agent was stopped; its work is commit abcdef12 on mission/k/b, not merged'],
    ['milestone', 'm3', 'not run: the mission stopped here: its re-plan was rejected'],
  ]);
  expect(decideOutcome(s.milestones, plan)).toBe('completed-with-issues');
});

test('a retry is an agent of its own (conversation and workflow id), and plans may not take its ids', () => {
  const milestone = { id: 'm1', title: 't', goal: 'g' };
  const feature = plan.milestones[0]!.features[0]!;
  expect(agentTaskId({ role: 'feature', milestone, feature })).toBe('a');
  expect(agentTaskId({ role: 'feature', milestone, feature, retry: { attempt: 2, previous: { state: 'blocked', summary: 's' } } })).toBe('attempt-2-a');
  expect(checkPlan(makePlan([{ id: 'm1', features: [{ id: 'attempt-2-a' }] }]), { maxMilestones: 3, maxFeaturesPerMilestone: 3 })).toEqual([expect.stringMatching(/^feature id "attempt-2-a" is reserved/)]);
});
