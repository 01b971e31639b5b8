import { MISSION_WORKFLOW } from '../../api/constants';
import { formatCost } from '../../api/prices';
import { parse, str, UsageError, withClient, type Command } from '../common';

const USAGE = 'mission list [--query "MissionStatus = \'awaiting-approval\'"] [--limit 100] [--json]';

export const list: Command = {
  summary: 'List missions, newest first (filter with a Temporal visibility query)',
  usage: USAGE,
  run: async (args, ctx) => {
    const { values, positionals } = parse(args, { query: { type: 'string' }, limit: { type: 'string' } });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${USAGE}`);
    const limit = Number(str(values.limit) ?? 100);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a whole number of at least 1');
    const query = `WorkflowType = '${MISSION_WORKFLOW}'${values.query ? ` AND (${str(values.query)})` : ''}`;
    return withClient(async (c) => {
      const rows = [];
      for await (const w of c.workflow.list({ query })) {
        rows.push({
          missionId: w.workflowId,
          status: w.status.name,
          phase: (w.searchAttributes?.MissionStatus as string[] | undefined)?.[0],
          costUsd: (w.searchAttributes?.MissionCostUsd as number[] | undefined)?.[0],
          startTime: w.startTime.toISOString(),
          closeTime: w.closeTime?.toISOString(),
        });
        if (rows.length >= limit) break;
      }
      ctx.out(rows, rows.map((r) => `${r.missionId}\t${r.status}${r.phase ? `\t${r.phase}` : ''}\t${r.costUsd === undefined ? 'cost unknown' : formatCost({ total: 0, costUsd: r.costUsd })}\t${r.startTime}`).join('\n') || 'no missions');
      return 0;
    });
  },
};
