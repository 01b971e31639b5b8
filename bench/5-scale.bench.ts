import { recordFigure, type Row } from './figures';
import { cpus } from 'node:os';
import { tsToMs } from '@temporalio/common/lib/time';
import { completed, cpuSeconds, createBench, fetchHistories, machineBusy, mean, serverPid, percentile, round, rssMiB, sampler, scriptAgents, scriptPlan, sec, type Bench } from './support';
import { makeRepo } from '../test/support/repo';
import type { CliProcess } from '../test/support/cli-process';

const COUNTS = [1, 10, 30];
const FEATURES = 2;
const TURNS = 4;
const LATENCY_MS = 200;
/** A mission that does not finish in this time, or has a gap this long with no event at all, stalled. */
const STALL_GAP_MS = 10_000;
const DEADLINE_MS = 180_000;

interface Run {
  workers: number;
  missions: number;
  wallMs: number;
  perMissionMs: { mean: number; p50: number; max: number };
  /** Longest time any mission's histories (mission + agents) went without a single event. */
  longestGapMs: number;
  stalled: number;
  peakRssMiB: number[];
  idleRssMiB: number[];
  /** Share of activity tasks each worker process ran. */
  activityShare: number[];
  /** CPU seconds used during the run by each worker process and by the dev server; how busy the machine was. */
  cpu: { workers: number[]; server: number; machineBusy: number };
}

let b: Bench;
afterAll(() => b?.close());

test('5. scale: 1, 10 and 30 concurrent missions on one worker process, then on two', async () => {
  const began = Date.now();
  b = await createBench('scale', { latencyMs: LATENCY_MS, inProcessWorker: false });
  scriptPlan(b.model, 1, FEATURES);
  scriptAgents(b.model, () => TURNS);

  const runs: Run[] = [];
  const workers: (CliProcess & { ready: Promise<unknown> })[] = [];
  for (const workerCount of [1, 2]) {
    while (workers.length < workerCount) workers.push(b.workerProcess());
    await Promise.all(workers.map((w) => w.ready));
    await warmUp(b);
    for (const missions of COUNTS) runs.push(await runMissions(b, workers, missions));
  }
  expect(b.model.failures).toEqual([]);

  const single = runs.find((r) => r.workers === 1 && r.missions === 1)!;
  const rows: Row[] = runs.map((r) => ({
    name: `${r.missions} mission${r.missions > 1 ? 's' : ''}, ${r.workers} worker${r.workers > 1 ? 's' : ''}`,
    value:
      `${sec(r.perMissionMs.mean)} per mission (p50 ${sec(r.perMissionMs.p50)}, max ${sec(r.perMissionMs.max)}; ${round(r.perMissionMs.mean / single.perMissionMs.mean, 2)}× one alone), ` +
      `all done in ${sec(r.wallMs)}; worker RSS ${r.peakRssMiB.map((m) => `${round(m)}`).join(' + ')} MiB peak` +
      `${r.workers > 1 ? `, activities split ${r.activityShare.map((s) => `${round(s * 100)}%`).join('/')}` : ''}; longest quiet gap ${sec(r.longestGapMs)}; ` +
      `machine ${round(r.cpu.machineBusy * 100)}% busy`,
    target: 'no stall',
    pass: r.stalled === 0,
  }));

  const notes: string[] = [];
  const [one30, two30] = [runs.find((r) => r.workers === 1 && r.missions === 30)!, runs.find((r) => r.workers === 2 && r.missions === 30)!];
  if (two30.perMissionMs.mean >= one30.perMissionMs.mean * 0.9) {
    notes.push(
      `A second worker process adds no speed here: at 30 missions the machine's ${cpus().length} cores were ${round(one30.cpu.machineBusy * 100)}% busy with one worker ` +
        `(worker ${one30.cpu.workers.join(' + ')} CPU s, dev server ${one30.cpu.server} CPU s in ${sec(one30.wallMs)}) and ${round(two30.cpu.machineBusy * 100)}% with two ` +
        `(${two30.cpu.workers.join(' + ')} and ${two30.cpu.server} CPU s): two worker processes share the same two cores with the dev server, so here they cannot add capacity.`,
    );
  }

  recordFigure('scale', {
    n: 5,
    title: 'Scale',
    how:
      `N missions started at once (each 1 milestone × ${FEATURES} features × ${TURNS} turns, its own repository, model latency ${LATENCY_MS} ms) on one real ` +
      '`mission worker` process, then on two sharing the task queue and MISSION_HOME; after a warm-up mission per worker set. Per-mission time: start → result. ' +
      `Memory: the worker processes' RSS (/proc) sampled every 250 ms. A mission stalls when it does not finish within ${DEADLINE_MS / 1000} s or its histories ` +
      `(mission and agents) show a gap of more than ${STALL_GAP_MS / 1000} s without any event.`,
    rows,
    data: { runs },
    notes,
    durationMs: Date.now() - began,
  });
});

