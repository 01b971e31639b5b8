import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MISSION_WORKFLOW } from '../src/api/constants';
import { approvePlanSignal, pauseSignal, resumeSignal, statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { runCli } from './support/cli';
import { remoteRef, serveRepo } from './support/git-daemon';
import { useHarness } from './support/harness';
import { makeRepo, tempDir, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('move');

const hostIdOf = (w: ReturnType<typeof startWorkerProcess>) => /host (\S+) \(queue/.exec(w.output())![1]!;

/**
 * A host dies for good after milestone 1 was pushed. `mission move` sends the mission to the other host, whose cache
 * is empty: it clones the URL, starts from the pushed branch and runs milestone 2 there.
 */
test('a killed host\'s mission, moved with "mission move", finishes on the other host from the pushed branch', async () => {
  const remote = await serveRepo();
  const taskQueue = `move-${Date.now().toString(36)}`;
  const [homeA, homeB] = [tempDir('mission-move-a-'), tempDir('mission-move-b-')];
  const env = { MISSION_HOST_PICKUP_TIMEOUT: '3' };
  const a = startWorkerProcess(h, taskQueue, { ...env, MISSION_HOME: homeA });
  let b: ReturnType<typeof startWorkerProcess> | undefined;
  try {
    await a.ready;
    const id = `move-${Date.now().toString(36)}`;
    const handle = h.client.workflow.getHandle(id);
    h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'one', files: ['one.txt'] }] }, { id: 'm2', features: [{ id: 'two', files: ['two.txt'] }] }]))]);
    // While milestone 1 works, pause: it finishes and is pushed, and milestone 2 waits for the resume.
    const [first, ...rest] = writesFiles({ 'one.txt': 'first' });
    h.model.script('feature one', [() => (void handle.signal(pauseSignal, {}), first!), ...rest]);
    h.model.script('feature two', writesFiles({ 'two.txt': 'second' }));
    await h.client.workflow.start(MISSION_WORKFLOW, { taskQueue, workflowId: id, args: [{ prompt: 'Two milestones', repo: remote.url, useWorktrees: true }] });
    const hostA = hostIdOf(a);
    expect((await h.waitFor(handle, (st) => st.phase === 'awaiting-approval')).host).toBe(hostA);
    b = startWorkerProcess(h, taskQueue, { ...env, MISSION_HOME: homeB });
    await b.ready;
    const hostB = hostIdOf(b);
    await handle.signal(approvePlanSignal, {});
    const paused = await h.waitFor(handle, (st) => st.paused && st.milestones[0]!.state === 'done', 120_000);
    const m1 = paused.milestones[0]!.commit!;
    expect(remoteRef(remote.url, `refs/heads/${paused.branch}`)).toBe(m1);

    a.child.kill('SIGKILL');
    await a.exited;
    expect(existsSync(path.join(homeB, 'repos'))).toBe(false); // host B has no cache yet
    await handle.signal(resumeSignal, {});
    expect((await h.waitFor(handle, (st) => st.waitingForHost !== undefined, 60_000)).waitingForHost).toBe(hostA);

    const moved = await runCli(h, ['move', id]);
    expect(moved.err.join('')).toBe('');
    expect(moved.out.join('')).toMatch(/moveHost applied/);
    expect(moved.code).toBe(0);

    const report = (await handle.result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(report.repo!.startsWith(path.join(homeB, 'repos'))).toBe(true);
    expect(report.milestones[0]!.commit).toBe(m1);
    expect(remoteRef(remote.url, `refs/heads/${report.branch}`)).toBe(report.milestones[1]!.commit);
    expect(treeAt(remote.bare, report.branch!)).toEqual({ 'README.md': '# team', 'one.txt': 'first', 'two.txt': 'second' });

    const status = await handle.query(statusQuery);
    expect(status.host).toBe(hostB);
    expect(status.waitingForHost).toBeUndefined();
    expect(status.moves).toEqual([expect.objectContaining({ from: hostA, to: hostB, fromCommit: m1, redone: 'm2' })]);
    expect(status.events.map((e) => e.message).join('\n')).toMatch(new RegExp(`moved from host ${hostA} to host ${hostB}.*unfinished work of m2 on ${hostA} is lost and m2 is redone`));
    expect(report.moves).toEqual(status.moves);
    expect(readFileSync(report.reportPath!, 'utf8')).toMatch(new RegExp(`Moved\\*\\* from host ${hostA} to ${hostB}`));
  } finally {
    for (const w of [a, b]) w?.child.kill('SIGTERM');
    await Promise.all([a.exited, b?.exited]);
    remote.stop();
  }
}, 300_000);

