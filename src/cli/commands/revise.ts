import { revisePlanSignal, revisePlanUpdate } from '../../api/messages';
import { missionCommand, str, UsageError } from '../common';
import { decide } from '../decision';

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
  (c, id, v) => decide(c, id, { name: 'revisePlan', update: revisePlanUpdate, signal: revisePlanSignal, payload: { feedback: str(v.feedback)! } }),
);
