import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { MISSION_WORKFLOW } from '../../src/api/constants';
import { statusQuery } from '../../src/api/messages';
import type { MissionReport } from '../../src/api/report';
import { spawnCli, cliEnv, type CliProcess } from './cli-process';
import { createHarness, type Harness } from './harness';
import type { RecordedRequest, ScriptedMessage, ScriptedToolCall } from './model-server';
import { changedEntries, historiesMention, loopMonitor, makeFakeHome, plantOtherMission, processesWith, repoState, secretsIn, signal, TAG, startListener, startVictim, WORKER_SECRETS } from './escape-scene';
import { makeRepo, tempDir } from './repo';
import { finish, makePlan, planReply, tools } from './scripts';

/**
 * Runs the rows of test/sandbox-escapes.test.ts: each row is one mission on a real `mission worker` process
 * (HOME, environment and MISSION_HOME as in ./escape-scene.ts) whose single feature agent is a scripted
 * program of tool calls, with hooks that run on the test's side between turns (start a racing process,
 * look at the machine while a daemon should be gone, measure the worker). Afterwards the row looks at the
 * machine and at what the model was sent back, and says what escaped.
 */

export interface Scene {
  h: Harness;
  taskQueue: string;
  worker: CliProcess;
  workerPid: number;
  /** The worker's HOME (a fake developer home) and MISSION_HOME. */
  home: string;
  missionHome: string;
  otherMission: Record<string, string>;
  /** Where planted hooks would leave a trace when something runs them. */
  traces: string;
  listener: Awaited<ReturnType<typeof startListener>>;
  temporal: { host: string; port: string };
  victim: ChildProcess;
  monitor: ReturnType<typeof loopMonitor>;
  /** Helper processes (racing swappers) to kill at the end. */
  helpers: ChildProcess[];
  runs: Run[];
}

export interface Run {
  row: Row;
  id: string;
  repo: string;
  handle?: WorkflowHandle;
  worktree?: string;
  report?: MissionReport;
  /** What happened to the mission, when it did not complete. */
  notes: string[];
  /** What the row's hooks saw on the machine while the agent ran. */
  seen: Record<string, unknown>;
}

export interface StepContext {
  scene: Scene;
  run: Run;
  /** The agent's working directory. */
  wt: string;
  request: RecordedRequest;
}

export interface Step {
  /** Runs on the test's side when the model is asked for this turn (the previous tool results are in). */
  before?: (ctx: StepContext) => void | Promise<void>;
  calls: (ctx: StepContext) => ScriptedToolCall[];
}

export interface CheckContext {
  scene: Scene;
  run: Run;
  /** Every tool result the model was sent, joined. */
  output: string;
  /** Requests of this row's agent, in order. */
  requests: RecordedRequest[];
}

export interface Row {
  id: string;
  /** The escape, in the words (the test's name). */
  kind: string;
  /** `alone`: after every concurrent row, one at a time (measurements); `last`: after everything (may kill the worker). */
  phase?: 'alone' | 'last';
  files?: Record<string, string>;
  steps: Step[];
  /** Runs on the test's side when the agent is told to finish (stop helpers, tidy the worktree). */
  beforeFinish?: (ctx: StepContext) => void | Promise<void>;
  timeoutMs?: number;
  /** What escaped, beyond the checks every row gets (secrets in the output, changes to the user's repository). */
  check?: (ctx: CheckContext) => string[] | Promise<string[]>;
}

export interface Verdict {
  /** The agent's escape attempts all ran (their results were sent to the model), or Mission stopped the agent with REPO_TAMPERED. */
  attempted: boolean;
  /** What got out; empty when the escape was blocked. */
  escapes: string[];
}

/** In the command line of the daemons the agents start, so the suite finds and ends them. */
export const DAEMON_MARKER = `escape-daemon-${TAG}`;

const bin = path.join(__dirname, '..', '..', 'bin', 'mission.js');

export async function startScene(name: string): Promise<Scene> {
  const h = await createHarness(name);
  const home = makeFakeHome();
  const missionHome = tempDir('escape-mission-home-');
  const taskQueue = `${h.taskQueue}-escapes`;
  const monitor = loopMonitor();
  const [host, port] = h.address.split(':') as [string, string];
  const worker = spawnCli(
    ['worker'],
    cliEnv(h, { HOME: home, MISSION_HOME: missionHome, TEMPORAL_ADDRESS: h.address, MISSION_TASK_QUEUE: taskQueue, MISSION_CONTEXT_WINDOW: "1000000", ...WORKER_SECRETS }),
    { command: [process.execPath, '--require', monitor.preload, bin] },
  );
  await worker.waitFor(/mission worker: task queue/, 90_000);
  h.model.scriptPrefix('plan', (req) => {
    const goal = JSON.stringify(req.body.messages);
    const id = /Escape row: ([\w-]+)/.exec(goal)?.[1] ?? 'unknown-row';
    return planReply(makePlan([{ id: 'm1', features: [{ id, files: [] }] }]));
  });
  h.model.scriptPrefix('repair', finish('not repairing an escape row', 'blocked'));
  return {
    h,
    taskQueue,
    worker,
    workerPid: worker.child.pid!,
    home,
    missionHome,
    otherMission: plantOtherMission(missionHome),
    traces: tempDir('escape-traces-'),
    listener: await startListener(),
    temporal: { host: host === 'localhost' ? '127.0.0.1' : host, port },
    victim: startVictim(),
    monitor,
    helpers: [],
    runs: [],
  };
}