/** The host dies while milestone 2's agent works: the move cancels that agent and redoes milestone 2 on the other host. */
test('a move cancels the feature agents bound to the dead host and redoes their milestone on the new host', async () => {
  const remote = await serveRepo();
  const taskQueue = `move-mid-${Date.now().toString(36)}`;
  const env = { MISSION_HOST_PICKUP_TIMEOUT: '3' };
  const a = startWorkerProcess(h, taskQueue, { ...env, MISSION_HOME: tempDir('mission-move-a-') });
  let b: ReturnType<typeof startWorkerProcess> | undefined;
  try {
    await a.ready;
    const id = `move-mid-${Date.now().toString(36)}`;
    const handle = h.client.workflow.getHandle(id);
    h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'one', files: ['one.txt'] }] }, { id: 'm2', features: [{ id: 'two', files: ['two.txt'] }] }]))]);
    h.model.script('feature one', writesFiles({ 'one.txt': 'first' }));
    // Milestone 2's agent asks the model on host A, which dies at that moment; on host B the agent starts over.
    const killA = () => (a.child.kill('SIGKILL'), writesFiles({ 'lost.txt': 'never written' })[0]!);
    h.model.script('feature two', [killA, ...writesFiles({ 'two.txt': 'second' })]);
    await h.client.workflow.start(MISSION_WORKFLOW, { taskQueue, workflowId: id, args: [{ prompt: 'Two milestones', repo: remote.url, useWorktrees: true }] });
    const hostA = hostIdOf(a);
    await h.waitFor(handle, (st) => st.phase === 'awaiting-approval');
    b = startWorkerProcess(h, taskQueue, { ...env, MISSION_HOME: tempDir('mission-move-b-') });
    await b.ready;
    await handle.signal(approvePlanSignal, {});
    await a.exited;
    const moved = await runCli(h, ['move', id, '--to', hostIdOf(b), '--reason', 'host A was decommissioned']);
    expect(moved.code).toBe(0);

    const report = (await handle.result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(treeAt(remote.bare, report.branch!)).toEqual({ 'README.md': '# team', 'one.txt': 'first', 'two.txt': 'second' });
    expect(report.moves).toEqual([expect.objectContaining({ from: hostA, to: hostIdOf(b), fromCommit: report.milestones[0]!.commit, redone: 'm2' })]);
    // The agent of the first attempt ended (its cancelled step fails it: feature.ts reports what it spent), not left waiting for host A.
    const runs: string[] = [];
    for await (const run of h.client.workflow.list({ query: `WorkflowId = '${id}/m2/two'` })) runs.push(run.status.name);
    expect(runs.sort()).toEqual(['COMPLETED', 'FAILED']);
  } finally {
    for (const w of [a, b]) w?.child.kill('SIGTERM');
    await Promise.all([a.exited, b?.exited]);
    remote.stop();
  }
}, 300_000);

test('a mission on a local-path repository cannot move: the command says why, and so does the mission', async () => {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'stay', files: ['stay.txt'] }] }]))]);
  const handle = await h.start({ prompt: 'stay', repo: makeRepo(), useWorktrees: true });
  await h.waitFor(handle, (st) => st.phase === 'awaiting-approval');
  const moved = await runCli(h, ['move', handle.workflowId]);
  expect(moved.code).toBe(1);
  expect(moved.err.join('')).toMatch(/moveHost was sent but the mission ignored it: the mission's repository .* is a local path on host \S+: only a mission whose repo is a git URL can move/);
  const status = await handle.query(statusQuery);
  expect(status.events.some((e) => e.type === 'signal-ignored' && /^moveHost ignored: .*local path/.test(e.message))).toBe(true);
  expect(status.moves).toBeUndefined();
  await handle.cancel();
}, 120_000);
