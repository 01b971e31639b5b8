import { startMission } from '../../client';
import { withClient, type Command } from '../common';
import { missionRequest, RUN_INPUT_OPTIONS } from '../request';
import { inputFlagsHelp } from '../input-flags';

const USAGE = 'mission start [PROMPT] [--input JSON|@file] [--id MISSION_ID] [input flags]';

export const start: Command = {
  summary: 'Start a mission and return at once (no local server or worker; see "mission run")',
  usage: USAGE,
  help: () => `input flags (they override --input):\n${inputFlagsHelp()}`,
  run: async (args, ctx) => {
    const { request, values } = missionRequest(args, RUN_INPUT_OPTIONS);
    return withClient(async (client) => {
      const handle = await startMission(client, request, { missionId: values.id as string | undefined });
      ctx.out({ missionId: handle.workflowId, runId: handle.firstExecutionRunId }, `started ${handle.workflowId}`);
      return 0;
    });
  },
};
