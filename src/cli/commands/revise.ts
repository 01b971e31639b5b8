import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { revisePlanSignal, revisePlanUpdate, type DecisionAck } from '../../api/messages';
import { missionCommand, str, UsageError, type Command } from '../common';
import { decide } from '../decision';

/** `mission revise|replan ID --feedback TEXT`: a decision whose only input is the person's feedback. */
export function feedbackCommand(
  name: 'revisePlan' | 'replan',
  summary: string,
  update: UpdateDefinition<DecisionAck, [{ feedback: string }]>,
  signal: SignalDefinition<[{ feedback: string }]>,
): Command {
  const usage = `mission ${name === 'replan' ? 'replan' : 'revise'} MISSION_ID --feedback TEXT`;
  return missionCommand(
    {
      summary,
      usage,
      options: { feedback: { type: 'string' } },
      check: (v) => {
        if (!str(v.feedback)?.trim()) throw new UsageError(`--feedback is required\nusage: ${usage}`);
      },
    },
    (c, id, v) => decide(c, id, { name, update, signal, payload: { feedback: str(v.feedback)! } }),
  );
}

export const revise = feedbackCommand('revisePlan', 'Ask for a new plan with feedback', revisePlanUpdate, revisePlanSignal);
