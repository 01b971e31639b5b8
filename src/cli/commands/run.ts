import { Client, Connection } from '@temporalio/client';
import type { MissionStatus } from '../../api/status';
import { renderReport } from '../../api/report';
import { startMission } from '../../client';
import { loadEnvConfig } from '../../config';
import { resolveTemporal, startLocalWorker, type LocalTemporal } from '../../dev';
import { workerLogNote } from '../../worker';
import { answerCommands, askForAnswers, askForApproval, decisionCommands, renderPlan, renderQuestions } from '../approval';
import { connectOrExplain, str, type Command, type Context } from '../common';
import { inputFlagsHelp } from '../input-flags';
import { exitCodeFor, watchMission } from '../progress';
import { missionRequest, RUN_INPUT_OPTIONS, serverOptions, SERVER_OPTIONS } from '../request';
import { findReport } from './report';

const USAGE = 'mission run [PROMPT] [--repo DIR] [--id MISSION_ID] [--detach] [--input JSON|@file] [input flags] [--port N] [--ui-port N] [--db FILE] [--json]';

export const run: Command = {
  summary: 'Run a mission here: starts a local Temporal server and worker unless TEMPORAL_ADDRESS is set; asks for plan approval',
  usage: USAGE,
  help: () =>
    [
      'Without TEMPORAL_ADDRESS it uses a Temporal server on 127.0.0.1:--port if one answers, else starts one (data in',
      '$MISSION_HOME/temporal/dev.db, Web UI on --ui-port) with a worker in this process. The mission outlives this',
      'process: run "mission run --id ID" (or "mission dev", or "mission worker") again to continue it.',
      'In a terminal it asks for approval; otherwise it prints the approve command and waits. --detach returns at once.',
      '',
      'input flags (they override --input):',
      inputFlagsHelp(),
    ].join('\n'),
  run: async (args, ctx) => {
    const { request, values } = missionRequest(args, { ...RUN_INPUT_OPTIONS, ...SERVER_OPTIONS, detach: { type: 'boolean' } });
    const temporal = await resolveTemporal(serverOptions(values));
    const session = await openSession(temporal).catch(async (err: unknown) => {
      await temporal.server?.stop();
      throw err;
    });
    try {
      const existed = values.id ? await exists(session.client, str(values.id)!) : false;
      const handle = await startMission(session.client, request, { missionId: str(values.id) });
      const workerLog = await session.workerReady.catch((err: unknown) => {
        note(`mission ${handle.workflowId} was started, but this process could not make its worker; it waits on the server: "mission run --id ${handle.workflowId}", "mission dev" or "mission worker" continues it`);
        throw err;
      });
      const id = handle.workflowId;
      const webUi = temporal.uiUrl && `${temporal.uiUrl}/namespaces/${session.client.options.namespace}/workflows/${encodeURIComponent(id)}`;
      note(`mission ${id}: ${existed ? 'continuing' : 'started'} on ${where(temporal)}${webUi ? `\n  Web UI: ${webUi}` : ''}${workerLogNote(workerLog)}`);
      if (values.detach) {
        const later = temporal.origin === 'configured' ? `follow it with "mission watch ${id}"` : `it continues when "mission run --id ${id}", "mission dev" or "mission worker" runs`;
        ctx.out({ missionId: id, runId: handle.firstExecutionRunId, address: temporal.address, webUi, continued: existed }, `${id}\n${later}`);
        return 0;
      }
      const final = await follow(session.client, id, ctx, temporal);
      const report = await findReport(session.client, id);
      if (report) ctx.out(ctx.json ? { event: 'report', report } : report, renderReport(report).trimEnd());
      return exitCodeFor(final);
    } finally {
      await session.close();
    }
  },
};

