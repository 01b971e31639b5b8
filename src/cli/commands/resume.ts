import { resumeSignal } from '../../api/messages';
import { missionCommand, sent, str } from '../common';

export const resume = missionCommand(
  { summary: 'Start new work again after a pause', usage: 'mission resume MISSION_ID [--comment TEXT]', options: { comment: { type: 'string' } } },
  async (c, id, v) => (await c.workflow.getHandle(id).signal(resumeSignal, { comment: str(v.comment) }), sent(id, 'resume')),
);
