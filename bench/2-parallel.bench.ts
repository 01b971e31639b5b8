import { temporal } from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time';
import { recordFigure, type Row } from './figures';
import {
  completed,
  cpuSeconds,
  createBench,
  fetchHistories,
  historyStats,
  mean,
  readBaseline,
  spawnBlockMs,
  round,
  scriptAgents,
  scriptPlan,
  sec,
  serverPid,
  type Bench,
} from './support';
import { makeRepo } from '../test/support/repo';

const FEATURES = 6;
/** Short features (compared with bench/baseline.json), and features of a more usual length. */
const TURNS = 4;
const LONG_TURNS = 10;
const LONG_LEVELS = [1, 6];
const LATENCY_MS = 500;
const LEVELS = [1, 2, 3, 6];
const TARGET = 0.9;
const EventType = temporal.api.enums.v1.EventType;

interface Level {
  maxConcurrency: number;
  /** First feature worktree scheduled → last feature child closed, from the mission's history. */
  featuresMs: number;
  missionMs: number;
  /** Mean feature child duration (start → close). */
  featureMs: number;
  /** First → last createFeatureWorktree completed among the first maxConcurrency features (they are all scheduled at once). */
  worktreeStaggerMs: number;
  /** Most feature agents running at the same moment. */
  peakParallel: number;
  speedup: number;
  efficiency: number;
  /** Mean time a feature's workflow task runs (started → completed) and a tool call takes, from the agents' histories. */
  workflowTaskRunMs: number;
  toolMs: number;
  /** CPU seconds of the dev server and of this process (worker + scripted model) during the mission. */
  cpu: { server: number; worker: number };
}

