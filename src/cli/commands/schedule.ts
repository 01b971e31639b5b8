import { withClient, type Command } from '../common';
import { SCHEDULE_USAGE, scheduleCommand } from '../schedule';

export const schedule: Command = {
  summary: 'Create, list, pause, unpause, trigger or delete mission schedules',
  usage: SCHEDULE_USAGE,
  run: (args, ctx) => withClient((c) => scheduleCommand(c, args, ctx)),
};
