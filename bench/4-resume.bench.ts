import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { missionKeyFor } from '../src/api/ids';
import { recordFigure } from './figures';
import { completed, createBench, scriptPlan, sec, turnOf, type Bench } from './support';
import { git, makeRepo } from '../test/support/repo';
import { call, finish, tools } from '../test/support/scripts';
import type { CliProcess } from '../test/support/cli-process';

const MILESTONES = 2;
const FEATURES = 2;
const TURNS = 8;
const LATENCY_MS = 100;
/** A dead worker's agents must be back at work within this (issue 13): their turns' heartbeat timeout, plus the retry's start. */
const NOTICED_WITHIN_MS = 30_000;
/** The worker is killed when this feature request arrives: in milestone 1, both agents mid-conversation. */
const KILL_AT_REQUEST = 9;

interface Seen {
  key: string;
  at: number;
}

/** The turns every conversation had recorded on disk (paid for and saved) when the worker died. */
function recordedTurns(home: string, missionKey: string): Set<string> {
  const dir = path.join(home, 'missions', missionKey, 'sessions');
  const keys = new Set<string>();
  if (!existsSync(dir)) return keys;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const session = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { turns: Record<string, unknown> };
    const name = file.slice(0, -'.json'.length);
    const role = name === 'plan' || name === 'report' ? name : `feature ${name}`;
    for (const turn of Object.keys(session.turns)) keys.add(`${role}#${turn}`);
  }
  return keys;
}

let b: Bench;
afterAll(() => b?.close());

