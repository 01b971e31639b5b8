import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import OpenAI from 'openai';
import { MISSION_WORKFLOW } from '../src/api/constants';
import { createActivities, type ActivityDeps } from '../src/activities';
import { Git } from '../src/activities/gitcore';
import { GitCommandError, gitProcess } from '../src/activities/git-process';
import type { MissionRequest } from '../src/api/input';
import type { MissionReport } from '../src/api/report';
import type { mission } from '../src/workflows/mission';
import { ensureSearchAttributes } from '../src/search-attributes';
import { createMissionWorker, type MissionWorker } from '../src/worker';
import { cliEnv, spawnCli, type CliProcess } from '../test/support/cli-process';
import { quietRuntime, type Harness } from '../test/support/harness';
import { ScriptedModelServer, type ChatMessage, type ScriptedMessage } from '../test/support/model-server';
import { tempDir } from '../test/support/repo';
import { call, finish, makePlan, planReply, tools } from '../test/support/scripts';

type EventType = temporal.api.enums.v1.EventType;
const EventType = temporal.api.enums.v1.EventType;
type History = temporal.api.history.v1.IHistory;

export const TEST_KEY = 'sk-bench-secret-key-123456';

/**
 * A benchmark's view of the shared dev server, like test/support/harness.ts but with a model server of
 * configurable latency, and the worker optional (some benchmarks run `mission worker` processes instead).
 */
export interface Bench {
  client: Client;
  address: string;
  taskQueue: string;
  model: ScriptedModelServer;
  home: string;
  start(input: MissionRequest, id?: string, taskQueue?: string): Promise<WorkflowHandle<typeof mission>>;
  /** `mission worker` from dist/ as a real process on this bench's server, model, home and task queue. */
  workerProcess(taskQueue?: string): CliProcess & { ready: Promise<unknown> };
  /** Every activity the in-process worker ran, timed inside the worker (local activities included). */
  activityRuns: ActivityRun[];
  close(): Promise<void>;
}

export interface ActivityRun extends Interval {
  type: string;
  local: boolean;
  workflowId: string;
}

/** Wraps every activity with a timer: the time spent inside activities, as the worker saw it. */
function timedActivities<A extends object>(activities: A, runs: ActivityRun[]): A {
  const out: Record<string, unknown> = {};
  for (const [type, fn] of Object.entries(activities) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    out[type] = async (...args: unknown[]) => {
      const start = performance.timeOrigin + performance.now();
      try {
        return await fn(...args);
      } finally {
        const { info } = Context.current();
        runs.push({ type, local: info.isLocal, workflowId: info.workflowExecution?.workflowId ?? '', start, end: performance.timeOrigin + performance.now() });
      }
    };
  }
  return out as A;
}

let counter = 0;

export interface BenchOptions {
  latencyMs?: number;
  inProcessWorker?: boolean;
  address?: string;
  /** MISSION_HOME of the worker (default: a new temporary folder). */
  home?: string;
  /** The worker's sandbox setting (default: auto, as MISSION_SANDBOX). */
  sandbox?: ActivityDeps['sandbox'];
}

