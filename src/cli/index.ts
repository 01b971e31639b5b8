import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { approvePlan, connectClient, getStatus, MissionInputError, rejectPlan, revisePlan, startMission, waitForReport } from '../client';
import { missionKeyFor } from '../api/ids';
import { renderReport, type MissionReport } from '../api/report';
import { loadEnvConfig } from '../config';
import { MISSION_WORKFLOW } from '../api/constants';
import { pauseSignal, resumeSignal } from '../api/messages';
import { runDev } from '../dev';
import { runWorker } from '../worker';
import { watchMission } from './watch';
import { SCHEDULE_USAGE, scheduleCommand, UsageError } from './schedule';

interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const withClient = async (fn: (client: Client) => Promise<number>) => {
  let client: Client;
  try {
    client = await connectClient();
  } catch (err) {
    const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
    throw new Error(
      `cannot reach Temporal at ${address} (${(err as Error).message}); start a local server with "npx mission dev" ` +
        `(or "temporal server start-dev"), or set TEMPORAL_ADDRESS to your server`,
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
};

const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));

type Values = Record<string, string | undefined>;

/** A command on one mission: checks its flags first (no connection for a usage error), then acts. */
function onMission(usage: () => string, act: (client: Client, id: string, values: Values) => Promise<unknown>, check?: (values: Values) => void) {
  return (args: string[]) => {
    const { id, values } = oneId(args, usage());
    check?.(values);
    return withClient(async (client) => (await act(client, id, values), 0));
  };
}

