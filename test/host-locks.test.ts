import { spawn } from 'node:child_process';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { MISSION_WORKFLOW } from '../src/api/constants';
import { Git } from '../src/activities/gitcore';
import { useHarness } from './support/harness';
import { git, makeRepo, tempDir, treeAt } from './support/repo';
import { call, makePlan, planReply, tools } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('locks');

// One worker process's git activities (from dist/, as `mission worker` runs them) adding feature worktrees to one
// repository and removing every other one, several at a time (what parallel features do); prints the first error's type and message, or "ok".
const ADD_WORKTREES = `
const { createGitActivities } = require(process.argv[1]);
const { MissionPaths } = require(process.argv[2]);
const [repo, home, tag, start] = process.argv.slice(3);
const git = createGitActivities({ paths: new MissionPaths(home) });
const add = async (i) => {
  const { worktree, branch } = await git.createFeatureWorktree({ repo, missionKey: 'k' + tag, featureId: 'f' + i, startPoint: start, mergeBranches: [] });
  if (i % 2) await git.removeFeatureWorktree({ repo, missionWorktree: repo, worktree, branch });
};
Promise.all(Array.from({ length: 30 }, (_, i) => add(i)))
  .then(() => console.log('ok'), (err) => console.log((err.type || 'Error') + ': ' + err.message))
  .finally(() => process.exit(0));
`;

function addWorktrees(repo: string, home: string, tag: string, start: string): Promise<string> {
  const dist = path.join(__dirname, '..', 'dist', 'activities');
  const child = spawn(process.execPath, ['-e', ADD_WORKTREES, path.join(dist, 'git.js'), path.join(dist, 'paths.js'), repo, home, tag, start]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', () => resolve(out.trim())));
}

test('git activities in two processes add worktrees to one repository at once: none fails', async () => {
  const repo = makeRepo();
  const start = git(repo, 'rev-parse', 'HEAD');
  const outputs = await Promise.all(['1', '2', '3'].map((tag) => addWorktrees(repo, tempDir('mission-home-'), tag, start)));
  expect(outputs).toEqual(['ok', 'ok', 'ok']);
  expect(git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(46);
}, 120_000);

/**
 * Two worker processes on one host share a repository: git's worktree bookkeeping, refs and index are guarded
 * by locks that hold across processes, and a lock race is retried, never a GIT_FAILED that ends a mission.
 */
test("git's own lock held by another process (index.lock) is a retryable GIT_LOCKED, not GIT_FAILED", async () => {
  const repo = makeRepo();
  writeFileSync(path.join(repo, 'new.txt'), 'x');
  writeFileSync(path.join(repo, '.git', 'index.lock'), '');
  const failure = await new Git(repo).run(['add', '-A']).catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'GIT_LOCKED', nonRetryable: false });
  expect((failure as Error).message).toMatch(/index\.lock.*the step is retried/s);
});

test('two worker processes on one host and one repository run missions with parallel worktrees without GIT_FAILED', async () => {
  const taskQueue = `locks-${Date.now().toString(36)}`;
  const home = tempDir('mission-home-shared-');
  const workers = [startWorkerProcess(h, taskQueue, { MISSION_HOME: home }), startWorkerProcess(h, taskQueue, { MISSION_HOME: home })];
  try {
    await Promise.all(workers.map((w) => w.ready));
    const repo = makeRepo();
    const ids = ['a', 'b', 'c', 'd'];
    h.model.scriptPrefix('plan', planReply(makePlan([{ id: 'm1', features: ids.map((id) => ({ id, files: [`${id}.txt`] })) }])));
    // Every agent writes the file named after its feature and finishes, in one turn.
    h.model.scriptPrefix('feature ', (req) => {
      const id = req.role.split(' ')[1]!;
      return tools(call('write_file', { path: `${id}.txt`, content: id }), call('finish', { summary: 'wrote it', status: 'done' }));
    });
    const handles = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        h.client.workflow.start(MISSION_WORKFLOW, {
          taskQueue,
          workflowId: `locks-${n}-${Date.now().toString(36)}`,
          args: [{ prompt: 'letters', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 4 }],
        }),
      ),
    );
    const results = (await Promise.all(handles.map((x) => x.result()))) as { outcome: string; branch: string }[];
    const histories = await Promise.all(handles.map((x) => x.fetchHistory()));
    expect(histories.map((x) => JSON.stringify(x).match(/GIT_FAILED[^"]*"[^"]*"[^"]*/g) ?? [])).toEqual([[], [], [], []]);
    expect(results.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed', 'completed']);
    for (const r of results) expect(treeAt(repo, r.branch)).toEqual({ 'README.md': '# demo', 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'd.txt': 'd' });
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
}, 300_000);
