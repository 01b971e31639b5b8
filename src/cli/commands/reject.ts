import { rejectPlanSignal, rejectPlanUpdate } from '../../api/messages';
import { missionCommand, str } from '../common';
import { decide } from '../decision';

export const reject = missionCommand(
  { summary: 'Reject the plan and end the mission', usage: 'mission reject MISSION_ID [--reason TEXT]', options: { reason: { type: 'string' } } },
  (c, id, v) => decide(c, id, { name: 'rejectPlan', update: rejectPlanUpdate, signal: rejectPlanSignal, payload: { reason: str(v.reason) } }),
);
