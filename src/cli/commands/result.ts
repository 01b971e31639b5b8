import { waitForReport } from '../../client';
import { missionCommand } from '../common';

export const result = missionCommand(
  { summary: 'Wait for the mission to end and print its result (the JSON report)', usage: 'mission result MISSION_ID' },
  async (c, id) => ({ value: await waitForReport(c, id) }),
);