export async function createBench(name: string, opts: BenchOptions = {}): Promise<Bench> {
  const address = opts.address ?? process.env.MISSION_TEST_TEMPORAL_ADDRESS;
  const bundle = process.env.MISSION_TEST_WORKFLOW_BUNDLE;
  if (!address || !bundle) throw new Error('The Temporal dev server was not started: run the benchmarks with "npm run bench".');
  quietRuntime();
  const taskQueue = `bench-${name}-${process.pid}-${Date.now().toString(36)}`;
  const model = await ScriptedModelServer.start({ latencyMs: opts.latencyMs ?? 0 });
  model.scriptPrefix('report', { content: 'Benchmark mission summary.' });
  // Long benchmark conversations outgrow the 8k window assumed for the scripted model and are compacted.
  model.scriptPrefix('compact', { content: 'Benchmark summary of the earlier turns.' });
  const home = opts.home ?? tempDir('mission-bench-home-');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  let worker: { worker: MissionWorker; running: Promise<void>; connection: NativeConnection } | undefined;
  const activityRuns: ActivityRun[] = [];
  if (opts.inProcessWorker !== false) {
    // The same worker as `mission worker`, in this process, with its activities timed.
    const nativeConnection = await NativeConnection.connect({ address });
    const deps: ActivityDeps = {
      openai: new OpenAI({ baseURL: model.baseURL, apiKey: TEST_KEY, maxRetries: 0 }),
      home,
      defaultModel: 'bench-model',
      toolEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
      searchAttributes: await ensureSearchAttributes({ address }, 'default'),
      ...(opts.sandbox ? { sandbox: opts.sandbox } : {}),
    };
    const w = await createMissionWorker({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: { codePath: bundle },
      deps,
      activities: timedActivities(createActivities(deps), activityRuns),
    });
    worker = { worker: w, running: w.run(), connection: nativeConnection };
  }
  const processes: CliProcess[] = [];
  const harnessLike = { home, model, address, taskQueue } as unknown as Harness;

  return {
    client,
    address,
    taskQueue,
    model,
    home,
    start: (input, id, queue) =>
      client.workflow.start<typeof mission>(MISSION_WORKFLOW, {
        taskQueue: queue ?? taskQueue,
        workflowId: id ?? `bench-${name}-${++counter}-${Date.now().toString(36)}`,
        args: [input],
      }),
    workerProcess: (queue) => {
      const env = cliEnv(harnessLike, { TEMPORAL_ADDRESS: address, MISSION_TASK_QUEUE: queue ?? taskQueue, OPENAI_API_KEY: TEST_KEY });
      const p = spawnCli(['worker'], env);
      processes.push(p);
      return { ...p, ready: p.waitFor(/mission worker: task queue/, 60_000) };
    },
    activityRuns,
    close: async () => {
      for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      if (worker) {
        worker.worker.shutdown();
        await worker.running;
        await worker.connection.close();
      }
      await connection.close();
      await model.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Scripted agents: replies computed from the transcript, so any number of missions can share a server.

/** The 1-based turn a request is for: one assistant message is added per turn. */
export const turnOf = (messages: ChatMessage[]) => 1 + messages.filter((m) => m.role === 'assistant').length;

/**
 * Every `feature <id>` agent takes `turnsFor(id)` turns: a write_file of `bytes` bytes per turn, then
 * finish. Stateless, so it serves every mission on the server and every retry the same way.
 */
export function scriptAgents(model: ScriptedModelServer, turnsFor: (featureId: string) => number, bytes = 64): void {
  model.scriptPrefix('feature ', (req): ScriptedMessage => {
    const id = req.role.slice('feature '.length);
    const turn = turnOf(req.body.messages);
    if (turn >= turnsFor(id)) return finish(`${id} done`);
    return tools(call('write_file', { path: `${id}/part-${turn}.txt`, content: `${id} ${turn}\n`.padEnd(bytes, '.') }));
  });
}

/** A plan of `milestones` × `features` independent features (ids m1-f1 …), scripted as every mission's plan. */
export function scriptPlan(model: ScriptedModelServer, milestones: number, features: number): void {
  const plan = makePlan(
    Array.from({ length: milestones }, (_, m) => ({
      id: `m${m + 1}`,
      features: Array.from({ length: features }, (__, f) => ({ id: `m${m + 1}-f${f + 1}`, files: [`m${m + 1}-f${f + 1}/`] })),
    })),
    'Benchmark plan',
  );
  model.scriptPrefix('plan', planReply(plan));
}

export async function completed(handle: WorkflowHandle<typeof mission>): Promise<MissionReport> {
  const report = await handle.result();
  if (report.outcome !== 'completed') throw new Error(`mission ${handle.workflowId} ended ${report.outcome}: ${JSON.stringify(report.unresolved)}`);
  const failed = report.milestones.flatMap((m) => m.features).filter((f) => f.state !== 'done');
  if (failed.length) throw new Error(`mission ${handle.workflowId}: features not done: ${failed.map((f) => `${f.id} ${f.state}`).join(', ')}`);
  return report;
}

// ---------------------------------------------------------------------------------------------------
// Histories.

export interface RunHistory {
  workflowId: string;
  runId: string;
  history: History;
  bytes: number;
}

/** Every run (continue-as-new chains followed back from the latest) of a workflow and, recursively, of its children. */
export async function fetchHistories(client: Client, workflowId: string): Promise<RunHistory[]> {
  const out: RunHistory[] = [];
  const runs: RunHistory[] = [];
  let runId: string | undefined;
  for (;;) {
    const handle = client.workflow.getHandle(workflowId, runId);
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const id = runId ?? (await handle.describe()).runId;
    runs.unshift({ workflowId, runId: id, history, bytes: temporal.api.history.v1.History.encode(history).finish().length });
    runId = started?.continuedExecutionRunId || undefined;
    if (!runId) break;
  }
  for (const run of runs) {
    out.push(run);
    for (const e of run.history.events ?? []) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
      if (child) out.push(...(await fetchHistories(client, child)));
    }
  }
  return out;
}

export interface Interval {
  start: number;
  end: number;
}

export interface ActivityTiming extends Interval {
  type: string;
  workflowId: string;
  scheduled: number;
  attempt: number;
}

export interface HistoryStats {
  runs: number;
  events: number;
  bytes: number;
  workflowTasks: number;
  activityTasks: number;
  /** Local activities (an agent's turns): recorded as markers, run without a task of their own. */
  localActivities: number;
  childWorkflows: number;
  activities: ActivityTiming[];
  /** Each workflow task: scheduled → completed, with when a worker picked it up. */
  workflowTasksTimed: (Interval & { started: number })[];
  /** First to last event over every run. */
  span: Interval;
}

const ms = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);

export function historyStats(runs: RunHistory[]): HistoryStats {
  const stats: HistoryStats = {
    runs: runs.length,
    events: 0,
    bytes: 0,
    workflowTasks: 0,
    activityTasks: 0,
    localActivities: 0,
    childWorkflows: 0,
    activities: [],
    workflowTasksTimed: [],
    span: { start: Infinity, end: -Infinity },
  };
  for (const run of runs) {
    const events = run.history.events ?? [];
    stats.events += events.length;
    stats.bytes += run.bytes;
    const byId = new Map<string, temporal.api.history.v1.IHistoryEvent>(events.map((e) => [String(e.eventId), e]));
    for (const e of events) {
      const t = ms(e);
      stats.span.start = Math.min(stats.span.start, t);
      stats.span.end = Math.max(stats.span.end, t);
      switch (e.eventType as EventType) {
        case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
          stats.workflowTasks += 1;
          const scheduled = byId.get(String(e.workflowTaskCompletedEventAttributes?.scheduledEventId));
          const started = byId.get(String(e.workflowTaskCompletedEventAttributes?.startedEventId));
          if (scheduled) stats.workflowTasksTimed.push({ start: ms(scheduled), started: started ? ms(started) : ms(scheduled), end: t });
          break;
        }
        case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
          stats.childWorkflows += 1;
          break;
        case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
          const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
          const scheduled = byId.get(String(a?.scheduledEventId));
          const started = byId.get(String((a as { startedEventId?: unknown } | undefined)?.startedEventId));
          stats.activityTasks += 1;
          if (!scheduled) break;
          stats.activities.push({
            type: scheduled.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
            workflowId: run.workflowId,
            scheduled: ms(scheduled),
            start: started ? ms(started) : ms(scheduled),
            end: t,
            attempt: started?.activityTaskStartedEventAttributes?.attempt ?? 1,
          });
          break;
        }
        case EventType.EVENT_TYPE_MARKER_RECORDED:
          // A marker's times are the workflow's, not the activity's: time local activities in the worker (Bench.activityRuns).
          if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') stats.localActivities += 1;
          break;
        default:
      }
    }
  }
  return stats;
}