async function levels(b: Bench, turns: number, levelList: number[]): Promise<Level[]> {
  b.model.reset();
  b.model.scriptPrefix('report', { content: 'Benchmark mission summary.' });
  scriptAgents(b.model, () => 2);
  scriptPlan(b.model, 1, 1);
  await completed(await b.start({ prompt: 'warm up', repo: makeRepo(), requirePlanApproval: false }));
  b.model.reset();
  b.model.scriptPrefix('report', { content: 'Benchmark mission summary.' });
  scriptAgents(b.model, () => turns);
  scriptPlan(b.model, 1, FEATURES);

  const pid = serverPid(b.address);
  const out: Level[] = [];
  for (const maxConcurrency of levelList) {
    const [server0, worker0] = [cpuSeconds(pid), process.cpuUsage()];
    const t0 = Date.now();
    const handle = await b.start({ prompt: `Parallel ${maxConcurrency}`, repo: makeRepo(), requirePlanApproval: false, useWorktrees: true, maxConcurrency });
    const report = await completed(handle);
    const missionMs = Date.now() - t0;
    const workerCpu = process.cpuUsage(worker0);
    expect(report.milestones[0]!.features.every((f) => f.merge?.state === 'merged')).toBe(true);
    const runs = await fetchHistories(b.client, handle.workflowId);
    const events = runs[0]!.history.events ?? [];
    const byId = new Map(events.map((e) => [String(e.eventId), e]));
    const worktrees = events
      .filter((e) => e.activityTaskCompletedEventAttributes)
      .filter((e) => byId.get(String(e.activityTaskCompletedEventAttributes!.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name === 'createFeatureWorktree');
    const firstScheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createFeatureWorktree')!;
    const lastChild = events.filter((e) => e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED).at(-1)!;
    const childStats = runs.slice(1).map((r) => historyStats([r]));
    const children = childStats.map((st) => st.span);
    out.push({
      maxConcurrency,
      featuresMs: tsToMs(lastChild.eventTime) - tsToMs(firstScheduled.eventTime),
      missionMs,
      featureMs: round(mean(children.map((s) => s.end - s.start))),
      worktreeStaggerMs: tsToMs(worktrees[Math.min(maxConcurrency, FEATURES) - 1]!.eventTime) - tsToMs(worktrees[0]!.eventTime),
      peakParallel: peak(children),
      workflowTaskRunMs: round(mean(childStats.flatMap((st) => st.workflowTasksTimed.map((w) => w.end - w.started))), 1),
      toolMs: round(mean(childStats.flatMap((st) => st.activities.filter((a) => a.type === 'runTool').map((a) => a.end - a.start))), 1),
      speedup: 0,
      efficiency: 0,
      cpu: { server: round(cpuSeconds(pid) - server0, 2), worker: round((workerCpu.user + workerCpu.system) / 1e6, 2) },
    });
  }
  expect(b.model.failures).toEqual([]);
  for (const l of out) {
    l.speedup = out[0]!.featuresMs / l.featuresMs;
    l.efficiency = l.speedup / Math.min(l.maxConcurrency, FEATURES);
  }
  return out;
}

const benches: Bench[] = [];
afterAll(async () => {
  for (const b of benches) await b.close();
});

test('2. parallel speed-up: 6 independent features, 500 ms model latency, maxConcurrency 1, 2, 3, 6', async () => {
  const began = Date.now();
  const bench = await createBench('parallel', { latencyMs: LATENCY_MS });
  benches.push(bench);
  const levelsNow = await levels(bench, TURNS, LEVELS);
  const longLevels = await levels(bench, LONG_TURNS, LONG_LEVELS);
  const spawn = await spawnBlockMs();
  const baseline = readBaseline();

  const row = (l: Level, turns: number): Row =>
    l.maxConcurrency === 1
      ? {
          name: `maxConcurrency 1, ${turns}-turn features`,
          value: `features ${sec(l.featuresMs)} (mission ${sec(l.missionMs)}); one feature agent takes ${sec(l.featureMs, 2)}`,
        }
      : {
          name: `maxConcurrency ${l.maxConcurrency}, ${turns}-turn features`,
          value:
            `speed-up ${round(l.speedup, 2)}× of ${l.maxConcurrency}×, efficiency ${round(l.efficiency * 100)}% (features ${sec(l.featuresMs)}, mission ${sec(l.missionMs)}; ` +
            `agents take ${sec(l.featureMs, 2)}; the last of the first ${l.maxConcurrency} worktrees came ${sec(l.worktreeStaggerMs, 2)} after the first)`,
          target: `≥ ${TARGET * 100}% of ideal`,
          pass: l.efficiency >= TARGET,
        };
  const rows: Row[] = levelsNow.map((l) => row(l, TURNS));
  if (baseline) {
    rows.push({
      name: `before (${baseline.commit}, ${baseline.measuredAt.slice(0, 16).replace('T', ' ')} UTC), ${TURNS}-turn features`,
      value: baseline.parallel
        .map((l) => (l.maxConcurrency === 1 ? `features ${sec(l.featuresMs)} at 1` : `${round(l.efficiency * 100)}% at ${l.maxConcurrency}`))
        .join(', '),
    });
  }
  rows.push(...longLevels.map((l) => row(l, LONG_TURNS)));
  rows.push({
    name: 'worker event loop blocked per git command',
    value: `${round(spawn.inProcessMs, 1)} ms when this process (RSS ${spawn.rssMiB} MiB) spawns git itself; ${round(spawn.helperMs, 2)} ms when the git helper process does`,
  });

  const b6 = baseline?.parallel.at(-1);
  const notes: string[] = [
    'Profiled with per-activity timings inside the worker, the agents\' histories and CPU profiles of the worker and its workflow threads (node --cpu-prof). Causes found, and fixed: ' +
      '(1) createFeatureWorktree and commitWork held the repository lock for all their git commands, so six agents got their worktrees, and committed, one after another' +
      (b6 ? ` (the last agent started ${sec(b6.worktreeStaggerMs, 2)} after the first)` : '') +
      '; now only `git worktree add --no-checkout` (one quick command, the files are checked out after it) takes it — git cannot add two worktrees to one repository at once ' +
      '(2.39 fails one of them about 1 time in 10: "failed to read .git/worktrees/<other>/commondir") — and the rest locks the feature\'s own worktree (src/activities/gitcore.ts). ' +
      `(2) Starting a process forks the worker, and fork copies its page tables: ${round(spawn.inProcessMs, 1)} ms of a blocked event loop per git command at ` +
      `${spawn.rssMiB} MiB, during which no other agent's model reply or tool call was handled; git now runs in a small helper process ` +
      '(src/activities/git-process.ts, git run directly). ' +
      '(3) Each turn was two activities with a server round trip each; they are now local activities (figure 1). ' +
      '(4) Features that start or finish together queued on the SDK\'s one workflow thread; the worker now has two. ' +
      '(5) Every new workflow evaluated the whole bundle again, zod included: ~30 ms of a workflow thread per workflow start, six at once when six features start; ' +
      'zod is now preloaded once per workflow thread (src/workflow-bundle.ts), which halves that.',
  ];
  const perTurn = (set: Level[], turns: number) => (set.at(-1)!.featureMs - set[0]!.featureMs) / turns;
  const short6 = levelsNow.at(-1)!;
  const long6 = longLevels.at(-1)!;
  if ([...levelsNow, ...longLevels].some((l) => l.efficiency < TARGET)) {
    notes.push(
      `What remains: with six at once an agent takes ${sec(short6.featureMs - levelsNow[0]!.featureMs, 2)} longer over ${TURNS} turns and ` +
        `${sec(long6.featureMs - longLevels[0]!.featureMs, 2)} longer over ${LONG_TURNS} (${round(perTurn(levelsNow, TURNS))} and ${round(perTurn(longLevels, LONG_TURNS))} ms a turn): ` +
        `every scripted model call takes exactly ${LATENCY_MS} ms, so the six agents' turns end at the same moments and their local activities queue on one worker ` +
        "process (whose event loop also serves the scripted model), the dev server and 2 cores. On top of that each feature starts with a fixed cost that parallelism " +
        `cannot hide: the worktrees come one at a time (the last ${sec(short6.worktreeStaggerMs, 2)} after the first) and six workflows start at once. ` +
        `Longer features hide the fixed part: ${round(long6.efficiency * 100)}% with ${LONG_TURNS} turns against ${round(short6.efficiency * 100)}% with ${TURNS}. ` +
        `CPU in the ${TURNS}-turn mission at 6: dev server ${short6.cpu.server} s, this process ${short6.cpu.worker} s in ${sec(short6.missionMs)}.`,
    );
  }

  recordFigure('parallel', {
    n: 2,
    title: 'Parallel speed-up',
    how:
      `${FEATURES} independent features (no shared files, no dependencies) of ${TURNS} turns each (write_file turns, then finish), model latency ${LATENCY_MS} ms per call, ` +
      `then the same with ${LONG_TURNS}-turn features at maxConcurrency ${LONG_LEVELS.join(' and ')}, ` +
      'useWorktrees true, one mission per maxConcurrency on an in-process worker after a warm-up mission. Time of the features phase from the mission history: ' +
      'first createFeatureWorktree scheduled → last feature child workflow closed (plan, merges and report are serial by design and left out; whole-mission times shown too). ' +
      'Speed-up = T(1) ÷ T(n); efficiency = speed-up ÷ n. "Before" is the same benchmark at the commit named, from bench/baseline.json. Event-loop block: the synchronous ' +
      'part of child_process.execFile("git", ["--version"]) in this process, against sending the same command to the helper, 40 times each.',
    rows,
    data: { levels: levelsNow, longLevels, spawn, baseline: baseline?.parallel },
    notes,
    durationMs: Date.now() - began,
  });
});

function peak(spans: { start: number; end: number }[]): number {
  const points = spans.flatMap((s) => [
    [s.start, 1],
    [s.end, -1],
  ] as [number, number][]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (current += d));
  return max;
}
