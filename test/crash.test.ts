import { statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { MISSION_WORKFLOW } from '../src/api/constants';
import { useHarness } from './support/harness';
import { git, makeRepo, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('crash');

test('a worker killed (SIGKILL) in the middle of a tool call: a new worker finishes the mission, no model call is paid twice', async () => {
  const repo = makeRepo();
  const queue = `${h.taskQueue}-proc`;
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'slow', files: ['slow.txt'] }] }]))]);
  h.model.script('feature slow', [tools(call('run_command', { command: 'sleep 2 && echo done > slow.txt' })), finish('slow work done')]);

  const first = startWorkerProcess(h, queue);
  await first.ready;
  const handle = await h.client.workflow.start(MISSION_WORKFLOW, {
    taskQueue: queue,
    workflowId: `crash-${Date.now()}`,
    args: [{ prompt: 'Survive a crash', repo, requirePlanApproval: false }],
  });
  // Kill the worker while run_command runs (the first feature turn has been answered).
  const deadline = Date.now() + 30_000;
  while (h.model.requestsFor('feature slow').length < 1 || !h.model.requestsFor('feature slow')[0]!.respondedAt) {
    if (Date.now() > deadline) throw new Error(`the feature never started:\n${first.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  first.child.kill('SIGKILL');

  const second = startWorkerProcess(h, queue);
  try {
    await second.ready;
    const report = (await handle.result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(treeAt(repo, report.branch!)).toMatchObject({ 'slow.txt': 'done' });
    // Every scripted reply was used exactly once (assertDone after the test): no completed turn was asked again.
    expect(h.model.requestsFor('feature slow')).toHaveLength(2);
    expect(h.model.requestsFor('plan')).toHaveLength(1);
    // One commit for the feature, no duplicates; nothing left half merged.
    expect(git(repo, 'log', '--format=%s', `${report.baseCommit}..${report.branch}`).split('\n')).toEqual(['slow: Feature slow']);
    expect(git(report.worktree!, 'status', '--porcelain')).toBe('');
    expect((await handle.query(statusQuery)).phase).toBe('completed');
  } finally {
    second.child.kill('SIGKILL');
  }
}, 120_000);
