import { revisePlan } from '../../client';
import { missionCommand, str, UsageError } from '../common';
import { atApprovalGate, decide } from '../decision';

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
  (c, id, v) => decide(c, id, { signal: 'revisePlan', unfit: atApprovalGate, send: () => revisePlan(c, id, str(v.feedback)!) }),
);
