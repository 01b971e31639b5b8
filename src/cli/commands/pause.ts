import { pauseSignal, pauseUpdate } from '../../api/messages';
import { missionCommand, str } from '../common';
import { decide } from '../decision';

export const pause = missionCommand(
  { summary: 'Stop starting new work (running agents finish)', usage: 'mission pause MISSION_ID [--reason TEXT]', options: { reason: { type: 'string' } } },
  (c, id, v) => decide(c, id, { name: 'pause', update: pauseUpdate, signal: pauseSignal, payload: { reason: str(v.reason) } }),
);