async function warmUp(b: Bench): Promise<void> {
  const handles = await Promise.all([0, 1].map((i) => b.start({ prompt: `warm up ${i}`, repo: makeRepo(), requirePlanApproval: false })));
  await Promise.all(handles.map(completed));
}

async function runMissions(b: Bench, workers: CliProcess[], missions: number): Promise<Run> {
  const repos = Array.from({ length: missions }, () => makeRepo());
  const idle = workers.map((w) => rssMiB(w.child.pid) ?? 0);
  const pid = serverPid(b.address);
  const cpu0 = { workers: workers.map((w) => cpuSeconds(w.child.pid)), server: cpuSeconds(pid) };
  const busy = machineBusy();
  const memory = workers.map((w) => sampler(() => rssMiB(w.child.pid)));
  const t0 = Date.now();
  const handles = await Promise.all(repos.map((repo, i) => b.start({ prompt: `Scale mission ${i + 1} of ${missions}`, repo, requirePlanApproval: false })));
  const times: number[] = [];
  let stalled = 0;
  await Promise.all(
    handles.map(async (h) => {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), DEADLINE_MS).unref());
      const outcome = await Promise.race([completed(h), timeout]);
      if (outcome === 'timeout') stalled += 1;
      else times.push(Date.now() - t0);
    }),
  );
  const wallMs = Date.now() - t0;
  const peaks = memory.map((m) => Math.max(...m.stop()));
  const cpu = {
    workers: workers.map((w, i) => round(cpuSeconds(w.child.pid) - cpu0.workers[i]!, 2)),
    server: round(cpuSeconds(pid) - cpu0.server, 2),
    machineBusy: round(busy(), 2),
  };

  let longestGapMs = 0;
  const byWorker = new Map<string, number>();
  for (const h of handles) {
    const histories = await fetchHistories(b.client, h.workflowId);
    const events = histories.flatMap((r) => (r.history.events ?? []).map((e) => tsToMs(e.eventTime))).sort((x, y) => x - y);
    const gap = Math.max(0, ...events.slice(1).map((t, i) => t - events[i]!));
    longestGapMs = Math.max(longestGapMs, gap);
    if (gap > STALL_GAP_MS) stalled += 1;
    for (const run of histories) {
      for (const e of run.history.events ?? []) {
        const identity = e.activityTaskStartedEventAttributes?.identity;
        if (identity) byWorker.set(identity, (byWorker.get(identity) ?? 0) + 1);
      }
    }
  }
  const total = [...byWorker.values()].reduce((a, c) => a + c, 0);
  return {
    workers: workers.length,
    missions,
    wallMs,
    perMissionMs: { mean: round(mean(times)), p50: round(percentile(times, 50)), max: round(Math.max(0, ...times)) },
    longestGapMs,
    stalled,
    peakRssMiB: peaks.map((p) => round(p, 1)),
    idleRssMiB: idle.map((p) => round(p, 1)),
    activityShare: [...byWorker.values()].sort((x, y) => y - x).map((n) => n / total),
    cpu,
  };
}
