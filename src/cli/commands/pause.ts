import { pauseSignal } from '../../api/messages';
import { missionCommand, sent, str } from '../common';

export const pause = missionCommand(
  { summary: 'Stop starting new work (running agents finish)', usage: 'mission pause MISSION_ID [--reason TEXT]', options: { reason: { type: 'string' } } },
  async (c, id, v) => (await c.workflow.getHandle(id).signal(pauseSignal, { reason: str(v.reason) }), sent(id, 'pause')),
);
