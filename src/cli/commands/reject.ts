import { rejectPlan } from '../../client';
import { missionCommand, str } from '../common';
import { atApprovalGate, decide } from '../decision';

export const reject = missionCommand(
  { summary: 'Reject the plan and end the mission', usage: 'mission reject MISSION_ID [--reason TEXT]', options: { reason: { type: 'string' } } },
  (c, id, v) => decide(c, id, { signal: 'rejectPlan', unfit: atApprovalGate, send: () => rejectPlan(c, id, { reason: str(v.reason) }) }),
);
