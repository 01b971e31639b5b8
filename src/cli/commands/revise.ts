import { revisePlan } from '../../client';
import { missionCommand, sent, str, UsageError } from '../common';

const REVISE_USAGE = 'mission revise MISSION_ID --feedback TEXT';
export const revise = missionCommand(
  {
    summary: 'Ask for a new plan with feedback',
    usage: REVISE_USAGE,
    options: { feedback: { type: 'string' } },
    check: (v) => {
      if (!str(v.feedback)?.trim()) throw new UsageError(`--feedback is required\nusage: ${REVISE_USAGE}`);
    },
  },
  async (c, id, v) => (await revisePlan(c, id, str(v.feedback)!), sent(id, 'revisePlan')),
);
