import type { temporal } from '@temporalio/proto';
import { MISSION_WORKFLOW } from '../src/api/constants';
import { approvePlanSignal, statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { useHarness } from './support/harness';
import { makeRepo, tempDir, treeAt } from './support/repo';
import { call, makePlan, planReply, tools, writesFiles } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('hosts');

type History = temporal.api.history.v1.IHistory;

/** Task queue of every activity a workflow scheduled, by activity type. */
function activityQueues(history: History): { type: string; queue: string }[] {
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a ? [{ type: a.activityType?.name ?? '', queue: a.taskQueue?.name ?? '' }] : [];
  });
}

/**
 * Two hosts with no shared disk: each `mission worker` has its own MISSION_HOME. Each mission's repository work,
 * worktrees and conversations stay on the host that took it, because its steps run on that host's own task queue.
 */
test('two workers with separate MISSION_HOMEs carry three worktree missions to completion, each mission on one host', async () => {
  const taskQueue = `hosts-${Date.now().toString(36)}`;
  const homes = [tempDir('mission-host-a-'), tempDir('mission-host-b-')];
  const workers = homes.map((home) => startWorkerProcess(h, taskQueue, { MISSION_HOME: home }));
  try {
    await Promise.all(workers.map((w) => w.ready));
    const hostIds = workers.map((w) => /host (\S+) \(queue/.exec(w.output())![1]!);
    expect(new Set(hostIds).size).toBe(2);
    const ids = ['a', 'b', 'c'];
    h.model.scriptPrefix('plan', planReply(makePlan([{ id: 'm1', features: ids.map((id) => ({ id, files: [`${id}.txt`] })) }])));
    h.model.scriptPrefix('feature ', (req) => {
      const id = req.role.split(' ')[1]!;
      return tools(call('write_file', { path: `${id}.txt`, content: id }), call('finish', { summary: 'wrote it', status: 'done' }));
    });
    // A repository per mission, as on hosts without shared disk each would clone its own (here both can see them).
    const repos = [makeRepo(), makeRepo(), makeRepo()];
    const handles = await Promise.all(
      repos.map((repo, n) =>
        h.client.workflow.start(MISSION_WORKFLOW, {
          taskQueue,
          workflowId: `hosts-${n}-${Date.now().toString(36)}`,
          args: [{ prompt: 'letters', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 2 }],
        }),
      ),
    );
    const results = (await Promise.all(handles.map((x) => x.result()))) as { outcome: string; branch: string; worktree: string }[];
    expect(results.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed']);
    results.forEach((r, n) => expect(treeAt(repos[n]!, r.branch)).toEqual({ 'README.md': '# demo', 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' }));

    for (const [n, handle] of handles.entries()) {
      const status = (await handle.query('status')) as { host?: string };
      const hostQueue = `mission-host-${status.host}`;
      expect(hostIds).toContain(status.host);
      // The mission's worktree is in that host's MISSION_HOME.
      expect(results[n]!.worktree.startsWith(homes[hostIds.indexOf(status.host!)]!)).toBe(true);
      // Only "which host" ran on the shared queue; every step of the mission and of its agents ran on its host.
      const own = activityQueues(await handle.fetchHistory());
      expect(own.filter((a) => a.queue !== hostQueue)).toEqual([{ type: 'whichHost', queue: taskQueue }]);
      const children = ids.map((id) => h.client.workflow.getHandle(`${handle.workflowId}/m1/${id}`));
      const agentSteps = (await Promise.all(children.map(async (c) => activityQueues(await c.fetchHistory())))).flat();
      expect(agentSteps.map((a) => a.type)).toEqual(expect.arrayContaining(['agentTurn', 'runTool']));
      expect(agentSteps.filter((a) => a.queue !== hostQueue)).toEqual([]);
    }
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
}, 300_000);

test('a mission whose host is down says which host it waits for, and goes on when that host is back', async () => {
  const taskQueue = `gone-${Date.now().toString(36)}`;
  const home = tempDir('mission-host-gone-');
  const env = { MISSION_HOME: home, MISSION_HOST_PICKUP_TIMEOUT: '3' };
  let host = startWorkerProcess(h, taskQueue, env);
  let other: ReturnType<typeof startWorkerProcess> | undefined;
  try {
    await host.ready;
    const hostId = /host (\S+) \(queue/.exec(host.output())![1]!;
    h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'back', files: ['back.txt'] }] }]))]);
    h.model.script('feature back', writesFiles({ 'back.txt': 'after the outage' }));
    const repo = makeRepo();
    const handle = await h.client.workflow.start(MISSION_WORKFLOW, {
      taskQueue,
      workflowId: `gone-${Date.now().toString(36)}`,
      args: [{ prompt: 'x', repo, useWorktrees: true }],
    });
    expect((await h.waitFor(handle, (st) => st.phase === 'awaiting-approval')).host).toBe(hostId);
    // Another host serves the shared queue (workflow tasks) but has none of the mission's files; the mission's host stops.
    other = startWorkerProcess(h, taskQueue, { MISSION_HOME: tempDir('mission-host-other-') });
    await other.ready;
    host.child.kill('SIGTERM');
    await host.exited;
    await handle.signal(approvePlanSignal, {});
    const stuck = await h.waitFor(handle, (st) => st.waitingForHost !== undefined, 60_000);
    expect(stuck.waitingForHost).toBe(hostId);
    expect(stuck.events.map((e) => e.message).join('\n')).toMatch(new RegExp(`waiting for host ${hostId}`));

    host = startWorkerProcess(h, taskQueue, env); // the same MISSION_HOME: the same host
    await host.ready;
    const report = (await handle.result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(treeAt(repo, report.branch!)).toMatchObject({ 'back.txt': 'after the outage' });
    expect((await handle.query(statusQuery)).waitingForHost).toBeUndefined();
  } finally {
    for (const w of [host, other]) w?.child.kill('SIGTERM');
    await Promise.all([host.exited, other?.exited]);
  }
}, 300_000);