/** Total length of the union of intervals (time during which at least one was open). */
export function unionMs(intervals: Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let current: Interval | undefined;
  for (const i of sorted) {
    if (!current || i.start > current.end) {
      if (current) total += current.end - current.start;
      current = { ...i };
    } else current.end = Math.max(current.end, i.end);
  }
  if (current) total += current.end - current.start;
  return total;
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
export const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;
export const sec = (msValue: number, digits = 1) => `${(msValue / 1000).toFixed(digits)} s`;

/** Resident memory of a process in MiB (Linux /proc), or undefined when it is gone. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a value every `everyMs` until stopped; returns the samples. */
export function sampler(read: () => number | undefined, everyMs = 250): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    const v = read();
    if (v !== undefined) samples.push(v);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Measuring devices for figure 6 (git at size).

/** How long the Git class takes for a git command that prints nothing (simple-git adds 50 ms to those). */
export async function quietGitMs(): Promise<number> {
  const dir = tempDir('mission-bench-quiet-');
  execFileSync('git', ['init', '-q', dir]);
  const g = new Git(dir);
  await g.succeeds(['show-ref', '--verify', '--quiet', 'refs/heads/none']);
  const t = process.hrtime.bigint();
  for (let i = 0; i < 3; i++) await g.succeeds(['show-ref', '--verify', '--quiet', 'refs/heads/none']);
  return Number(process.hrtime.bigint() - t) / 3e6;
}

/**
 * Runs the Git class's commands with child_process.execFile in this process instead of simple-git in the git
 * helper process (same arguments, GIT_* variables dropped as simple-git does, failures as GitCommandError).
 * Returns the undo.
 */
export function useExecFileGit(): () => void {
  const saved = gitProcess.raw;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toUpperCase().startsWith('GIT_')));
  gitProcess.raw = (dir: string, args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile('git', args, { cwd: dir, env, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new GitCommandError(`${stderr}${stdout}`.trim() || err.message));
        else resolve(stdout.trim());
      });
    });
  return () => {
    gitProcess.raw = saved;
  };
}

