import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { missionKeyFor } from '../../api/ids';
import { reportQuery } from '../../api/messages';
import { renderReport, type MissionReport } from '../../api/report';
import { loadEnvConfig } from '../../config';
import { oneId, queryWithin, withClient, type Command } from '../common';

const USAGE = 'mission report MISSION_ID [--json]';
const QUERY_DEADLINE_MS = 10_000;

export const report: Command = {
  summary: 'Print the mission report (Markdown, or JSON with --json)',
  usage: USAGE,
  run: async (args, ctx) => {
    const { id } = oneId(args, USAGE);
    return withClient(async (c) => {
      const found = await findReport(c, id);
      if (!found) {
        console.error(`mission report: no report for ${id} yet; it is written when the mission ends (see "mission status ${id}")`);
        return 1;
      }
      ctx.out(found, renderReport(found).trimEnd());
      return 0;
    });
  },
};

/**
 * From Temporal, so it works wherever the worker runs: the workflow's result when it completed, else the
 * `report` query (a failed or cancelled mission keeps its report in its state; answering needs a worker).
 * The report file under this machine's MISSION_HOME is the last resort, when no worker answers.
 */
export async function findReport(client: Client, id: string): Promise<MissionReport | undefined> {
  const handle = client.workflow.getHandle(id);
  const { status } = await handle.describe();
  if (status.name === 'COMPLETED') return (await handle.result()) as MissionReport;
  try {
    const queried = await queryWithin(client, handle, reportQuery, QUERY_DEADLINE_MS);
    if (queried || status.name === 'RUNNING') return queried ?? undefined;
  } catch {
    // No worker answered: fall back to this machine's copy.
  }
  const file = path.join(loadEnvConfig().MISSION_HOME, 'reports', `${missionKeyFor(id)}.json`);
  if (status.name === 'RUNNING' || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as MissionReport;
}
