import { oneId, str, UsageError, withClient, type Command } from '../common';
import { exitCodeFor, watchMission } from '../progress';

const USAGE = 'mission watch MISSION_ID [--interval SECONDS] [--json]';

export const watch: Command = {
  summary: 'Show live progress of milestones and features until the mission ends (exit 0 when it completed, 3 when it completed with issues)',
  usage: USAGE,
  run: async (args, ctx) => {
    const { id, values } = oneId(args, USAGE, { interval: { type: 'string' } });
    const seconds = Number(str(values.interval) ?? 1);
    if (!(seconds > 0)) throw new UsageError('--interval must be a number of seconds above 0');
    return withClient(async (c) => {
      const final = await watchMission(c, id, { intervalMs: seconds * 1000, json: ctx.json });
      return exitCodeFor(final);
    });
  },
};