/** The pid of the `temporal server start-dev` listening on `address` (Linux /proc), if found. */
export function serverPid(address: string): number | undefined {
  const port = address.split(':').at(-1);
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('start-dev') && args.includes(String(port))) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** CPU seconds (user + system) a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Starts measuring how busy the whole machine is (Linux /proc/stat); call the result for the busy share since. */
export function machineBusy(): () => number {
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const start = read();
  return () => {
    const end = read();
    const total = end.total - start.total;
    return total > 0 ? 1 - (end.idle - start.idle) / total : 0;
  };
}

/** Figures 1 and 2 before the fixes they led to (bench/baseline.json), shown beside each run. */
export interface Baseline {
  commit: string;
  measuredAt: string;
  overhead: { wallMs: number; activityMs: number; ratio: number; roundTrips: number; workflowTasks: number; activityTasks: number; meanActivityMs: number; orchestrationPerActivityMs: number };
  parallel: { maxConcurrency: number; featuresMs: number; missionMs: number; featureMs: number; worktreeStaggerMs: number; speedup: number; efficiency: number }[];
}

export function readBaseline(): Baseline | undefined {
  try {
    return JSON.parse(readFileSync(path.join(__dirname, 'baseline.json'), 'utf8')) as Baseline;
  } catch {
    return undefined;
  }
}

/**
 * How long this process's event loop stops for one git command: spawning it here (fork copies this
 * process's page tables, so it grows with its memory) against sending it to the git helper process.
 */
export async function spawnBlockMs(times = 40): Promise<{ inProcessMs: number; helperMs: number; rssMiB: number }> {
  const dir = tempDir('mission-bench-spawn-');
  let inProcess = 0;
  for (let i = 0; i < times; i++) {
    await new Promise<void>((resolve, reject) => {
      const t = performance.now();
      execFile('git', ['--version'], { cwd: dir }, (err) => (err ? reject(err) : resolve()));
      inProcess += performance.now() - t;
    });
  }
  await gitProcess.raw(dir, ['--version']); // started
  let helper = 0;
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    const reply = gitProcess.raw(dir, ['--version']);
    helper += performance.now() - t;
    await reply;
  }
  return { inProcessMs: inProcess / times, helperMs: helper / times, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) };
}
