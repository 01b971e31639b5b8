import { decisionGate } from '../../api/gate';
import { getStatus } from '../../client';
import { missionCommand } from '../common';
import { agentsProgress, progressLines } from '../progress';

export const status = missionCommand(
  { summary: 'Print the mission status (progress lines, or the whole status with --json)', usage: 'mission status MISSION_ID [--json]' },
  async (c, id) => {
    const value = await getStatus(c, id);
    const gate = decisionGate(value);
    return { value, text: [...progressLines(value, await agentsProgress(c, value)), ...(gate ? ['', gate] : [])].join('\n') };
  },
);
