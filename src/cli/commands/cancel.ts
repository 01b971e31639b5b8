import { missionCommand } from '../common';

export const cancel = missionCommand(
  { summary: 'Cancel the mission (work done so far stays on its branch)', usage: 'mission cancel MISSION_ID' },
  async (c, id) => (await c.workflow.getHandle(id).cancel(), { value: { missionId: id, cancelRequested: true }, text: `cancellation requested for ${id}` }),
);
