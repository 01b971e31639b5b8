import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { skipFeatureSignal, skipFeatureUpdate, type DecisionAck, type FeatureDecision } from '../../api/messages';
import { missionArgCommand, str, type Command } from '../common';
import { decide } from '../decision';

/** `mission skip|retry ID FEATURE [--reason TEXT]`: one decision on one feature. */
export function featureCommand(
  name: string,
  summary: string,
  update: UpdateDefinition<DecisionAck, [FeatureDecision]>,
  signal: SignalDefinition<[FeatureDecision]>,
): Command {
  const verb = name === 'skipFeature' ? 'skip' : 'retry';
  return missionArgCommand(
    { summary, usage: `mission ${verb} MISSION_ID FEATURE_ID [--reason TEXT]`, arg: 'a feature id', options: { reason: { type: 'string' } } },
    (c, id, featureId, v) => decide(c, id, { name, update, signal, payload: { featureId, reason: str(v.reason) } }),
  );
}

export const skip = featureCommand('skipFeature', 'Skip a feature (a running agent stops; its work stays on its branch)', skipFeatureUpdate, skipFeatureSignal);
