import { runWorker } from '../../worker';
import { parse, type Command } from '../common';

export const worker: Command = {
  summary: 'Run a worker for the mission task queue (TEMPORAL_ADDRESS, MISSION_TASK_QUEUE, MISSION_HOME)',
  usage: 'mission worker [--json]',
  run: async (args, ctx) => {
    parse(args, {});
    await runWorker(process.env, ctx.json);
    return 0;
  },
};
