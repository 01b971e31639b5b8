import { approvalGate } from '../src/api/gate';
import type { MissionStatus } from '../src/api/status';
import { planDecisionRefusal, toggleRefusal } from '../src/workflows/decisions';
import { makePlan } from './support/scripts';

const status = (patch: Partial<MissionStatus>): MissionStatus =>
  ({ missionId: 'm-1', phase: 'awaiting-approval', paused: false, planRevision: 2, plan: makePlan([{ id: 'm1', features: [{ id: 'f1' }] }]), budget: { activeMinutes: 0 }, ...patch }) as MissionStatus;

test('plan decisions: only at the gate, one at a time, and an approval of an older revision is refused', () => {
  expect(planDecisionRefusal(status({ phase: 'planning' }), undefined, { kind: 'approve' })).toBe('the mission is planning, not awaiting approval');
  expect(planDecisionRefusal(status({}), { kind: 'reject' }, { kind: 'approve' })).toBe('a reject decision is already being applied');
  expect(planDecisionRefusal(status({}), undefined, { kind: 'approve', revision: 1 })).toMatch(/^it approves plan revision 1, but the plan awaiting approval is revision 2/);
  expect(planDecisionRefusal(status({}), undefined, { kind: 'approve', revision: 2 })).toBeUndefined();
  expect(planDecisionRefusal(status({}), undefined, { kind: 'revise', feedback: 'x' })).toBeUndefined();
  // While the planner's questions wait, the mission may be rejected (nothing to approve or revise yet).
  expect(planDecisionRefusal(status({ phase: 'awaiting-answers' }), undefined, { kind: 'reject' })).toBeUndefined();
  expect(planDecisionRefusal(status({ phase: 'awaiting-answers' }), undefined, { kind: 'approve' })).toBe('the mission is awaiting-answers, not awaiting approval');
});

test('pause and resume: refused when they would change nothing; a budget raise or a quota park always takes a resume', () => {
  expect(toggleRefusal(status({ phase: 'completed' }), true)).toBe('the mission is already completed');
  expect(toggleRefusal(status({ phase: 'running', paused: true }), true)).toBe('the mission is already paused');
  expect(toggleRefusal(status({ phase: 'running' }), false, { quotaWaiters: 0 })).toBe('the mission is already running');
  expect(toggleRefusal(status({ phase: 'running' }), false, { quotaWaiters: 1 })).toBeUndefined();
  expect(toggleRefusal(status({ phase: 'paused-budget', budget: { maxTurnsPerFeature: 40, activeMinutes: 0, exceeded: 'tokens 10 of 5' } }), false, { quotaWaiters: 0 })).toMatch(/^tokens 10 of 5; send resume with a raised budget/);
  expect(toggleRefusal(status({ phase: 'paused-budget' }), false, { quotaWaiters: 0, budget: { maxTokens: 9 } })).toBeUndefined();
});

test('the approval gate is shown only while awaiting approval', () => {
  expect(approvalGate(status({}))).toMatch(/^## Plan \(revision 2\): Test plan[\s\S]*mission approve m-1 --revision 2/);
  expect(approvalGate(status({ phase: 'running' }))).toBeUndefined();
});
