import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { approvePlanSignal, statusQuery } from '../src/api/messages';
import { completed, createBench, cpuSeconds, fetchHistories, serverPid, turnOf, type Bench } from './support';
import type { ScriptedMessage } from '../test/support/model-server';
import { makeRepo } from '../test/support/repo';
import { cliEnv, spawnCli } from '../test/support/cli-process';
import type { Harness } from '../test/support/harness';
import { call, finish, makePlan, planReply, tools } from '../test/support/scripts';

/**
 * Not a figure (no `.bench.ts`, so `npm run bench` leaves it out): a timeline of figure 1's 2×2 mission at 500 ms, every
 * history event of the mission and its agents, each activity as the worker timed it, each model call, one line per
 * moment, in /tmp/mission-trace-<label>.txt (and `mission run`'s way to the plan in /tmp/mission-toplan-<label>.txt):
 *
 *   TRACE_PLAN=1 TRACE_LABEL=x npx jest -c bench/jest.config.js --runInBand --testMatch '**' bench/trace.ts
 *
 * TRACE_PLAN=only traces the way to the plan alone; TRACE_TWICE=1 runs the mission twice after the warm-up.
 */
const EventType = temporal.api.enums.v1.EventType;
const project = () =>
  makeRepo({
    'package.json': JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true, scripts: { test: 'node --test' } }, null, 2),
    'test/sum.test.js': "const test = require('node:test');\nconst assert = require('node:assert');\ntest('sums', () => assert.strictEqual(1 + 1, 2));\n",
  });

function script(b: Bench): void {
  b.model.reset();
  const delayed = (reply: ScriptedMessage): ScriptedMessage => ({ ...reply, delayMs: 500 });
  const plan = makePlan(
    Array.from({ length: 2 }, (_, m) => ({ id: `m${m + 1}`, features: Array.from({ length: 2 }, (__, f) => ({ id: `m${m + 1}-f${f + 1}`, files: [`src/m${m + 1}-f${f + 1}.js`] })) })),
    'Benchmark plan',
  );
  b.model.scriptPrefix('plan', () => delayed(planReply(plan)));
  b.model.scriptPrefix('feature ', (req) => {
    const id = req.role.slice('feature '.length);
    if (turnOf(req.body.messages) >= 2) return delayed(finish(`${id} done`));
    return delayed(tools(call('write_file', { path: `src/${id}.js`, content: `exports.id = '${id}';\n` })));
  });
  b.model.scriptPrefix('report', () => delayed({ content: 'Benchmark mission summary.' }));
}

async function run(b: Bench, label: string) {
  b.activityRuns.length = 0;
  script(b);
  const server = serverPid(b.address);
  const cpu0 = { self: process.cpuUsage(), server: cpuSeconds(server) };
  const t0 = Date.now();
  const handle = await b.start({ prompt: `Benchmark ${label}`, repo: project(), requirePlanApproval: true, useWorktrees: true, maxConcurrency: 2, validation: { commands: [{ name: 'test', run: 'npm test' }] } });
  while ((await handle.query(statusQuery)).phase !== 'awaiting-approval') await new Promise((r) => setTimeout(r, 20));
  const approvedAt = Date.now();
  await handle.signal(approvePlanSignal, { approvedBy: 'bench' });
  await completed(handle);
  const end = Date.now();
  const cpu = process.cpuUsage(cpu0.self);
  const lines: [number, string][] = [];
  const rel = (t: number) => t - t0;
  lines.push([0, 'client start']);
  lines.push([rel(approvedAt), 'client approve']);
  lines.push([rel(end), 'client result']);
  for (const r of b.model.requests) lines.push([rel(r.receivedAt), `MODEL ${r.role} received`], [rel(r.respondedAt ?? r.receivedAt), `MODEL ${r.role} responded`]);
  for (const a of b.activityRuns) lines.push([rel(a.start), `RUN ${a.type} ${a.workflowId.split('/').slice(1).join('/')} start`], [rel(a.end), `RUN ${a.type} end (${Math.round(a.end - a.start)} ms)`]);
  const runs = await fetchHistories(b.client, handle.workflowId);
  const events = runs.reduce((n, r) => n + (r.history.events?.length ?? 0), 0);
  lines.push(...timeline(runs, t0));
  lines.sort((a, b) => a[0] - b[0]);
  const text = [
    `${label}: wall ${end - t0} ms, approval→result ${end - approvedAt} ms; events ${events} in ${runs.length} runs; bench process CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms; server CPU ${Math.round((cpuSeconds(server) - cpu0.server) * 1000)} ms; load ${os.loadavg()[0]!.toFixed(2)}`,
    ...lines.map(([t, s]) => `${String(t).padStart(6)} ${s}`),
  ].join('\n');
  writeFileSync(`/tmp/mission-trace-${label}.txt`, text);
  console.log(text.split('\n')[0]);
}