/** Watches until the end, deciding each new plan on the terminal or printing how to. Ctrl-C leaves the mission running. */
async function follow(client: Client, id: string, ctx: Context, temporal: LocalTemporal) {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY) && !ctx.json;
  const stop = new AbortController();
  const onInterrupt = () => {
    stop.abort();
    note(`\nmission ${id} keeps its state; continue it with "mission run --id ${id}" (or "mission watch ${id}" when a worker runs)`);
  };
  process.once('SIGINT', onInterrupt);
  let decided = '';
  let asking: AbortController | undefined;
  const onStatus = (status: MissionStatus) => {
    const key = gateKey(status);
    if (key === decided) return;
    asking?.abort();
    asking = undefined;
    decided = key;
    if (!key) return;
    if (status.phase === 'awaiting-answers' && status.questions) {
      const pending = status.questions;
      if (ctx.json) console.log(JSON.stringify({ event: 'questions', missionId: id, round: pending.round, questions: pending.questions, answer: `mission answer ${id} --round ${pending.round} --defaults` }));
      else console.log(renderQuestions(pending));
      if (interactive) {
        asking = new AbortController();
        void askForAnswers(client, id, asking.signal, pending).catch((err: Error) => note(`could not send the answers: ${err.message}`));
      } else {
        note(answerCommands(id, pending.round, temporal.origin === 'configured' ? undefined : temporal.address));
      }
      return;
    }
    if (ctx.json) console.log(JSON.stringify({ event: 'plan', missionId: id, plan: status.plan, approve: `mission approve ${id}` }));
    else console.log(renderPlan(status.plan!));
    if (interactive) {
      asking = new AbortController();
      void askForApproval(client, id, asking.signal, status.planRevision).catch((err: Error) => note(`could not send the decision: ${err.message}`));
    } else {
      note(decisionCommands(id, temporal.origin === 'configured' ? undefined : temporal.address));
    }
  };
  try {
    // Until the plan (or the planner's questions) is on screen the user waits for it: polls follow the mission's
    // history, then come every 500 ms.
    const intervalMs = (status: MissionStatus | undefined) => (status?.plan || status?.questions ? 500 : 1000);
    const wake = (status: MissionStatus | undefined) => !status?.plan && !status?.questions;
    return await watchMission(client, id, { json: ctx.json, onStatus, intervalMs, wake, signal: stop.signal });
  } finally {
    asking?.abort();
    process.off('SIGINT', onInterrupt);
  }
}

/** What the person is asked now: a plan revision to decide, or a round of questions; '' when nothing. */
function gateKey(status: MissionStatus): string {
  if (status.phase === 'awaiting-approval' && status.plan) return `${status.planRevision}`;
  if (status.phase === 'awaiting-answers' && status.questions) return `questions ${status.planRevision + 1}.${status.questions.round}`;
  return '';
}

/**
 * A client for the chosen server, plus a worker in this process unless the server is one the user configured.
 * The worker is made (its workflow threads loading the bundle) while the client connects and the mission starts:
 * the mission's first task waits on the server for the worker instead of the start waiting for it (time to plan).
 * `workerReady` settles when the worker polls (with the path of its SDK log), or fails as making it failed.
 */
async function openSession(temporal: LocalTemporal): Promise<{ client: Client; workerReady: Promise<string | undefined>; close(): Promise<void> }> {
  const making = temporal.origin === 'configured' ? undefined : startLocalWorker(temporal.address);
  making?.catch(() => undefined); // awaited through workerReady or close
  let running: Promise<void> | undefined;
  const workerReady = making
    ? making.then((local) => {
        running = local.worker.run();
        return local.log;
      })
    : Promise.resolve(undefined);
  workerReady.catch(() => undefined);
  const stopWorker = async () => {
    const local = await making?.catch(() => undefined);
    if (!local) return;
    if (local.worker.getState() === 'RUNNING') local.worker.shutdown();
    await running;
    await local.close();
  };
  let client: Client;
  try {
    client = making
      ? new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: loadEnvConfig().TEMPORAL_NAMESPACE })
      : await connectOrExplain();
  } catch (err) {
    await stopWorker();
    throw err;
  }
  return {
    client,
    workerReady,
    close: async () => {
      await stopWorker();
      await client.connection.close();
      await temporal.server?.stop();
    },
  };
}

async function exists(client: Client, id: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(id).describe()).status.name === 'RUNNING';
  } catch {
    return false;
  }
}

const where = (t: LocalTemporal) =>
  t.origin === 'configured' ? `${t.address} (TEMPORAL_ADDRESS; a "mission worker" must serve the task queue)` : t.origin === 'local' ? `the local server at ${t.address}` : `a local server started here (${t.address}, data in ${t.server!.db})`;

/** Notes for the human go to stderr, so stdout stays the report (or JSON). */
const note = (text: string) => console.error(text);
