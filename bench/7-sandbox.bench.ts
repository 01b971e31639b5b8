import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../src/activities/sandbox';
import { executeTool, type ToolContext } from '../src/activities/tools';
import { recordFigure, type Row } from './figures';
import { completed, createBench, percentile, round, scriptPlan, sec, turnOf, type Bench } from './support';
import { git, makeRepo, tempDir } from '../test/support/repo';
import { call, finish, tools } from '../test/support/scripts';
import type { ScriptedMessage } from '../test/support/model-server';

const COMMANDS = 50;
const MILESTONES = 2;
const FEATURES = 2;
const TURNS = 4;
const REPEATS = 3;
const LATENCIES = [500, 0];
const TARGET = 0.05;

const median = (xs: number[]) => percentile(xs, 50);
const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

/** Milliseconds of one run_command (`true`) through the tool, in a worktree laid out as Mission lays it out. */
async function commandMs(sandbox: Sandbox, ctx: ToolContext): Promise<number> {
  const t0 = process.hrtime.bigint();
  const outcome = await executeTool({ ...ctx, sandbox }, 'run_command', JSON.stringify({ command: 'true' }));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!outcome.output.startsWith('exit code: 0')) throw new Error(`run_command failed: ${outcome.output}`);
  return ms;
}

/** Agents that alternate a command and a file write, so the mission runs TURNS/2 commands per feature. */
function scriptCommandAgents(b: Bench): void {
  b.model.scriptPrefix('feature ', (req): ScriptedMessage => {
    const id = req.role.slice('feature '.length);
    const turn = turnOf(req.body.messages);
    if (turn >= TURNS) return finish(`${id} done`);
    if (turn % 2) return tools(call('run_command', { command: 'ls -la && git status --short | wc -l' }));
    return tools(call('write_file', { path: `${id}/part-${turn}.txt`, content: `${id} ${turn}\n` }));
  });
}

async function missionMs(b: Bench): Promise<number> {
  b.model.reset();
  b.model.scriptPrefix('report', { content: 'Benchmark mission summary.' });
  scriptCommandAgents(b);
  scriptPlan(b.model, MILESTONES, FEATURES);
  const repo = makeRepo({ 'check.sh': 'test -d . && ls >/dev/null\n' });
  const t0 = Date.now();
  const report = await completed(
    await b.start({ prompt: 'Sandbox benchmark', repo, requirePlanApproval: false, useWorktrees: false, budget: { maxTurnsPerFeature: TURNS }, validation: { commands: [{ name: 'check', run: 'sh check.sh' }] } }),
  );
  const wallMs = Date.now() - t0;
  expect(report.sandbox?.backend).toBe(b.taskQueue.includes('-off-') ? 'off' : 'bwrap');
  expect(report.milestones.every((m) => m.validation?.status === 'passed')).toBe(true);
  return wallMs;
}

const benches: Bench[] = [];
afterAll(async () => {
  for (const b of benches) await b.close();
});

test('7. sandbox cost: run_command with and without bubblewrap, and a 2 × 2 mission with and without', async () => {
  const began = Date.now();
  const loadAtStart = os.loadavg();
  const home = tempDir('mission-bench-home-');
  const repo = makeRepo();
  const worktree = path.join(home, 'worktrees', 'k');
  mkdirSync(path.dirname(worktree), { recursive: true });
  git(repo, 'worktree', 'add', '-q', '-b', 'mission/k', worktree);
  const ctx: ToolContext = { root: worktree, env: { PATH: process.env.PATH, HOME: process.env.HOME } };
  const sandboxed = new Sandbox({ missionHome: home, env: ctx.env });
  const plain = new Sandbox({ mode: 'off', missionHome: home, env: ctx.env });

  // Interleaved, after a warm-up of each, so drift on a shared machine hits both alike.
  for (let i = 0; i < 5; i++) {
    await commandMs(sandboxed, ctx);
    await commandMs(plain, ctx);
  }
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    on.push(await commandMs(sandboxed, ctx));
    off.push(await commandMs(plain, ctx));
  }
  const perCommand = { sandboxMs: median(on), plainMs: median(off), addedMs: median(on) - median(off), p95SandboxMs: percentile(on, 95), p95PlainMs: percentile(off, 95) };

  const missions: { latencyMs: number; sandboxMs: number[]; plainMs: number[]; added: number }[] = [];
  for (const latencyMs of LATENCIES) {
    const withSandbox = await createBench(`sandbox-on-${latencyMs}`, { latencyMs });
    const without = await createBench(`sandbox-off-${latencyMs}`, { latencyMs, sandbox: { mode: 'off' } });
    benches.push(withSandbox, without);
    await missionMs(withSandbox); // warm-up: the first workflow task of a worker loads the bundle
    await missionMs(without);
    const sandboxMs: number[] = [];
    const plainMs: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      sandboxMs.push(await missionMs(withSandbox));
      plainMs.push(await missionMs(without));
    }
    missions.push({ latencyMs, sandboxMs, plainMs, added: median(sandboxMs) / median(plainMs) - 1 });
  }

  const commands = MILESTONES * FEATURES * (TURNS / 2) + MILESTONES;
  const rows: Row[] = [
    {
      name: `run_command \`true\`, median of ${COMMANDS}`,
      value: `${round(perCommand.sandboxMs, 1)} ms in bubblewrap, ${round(perCommand.plainMs, 1)} ms without (+${round(perCommand.addedMs, 1)} ms; p95 ${round(perCommand.p95SandboxMs, 1)} / ${round(perCommand.p95PlainMs, 1)} ms)`,
    },
    ...missions.map((m) => ({
      name: `${MILESTONES} × ${FEATURES} mission, ${m.latencyMs} ms model, median of ${REPEATS}`,
      value: `${sec(median(m.sandboxMs), 2)} sandboxed, ${sec(median(m.plainMs), 2)} without (${m.added >= 0 ? '+' : ''}${round(m.added * 100, 1)}%)`,
      ...(m.latencyMs > 0 ? { target: `≤ +${TARGET * 100}%`, pass: m.added <= TARGET } : {}),
    })),
  ];
  recordFigure('sandbox', {
    n: 7,
    title: 'Sandbox cost',
    how:
      `run_command \`true\` through the tool in a Mission-style worktree, ${COMMANDS} times with the bubblewrap sandbox and ${COMMANDS} without (MISSION_SANDBOX=off), interleaved, medians; ` +
      `then one mission of ${MILESTONES} milestones × ${FEATURES} features × ${TURNS} turns (a run_command every other turn and one validation command per milestone: ${commands} sandboxed commands), ` +
      `features one after another, on a worker with the sandbox and one without, ${REPEATS} times each alternating after a warm-up, medians; with a 500 ms model (the target) and a 0 ms model (the worst case: nothing but orchestration and commands).`,
    rows,
    // What `uptime` says, at both ends: on a shared machine the load explains more of these times than the sandbox.
    notes: [`Load average (1/5/15 min, as uptime shows it): ${loads(loadAtStart)} at the start, ${loads(os.loadavg())} at the end, on ${os.cpus().length} cores.`, `Layers: ${sandboxed.layers().join('; ')}.`],
    data: { perCommand, commandSamples: { sandboxMs: on, plainMs: off }, missions, commandsPerMission: commands },
    durationMs: Date.now() - began,
  });
});