function timeline(runs: Awaited<ReturnType<typeof fetchHistories>>, t0: number): [number, string][] {
  const lines: [number, string][] = [];
  for (const r of runs) {
    const evs = r.history.events ?? [];
    const byId = new Map(evs.map((e) => [String(e.eventId), e]));
    const wf = r.workflowId.split('/').slice(1).join('/') || 'mission';
    for (const e of evs) {
      const name = EventType[e.eventType as number]!.replace('EVENT_TYPE_', '');
      let detail = '';
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched) detail = `${sched.activityType?.name} q=${sched.taskQueue?.name?.slice(0, 20)}`;
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskStartedEventAttributes;
      if (done && 'scheduledEventId' in done) detail = String(byId.get(String(done.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name);
      if (e.workflowTaskScheduledEventAttributes) detail = `q=${e.workflowTaskScheduledEventAttributes.taskQueue?.name?.slice(0, 30)} kind=${e.workflowTaskScheduledEventAttributes.taskQueue?.kind}`;
      lines.push([tsToMs(e.eventTime) - t0, `EV ${wf} #${e.eventId} ${name} ${detail}`]);
    }
  }
  return lines;
}

async function toPlan(b: Bench, label: string) {
  script(b);
  const port = b.address.split(':').pop()!;
  const env = cliEnv({ home: b.home, model: b.model } as unknown as Harness, { MISSION_TASK_QUEUE: `${b.taskQueue}-run-${Date.now()}` });
  const t0 = performance.timeOrigin + performance.now();
  const p = spawnCli(['run', 'Benchmark time to plan', '--repo', project(), '--port', port, '--json'], env);
  const lines: [number, string][] = [];
  const stamp = (stream: string) => (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) lines.push([Math.round(performance.timeOrigin + performance.now() - t0), `${stream} ${line.slice(0, 100)}`]);
  };
  p.child.stdout!.on('data', stamp('out'));
  p.child.stderr!.on('data', stamp('err'));
  await p.waitFor(/"event":"plan"/, 60_000);
  const at = performance.timeOrigin + performance.now() - t0;
  const id = /mission (\S+): started/.exec(p.stderr())![1]!;
  p.child.kill('SIGINT');
  await p.exited;
  for (const r of b.model.requests) lines.push([Math.round(r.receivedAt - t0), `MODEL ${r.role} received`], [Math.round((r.respondedAt ?? 0) - t0), `MODEL ${r.role} responded`]);
  lines.push(...timeline(await fetchHistories(b.client, id), t0).map(([t, s]) => [Math.round(t), s] as [number, string]));
  lines.sort((a, b) => a[0] - b[0]);
  const text = [`toplan ${label}: ${Math.round(at)} ms; load ${os.loadavg()[0]!.toFixed(2)}`, ...lines.map(([t, s]) => `${String(t).padStart(6)} ${s}`)].join('\n');
  writeFileSync(`/tmp/mission-toplan-${label}.txt`, text);
  console.log(text.split('\n')[0]);
}

test('trace', async () => {
  const b = await createBench('trace', { latencyMs: 0 });
  try {
    if (process.env.TRACE_PLAN) await toPlan(b, process.env.TRACE_LABEL ?? 'a');
    if (process.env.TRACE_PLAN === 'only') return;
    await run(b, 'warmup');
    await run(b, process.env.TRACE_LABEL ?? 'a');
    if (process.env.TRACE_TWICE) await run(b, `${process.env.TRACE_LABEL ?? 'a'}-2`);
  } finally {
    await b.close();
  }
});
