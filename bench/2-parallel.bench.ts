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
  perWorktreeLocks,
  quietGitMs,
  round,
  scriptAgents,
  scriptPlan,
  sec,
  serverPid,
  useExecFileGit,
  type Bench,
} from './support';
import { makeRepo } from '../test/support/repo';

const FEATURES = 6;
const TURNS = 4;
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

async function levels(b: Bench): Promise<Level[]> {
  b.model.reset();
  b.model.scriptPrefix('report', { content: 'Benchmark mission summary.' });
  scriptAgents(b.model, () => 1);
  scriptPlan(b.model, 1, 1);
  await completed(await b.start({ prompt: 'warm up', repo: makeRepo(), requirePlanApproval: false }));
  b.model.reset();
  b.model.scriptPrefix('report', { content: 'Benchmark mission summary.' });
  scriptAgents(b.model, () => TURNS);
  scriptPlan(b.model, 1, FEATURES);

  const pid = serverPid(b.address);
  const out: Level[] = [];
  for (const maxConcurrency of LEVELS) {
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
  const suiteBench = await createBench('parallel', { latencyMs: LATENCY_MS });
  benches.push(suiteBench);
  const before = await levels(suiteBench);

  // After: run-time prototypes of the fixes the figures point to (bench/support.ts), in this process only.
  const prototypes: string[] = [];
  const undo = (await quietGitMs()) > 30 ? useExecFileGit() : undefined;
  if (undo) prototypes.push('git through execFile');
  prototypes.push('per-worktree locks for createFeatureWorktree and commitWork');
  let after: Level[];
  try {
    const afterBench = await createBench('parallel-after', { latencyMs: LATENCY_MS, activities: perWorktreeLocks });
    benches.push(afterBench);
    after = await levels(afterBench);
  } finally {
    undo?.();
  }

  const row = (l: Level, label: string): Row =>
    l.maxConcurrency === 1
      ? { name: `${label}maxConcurrency 1`, value: `features ${sec(l.featuresMs)} (mission ${sec(l.missionMs)}); one feature agent takes ${sec(l.featureMs, 2)}` }
      : {
          name: `${label}maxConcurrency ${l.maxConcurrency}`,
          value:
            `speed-up ${round(l.speedup, 2)}× of ${l.maxConcurrency}×, efficiency ${round(l.efficiency * 100)}% (features ${sec(l.featuresMs)}, mission ${sec(l.missionMs)}; ` +
            `agents take ${sec(l.featureMs, 2)}; the last of the first ${l.maxConcurrency} worktrees came ${sec(l.worktreeStaggerMs, 2)} after the first)`,
          target: `≥ ${TARGET * 100}% of ideal`,
          pass: l.efficiency >= TARGET,
        };
  const rows: Row[] = [...before.map((l) => row(l, 'before: ')), ...after.map((l) => row(l, 'after: '))];

  const notes: string[] = [];
  const b6 = before.at(-1)!;
  if (b6.efficiency < TARGET) {
    notes.push(
      `Before, at maxConcurrency 6: the six createFeatureWorktree activities run one after another (withRepoLock in src/activities/git.ts), so the last agent starts ` +
        `${sec(b6.worktreeStaggerMs, 2)} after the first; each git command that prints nothing costs 50 ms more in simple-git; and commitWork takes the same ` +
        'repository lock, so agents that finish together commit one at a time.',
    );
  }
  {
    const a6 = after.at(-1)!;
    const gained = a6.efficiency - b6.efficiency > 0.03;
    notes.push(
      `After (${prototypes.join(', ')}): efficiency at 6 ${round(b6.efficiency * 100)}% → ${round(a6.efficiency * 100)}%, ` +
        `worktree stagger ${sec(b6.worktreeStaggerMs, 2)} → ${sec(a6.worktreeStaggerMs, 2)}, one agent ${sec(b6.featureMs, 2)} → ${sec(a6.featureMs, 2)} when six run at once ` +
        `(${sec(after[0]!.featureMs, 2)} alone)` +
        (gained
          ? '.'
          : `: no clear gain on this small repository — with all six starting at the same moment their bursts coincide, where the lock used to spread them by ${sec(b6.worktreeStaggerMs, 2)}. ` +
            'The changes pay off on large repositories, where each worktree takes a large share of a second or more (figure 6).'),
    );
    if (a6.efficiency < TARGET) {
      const a1 = after[0]!;
      notes.push(
        `What remains: an agent takes ${sec(a6.featureMs - a1.featureMs, 2)} longer when six run at once, because their work arrives in bursts — every model call takes ` +
          `exactly ${LATENCY_MS} ms, so the six agents' turns end at the same moments — and queues on one worker process (its event loop also serves the scripted model), ` +
          `the dev server (SQLite on a single connection) and 2 cores: a feature's workflow task runs ${a6.workflowTaskRunMs} ms instead of ${a1.workflowTaskRunMs} ms, ` +
          `a tool call takes ${a6.toolMs} ms instead of ${a1.toolMs} ms. CPU in the mission: dev server ${a6.cpu.server} s, this process ${a6.cpu.worker} s in ${sec(a6.missionMs)}. ` +
          'Models with varying latency, or more cores, spread the bursts; fewer tasks per turn (the model call and its tool calls in one activity) would be the lever in Mission.',
      );
    }
  }

  recordFigure('parallel', {
    n: 2,
    title: 'Parallel speed-up',
    how:
      `${FEATURES} independent features (no shared files, no dependencies) of ${TURNS} turns each (write_file turns, then finish), model latency ${LATENCY_MS} ms per call, ` +
      'useWorktrees true, one mission per maxConcurrency on an in-process worker after a warm-up mission. Time of the features phase from the mission history: ' +
      'first createFeatureWorktree scheduled → last feature child workflow closed (plan, merges and report are serial by design and left out; whole-mission times shown too). ' +
      'Speed-up = T(1) ÷ T(n); efficiency = speed-up ÷ n. Before: the code as it is; after: run-time prototypes of the proposed git changes (bench/support.ts), ' +
      'on the same dev server.',
    rows,
    data: { before, after, prototypes },
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