test('4. resume cost: SIGKILL the worker mid-mission, restart it, count repeated model requests', async () => {
  const began = Date.now();
  b = await createBench('resume', { latencyMs: LATENCY_MS, inProcessWorker: false });
  scriptPlan(b.model, MILESTONES, FEATURES);
  const missionId = `bench-resume-${Date.now().toString(36)}`;
  const first = b.workerProcess();
  let second: (CliProcess & { ready: Promise<unknown> }) | undefined;
  let kill: { at: number; recorded: Set<string>; restartAt: number; readyAt?: number } | undefined;
  let featureRequests = 0;

  b.model.scriptPrefix('feature ', async (req) => {
    const id = req.role.slice('feature '.length);
    const turn = turnOf(req.body.messages);
    if (++featureRequests === KILL_AT_REQUEST && !kill) {
      // This request is in flight: its answer will reach no one. Kill, wait for the process to be gone,
      // note what every conversation had recorded, and start a new worker at once.
      const at = Date.now();
      first.child.kill('SIGKILL');
      await first.exited;
      kill = { at, recorded: recordedTurns(b.home, missionKeyFor(missionId)), restartAt: Date.now() };
      second = b.workerProcess();
      void second.ready.then(() => kill && (kill.readyAt = Date.now()));
    }
    return turn >= TURNS ? finish(`${id} done`) : tools(call('write_file', { path: `${id}/part-${turn}.txt`, content: `${id} ${turn}\n` }));
  });

  await first.ready;
  const repo = makeRepo();
  const t0 = Date.now();
  const handle = await b.start({ prompt: 'Survive a crash', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: FEATURES }, missionId);
  const report = await completed(handle);
  const missionMs = Date.now() - t0;
  expect(kill).toBeDefined();
  const k = kill!;
  const seen: Seen[] = b.model.requests.map((r) => ({ key: `${r.role}#${turnOf(r.body.messages)}`, at: r.receivedAt }));
  const before = seen.filter((s) => s.at <= k.at);
  const after = seen.filter((s) => s.at > k.restartAt);
  const askedBefore = new Set(before.map((s) => s.key));
  const repeatedCompleted = after.filter((s) => k.recorded.has(s.key));
  const retriedInFlight = after.filter((s) => !k.recorded.has(s.key) && askedBefore.has(s.key));
  const inFlightAtKill = [...askedBefore].filter((key) => !k.recorded.has(key));
  const firstAfter = after[0]?.at;
  // Calls cut off by the kill are retried once Temporal gives up on the dead worker: that is when it noticed.
  const askedAgainAt = inFlightAtKill.map((key) => after.find((s) => s.key === key)?.at);
  const noticedMs = askedAgainAt.length && askedAgainAt.every((at) => at !== undefined) ? Math.max(...(askedAgainAt as number[])) - k.at : undefined;
  const firstNew = after.find((s) => !askedBefore.has(s.key))?.at;
  const totalTurns = MILESTONES * FEATURES * TURNS;
  const featureKeys = seen.filter((s) => s.key.startsWith('feature '));

  // The work is all there, once: one commit per feature, one merge per feature, one per milestone at most.
  const subjects = git(repo, 'log', '--format=%s', `${report.baseCommit}..${report.branch}`).split('\n');
  expect(new Set(subjects).size).toBe(subjects.length);
  expect(report.milestones.flatMap((m) => m.features).every((f) => f.turns === TURNS && f.merge?.state === 'merged')).toBe(true);
  expect(new Set(featureKeys.map((s) => s.key)).size).toBe(totalTurns);

  recordFigure('resume', {
    n: 4,
    title: 'Resume cost',
    how:
      `a mission of ${MILESTONES} milestones × ${FEATURES} parallel features × ${TURNS} turns (model latency ${LATENCY_MS} ms) on a real \`mission worker\` process; ` +
      `when the ${KILL_AT_REQUEST}th feature model request arrives the worker is killed with SIGKILL, the turns each conversation had recorded on disk are noted, ` +
      'and a new `mission worker` process is started at once. Every model request is keyed by role and turn (1 + assistant messages in the transcript); ' +
      'a request after the restart for a turn recorded before the kill is a repeated completed turn.',
    rows: [
      {
        name: 'repeated completed turns',
        value: `${repeatedCompleted.length} (${k.recorded.size} turns were recorded when the worker died; ${seen.length} model requests in all for ${totalTurns} feature turns, the plan and the report)`,
        target: '0',
        pass: repeatedCompleted.length === 0,
      },
      {
        name: 'requests in flight at the kill, asked again',
        value: `${retriedInFlight.length} of ${inFlightAtKill.length} (${inFlightAtKill.join(', ') || 'none'}): their answers never reached a worker`,
      },
      {
        name: 'time to first progress after restart',
        value:
          `${firstAfter ? sec(firstAfter - k.restartAt) : 'none'} to the first model request` +
          `${firstNew ? `, ${sec(firstNew - k.restartAt)} to the first new turn` : ''}` +
          `${k.readyAt ? `; the new worker was ready after ${sec(k.readyAt - k.restartAt)}` : ''}`,
      },
      {
        name: 'kill noticed: the kill to the in-flight calls asked again on the new worker',
        value: noticedMs === undefined ? 'never' : `${sec(noticedMs)} (the last of ${inFlightAtKill.length})`,
        target: '≤ 30 s',
        pass: noticedMs !== undefined && noticedMs <= NOTICED_WITHIN_MS,
      },
      { name: 'mission wall time with the crash', value: sec(missionMs) },
    ],
    data: {
      killAtRequest: KILL_AT_REQUEST,
      recordedAtKill: [...k.recorded].sort(),
      inFlightAtKill,
      repeatedCompleted: repeatedCompleted.map((s) => s.key),
      retriedInFlight: retriedInFlight.map((s) => s.key),
      restartToReadyMs: k.readyAt ? k.readyAt - k.restartAt : null,
      restartToFirstRequestMs: firstAfter ? firstAfter - k.restartAt : null,
      restartToFirstNewTurnMs: firstNew ? firstNew - k.restartAt : null,
      killToInFlightAskedAgainMs: noticedMs ?? null,
      missionMs,
      requests: seen.length,
    },
    notes: [
      "The first request after the restart waits for Temporal to give up on the dead worker: an agent's model and tool calls are activities that " +
        'heartbeat while they run (src/workflows/proxies.ts), so the ones in flight at the kill time out when their heartbeats stop and are retried ' +
        'on the new worker, where the conversation on disk returns every finished turn and only what was in flight is asked again. Git, validation ' +
        'and planning steps heartbeat the same way.',
    ],
    durationMs: Date.now() - began,
  });
});
