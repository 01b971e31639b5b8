import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { missionKeyFor } from '../../api/ids';
import { renderReport, type MissionReport } from '../../api/report';
import { loadEnvConfig } from '../../config';
import { oneId, withClient, type Command } from '../common';

const USAGE = 'mission report MISSION_ID [--json]';

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

/** The workflow's result when it completed; else the report file the worker wrote (rejected, cancelled, failed). */
export async function findReport(client: Client, id: string): Promise<MissionReport | undefined> {
  const handle = client.workflow.getHandle(id);
  const { status } = await handle.describe();
  if (status.name === 'COMPLETED') return (await handle.result()) as MissionReport;
  const file = path.join(loadEnvConfig().MISSION_HOME, 'reports', `${missionKeyFor(id)}.json`);
  if (status.name === 'RUNNING' || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as MissionReport;
}
