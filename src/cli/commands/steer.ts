import { steerSignal, steerUpdate } from '../../api/messages';
import { missionArgCommand, str } from '../common';
import { decide } from '../decision';

export const steer = missionArgCommand(
  {
    summary: 'Send a note to every running agent (next turn) and every later one',
    usage: 'mission steer MISSION_ID "NOTE" [--by NAME]',
    arg: 'the note',
    options: { by: { type: 'string' } },
  },
  (c, id, note, v) => decide(c, id, { name: 'steer', update: steerUpdate, signal: steerSignal, payload: { note, ...(str(v.by) ? { by: str(v.by)! } : {}) } }),
);
