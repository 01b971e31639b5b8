import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cli, onHarness } from './support/cli-process';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('slow-model');

/** What the SDK writes when something is wrong or slow: its warning codes and log levels, and webpack's lines. */
const SDK_NOISE = /TMPRL\d{4}|\[(?:WARN|INFO|DEBUG|TRACE)\]|\bwebpack\b|workflow-bundle-/i;

/**
 * One mission of one feature whose model calls each take `delayMs`, run by `mission run` against a `mission worker`
 * process; returns both processes' output and the feature agent's history.
 */
async function missionWithModelLatency(delayMs: number, tag: string) {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'] }] }]))]);
  h.model.script('feature f', writesFiles({ 'f.txt': tag }).map((r) => ({ ...r, delayMs })));
  const queue = `${h.taskQueue}-${tag}`;
  const worker = startWorkerProcess(h, queue);
  try {
    await worker.ready;
    const id = `slow-model-${tag}-${Date.now()}`;
    const run = await cli(['run', 'Write f', '--repo', repo, '--id', id, '--no-require-plan-approval'], onHarness(h, { MISSION_TASK_QUEUE: queue }));
    expect([run.code, run.stderr]).toEqual([0, expect.any(String)]);
    expect(treeAt(repo, `mission/${id}`)).toMatchObject({ 'f.txt': tag });
    const events = (await h.client.workflow.getHandle(`${id}/m1/f`).fetchHistory()).events ?? [];
    return { cliOutput: run.stdout + run.stderr, workerOutput: worker.output(), events };
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}

test('a model that takes 20 s per call: no SDK warning in the worker or CLI output, and an agent turn adds the same history events as at 50 ms', async () => {
  const fast = await missionWithModelLatency(50, 'fast');
  const slow = await missionWithModelLatency(20_000, 'slow');
  const turns = 2; // write f.txt, finish
  // The SDK's own log (a file by default) holds no slow-workflow-task warning either: nothing held a workflow task.
  const log = path.join(h.home, 'logs', 'worker.log');
  const noise = (text: string) => text.match(SDK_NOISE)?.[0] ?? null;
  expect({
    worker: [fast.workerOutput, slow.workerOutput].map(noise),
    cli: [fast.cliOutput, slow.cliOutput].map(noise),
    slowTaskWarnings: (existsSync(log) ? readFileSync(log, 'utf8') : '').match(/TMPRL1104/g)?.length ?? 0,
    eventsPerTurn: slow.events.length / turns,
  }).toEqual({ worker: [null, null], cli: [null, null], slowTaskWarnings: 0, eventsPerTurn: fast.events.length / turns });
}, 240_000);
