import { rejectPlan } from '../../client';
import { missionCommand, sent, str } from '../common';

export const reject = missionCommand(
  { summary: 'Reject the plan and end the mission', usage: 'mission reject MISSION_ID [--reason TEXT]', options: { reason: { type: 'string' } } },
  async (c, id, v) => (await rejectPlan(c, id, { reason: str(v.reason) }), sent(id, 'rejectPlan')),
);