function oneId(args: string[], usage: string): { id: string; values: Record<string, string | undefined> } {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { comment: { type: 'string' }, reason: { type: 'string' }, feedback: { type: 'string' }, by: { type: 'string' }, node: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one mission id\nusage: ${usage}`);
  return { id: positionals[0]!, values: values as Record<string, string | undefined> };
}


/** The command table: one entry per command. */
export const COMMANDS: Record<string, Command> = {
  worker: { summary: 'Run a worker for the mission task queue', usage: 'mission worker', run: async () => (await runWorker(), 0) },
  dev: {
    summary: 'Run a local Temporal dev server (persistent, with Web UI) and a worker in one process',
    usage: 'mission dev [--port 7233] [--ui-port 8233] [--db FILE]',
    run: async (args) => {
      const { values } = parseArgs({ args, options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, db: { type: 'string' } } });
      const port = Number(values.port ?? 7233);
      const uiPort = Number(values['ui-port'] ?? 8233);
      if (!Number.isInteger(port) || !Number.isInteger(uiPort)) throw new UsageError('--port and --ui-port must be port numbers');
      await runDev({ port, uiPort, db: values.db });
      return 0;
    },
  },
  start: {
    summary: 'Start a mission from a JSON input',
    usage: "mission start --input '{\"prompt\":\"...\",\"repo\":\"/abs/path\"}' [--id MISSION_ID]",
    run: async (args) => {
      const { values } = parseArgs({ args, options: { input: { type: 'string' }, id: { type: 'string' } } });
      let request: unknown;
      try {
        request = JSON.parse(values.input ?? '{}');
      } catch (err) {
        throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
      }
      const input = { repo: process.cwd(), ...(request as object) };
      return withClient(async (client) => {
        const handle = await startMission(client, input, { missionId: values.id });
        print({ missionId: handle.workflowId, runId: handle.firstExecutionRunId });
        return 0;
      });
    },
  },
  approve: {
    summary: 'Approve the plan',
    usage: 'mission approve MISSION_ID [--comment TEXT] [--by NAME] [--node mission:approve-plan]',
    run: onMission(
      () => COMMANDS.approve!.usage,
      (c, id, v) => approvePlan(c, id, { comment: v.comment, approvedBy: v.by }),
      // `--node mission:approve-plan` names the one approval node a mission has (a convention from graph-style runners).
      (v) => {
        if (v.node !== undefined && v.node !== 'mission:approve-plan') throw new UsageError(`--node must be mission:approve-plan (the plan approval gate), not "${v.node}"`);
      },
    ),
  },
  reject: {
    summary: 'Reject the plan and end the mission',
    usage: 'mission reject MISSION_ID [--reason TEXT]',
    run: onMission(() => COMMANDS.reject!.usage, (c, id, v) => rejectPlan(c, id, { reason: v.reason })),
  },
  revise: {
    summary: 'Ask for a new plan with feedback',
    usage: 'mission revise MISSION_ID --feedback TEXT',
    run: onMission(
      () => COMMANDS.revise!.usage,
      (c, id, v) => revisePlan(c, id, v.feedback!),
      (v) => {
        if (!v.feedback) throw new UsageError(`--feedback is required
usage: ${COMMANDS.revise!.usage}`);
      },
    ),
  },
  pause: {
    summary: 'Stop starting new work (running agents finish)',
    usage: 'mission pause MISSION_ID [--reason TEXT]',
    run: onMission(() => COMMANDS.pause!.usage, (c, id, v) => c.workflow.getHandle(id).signal(pauseSignal, { reason: v.reason })),
  },
  resume: {
    summary: 'Start new work again after pause',
    usage: 'mission resume MISSION_ID [--comment TEXT]',
    run: onMission(() => COMMANDS.resume!.usage, (c, id, v) => c.workflow.getHandle(id).signal(resumeSignal, { comment: v.comment })),
  },
  cancel: {
    summary: 'Cancel the mission (work done so far stays on its branch)',
    usage: 'mission cancel MISSION_ID',
    run: onMission(() => COMMANDS.cancel!.usage, (c, id) => c.workflow.getHandle(id).cancel()),
  },
  list: {
    summary: 'List missions (newest first)',
    usage: 'mission list [--json]',
    run: (args) =>
      withClient(async (c) => {
        const rows = [];
        for await (const w of c.workflow.list({ query: `WorkflowType = '${MISSION_WORKFLOW}'` })) {
          rows.push({ missionId: w.workflowId, status: w.status.name, startTime: w.startTime.toISOString(), closeTime: w.closeTime?.toISOString() });
          if (rows.length >= 100) break;
        }
        if (args.includes('--json')) print(rows);
        else for (const r of rows) console.log(`${r.missionId}\t${r.status}\t${r.startTime}`);
        return 0;
      }),
  },
  watch: {
    summary: 'Show live progress until the mission ends (exit 0 when it completed)',
    usage: 'mission watch MISSION_ID [--json]',
    run: (args) => withClient((c) => watchMission(c, oneId(args.filter((a) => a !== '--json'), COMMANDS.watch!.usage).id, { json: args.includes('--json') })),
  },
  status: {
    summary: 'Print the mission status as JSON',
    usage: 'mission status MISSION_ID',
    run: onMission(() => COMMANDS.status!.usage, async (c, id) => print(await getStatus(c, id))),
  },
  report: {
    summary: 'Print the mission report (Markdown, or JSON with --json)',
    usage: 'mission report MISSION_ID [--json]',
    run: (args) => {
      const json = args.includes('--json');
      const { id } = oneId(args.filter((a) => a !== '--json'), COMMANDS.report!.usage);
      return withClient(async (c) => {
        const found = await findReport(c, id);
        if (!found) {
          console.error(`mission report: no report for ${id} yet; it is written when the mission ends (see "mission status ${id}")`);
          return 1;
        }
        console.log(json ? JSON.stringify(found, null, 2) : renderReport(found).trimEnd());
        return 0;
      });
    },
  },
  schedule: {
    summary: 'Create, list, pause, unpause, trigger or delete mission schedules',
    usage: SCHEDULE_USAGE,
    run: (args) => withClient((c) => scheduleCommand(c, args)),
  },
  result: {
    summary: 'Wait for the mission to end and print its result as JSON',
    usage: 'mission result MISSION_ID',
    run: onMission(() => COMMANDS.result!.usage, async (c, id) => print(await waitForReport(c, id))),
  },
};

/** The workflow's result when it completed; else the report file the worker wrote (rejected, cancelled, failed). */
async function findReport(client: Client, id: string): Promise<MissionReport | undefined> {
  const handle = client.workflow.getHandle(id);
  const { status } = await handle.describe();
  if (status.name === 'COMPLETED') return (await handle.result()) as MissionReport;
  const file = path.join(loadEnvConfig().MISSION_HOME, 'reports', `${missionKeyFor(id)}.json`);
  if (status.name === 'RUNNING' || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as MissionReport;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return ['usage: mission <command> [options]', '', ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`mission: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\nusage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof MissionInputError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`mission ${name}: ${(err as Error).message}`);
      return 2;
    }
    if (err instanceof WorkflowNotFoundError) {
      console.error(`mission ${name}: no mission "${err.workflowId}" on this Temporal server and namespace; "mission list" shows the missions`);
      return 1;
    }
    console.error(`mission ${name}: ${(err as Error).message}`);
    return 1;
  }
}