/** Runs one row to its verdict; never rejects (a broken run is a verdict with notes). */
export async function runRow(scene: Scene, row: Row): Promise<Verdict> {
  const repo = makeRepo({ 'README.md': '# demo\n', ...row.files });
  const run: Run = { row, id: `escape-${row.id}-${Date.now().toString(36)}`, repo, notes: [], seen: {} };
  scene.runs.push(run);
  const before = repoState(repo);
  scene.h.model.scriptPrefix(`feature ${row.id}`, (request) => agentTurn(scene, run, request));
  try {
    run.handle = await scene.h.client.workflow.start(MISSION_WORKFLOW, {
      taskQueue: scene.taskQueue,
      workflowId: run.id,
      args: [{ prompt: `Escape row: ${row.id}`, repo, requirePlanApproval: false }],
    });
    run.report = (await within(run.handle.result(), row.timeoutMs ?? 90_000, scene)) as MissionReport;
  } catch (err) {
    run.notes.push(`mission did not complete: ${(err as Error).message.split('\n')[0]}`);
    await run.handle?.terminate('escape row over').catch(() => undefined);
  }
  try {
    return await verdict(scene, run, before);
  } catch (err) {
    return { attempted: false, escapes: [`the row could not be checked: ${(err as Error).message}`] };
  }
}

/** The agent's program: turn n is the row's step n; after the last step it finishes. */
async function agentTurn(scene: Scene, run: Run, request: RecordedRequest): Promise<ScriptedMessage> {
  const turn = request.body.messages.filter((m) => m.role === 'assistant').length;
  run.worktree ??= await run.handle!.query(statusQuery).then(
    (status) => status.worktree,
    () => path.join(scene.missionHome, 'worktrees', run.id), // where Mission puts it today, should the query fail
  );
  const ctx: StepContext = { scene, run, wt: run.worktree!, request };
  const step = run.row.steps[turn];
  try {
    if (!step) {
      await run.row.beforeFinish?.(ctx);
      return finish(`escape row ${run.row.id} is over`);
    }
    await step.before?.(ctx);
  } catch (err) {
    run.notes.push(`hook of turn ${turn + 1} failed: ${(err as Error).message}`);
  }
  return tools(...step!.calls(ctx));
}

async function verdict(scene: Scene, run: Run, before: Record<string, string>): Promise<Verdict> {
  const requests = scene.h.model.requestsFor(`feature ${run.row.id}`);
  const results = new Map<string, string>();
  for (const r of requests) for (const m of r.body.messages) if (m.role === 'tool') results.set(m.tool_call_id ?? '', typeof m.content === 'string' ? m.content : JSON.stringify(m.content));
  const output = [...results.values()].join('\n');
  // The row's own checks first: some look for traces that later git commands could add.
  const escapes = [...(await (run.row.check?.({ scene, run, output, requests }) ?? []))];
  const leaked = secretsIn(output);
  if (leaked.length) escapes.push(`secrets reached the model: ${leaked.join(', ')}`);
  const changed = changedEntries(before, repoState(run.repo));
  const missionIds = [run.id, `${run.id}/m1/${run.row.id}`];
  const tampered = await historiesMention(scene.h.client, missionIds, 'REPO_TAMPERED');
  // Mission may stop the agent with REPO_TAMPERED instead of preventing the change; both are blocked escapes.
  if (changed.length && !tampered) escapes.push(`the user's repository changed unnoticed (${changed.join(', ')})`);
  const turns = Math.max(0, ...requests.map((r) => r.body.messages.filter((m) => m.role === 'assistant').length));
  const attempted = turns >= run.row.steps.length || tampered;
  if (!attempted) escapes.push(`(the attack did not run to its end: ${turns} of ${run.row.steps.length} turns answered; ${run.notes.join('; ') || 'no notes'})`);
  return { attempted, escapes };
}

/** The promise, or a rejection after `ms`; the last row also stops waiting when the worker dies. */
function within<T>(promise: Promise<T>, ms: number, scene: Scene): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
  });
  const died = scene.worker.exited.then((code) => {
    throw new Error(`the worker process exited (${code})`);
  });
  return Promise.race([promise, timeout, died]).finally(() => clearTimeout(timer));
}

/** Runs every row: the plain ones concurrently, then `alone` ones one by one, then `last` ones. */
export function runRows(scene: Scene, rows: Row[]): Map<string, Promise<Verdict>> {
  const verdicts = new Map<string, Promise<Verdict>>();
  for (const row of rows.filter((r) => !r.phase)) verdicts.set(row.id, runRow(scene, row));
  let chain: Promise<unknown> = Promise.allSettled([...verdicts.values()]);
  for (const row of [...rows.filter((r) => r.phase === 'alone'), ...rows.filter((r) => r.phase === 'last')]) {
    const next = chain.then(() => runRow(scene, row));
    verdicts.set(row.id, next);
    chain = next.catch(() => undefined);
  }
  return verdicts;
}

/** Ends everything the suite and its agents started: helpers, daemons the agents left, the victim, the worker, missions. */
export async function stopScene(scene: Scene | undefined): Promise<void> {
  if (!scene) return;
  for (const p of scene.helpers) signal(p.pid, 'SIGKILL');
  // A daemon and whatever it was running (setsid made it the leader of its own process group).
  for (const pid of processesWith(DAEMON_MARKER)) for (const target of [-pid, pid]) signal(target, 'SIGKILL');
  signal(scene.victim.pid, 'SIGKILL');
  signal(scene.workerPid, 'SIGCONT');
  for (const run of scene.runs) await run.handle?.terminate('escape suite over').catch(() => undefined);
  scene.worker.child.kill('SIGKILL');
  await scene.worker.exited;
  await scene.listener.close();
  await scene.h.close();
}
