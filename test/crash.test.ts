import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import type { MissionStatus } from '../src/api/status';
import { MISSION_WORKFLOW } from '../src/api/constants';
import type { ScriptedReply } from './support/model-server';
import { useHarness } from './support/harness';
import { git, makeRepo, tempDir, treeAt, writeFiles } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('crash');

interface CrashCase {
  /** Scripts the model, prepares the repo; returns extra input and the files the final tree must hold. */
  setup(repo: string, id: string): { input?: Record<string, unknown>; tree: Record<string, string>; env?: Record<string, string> };
  /** Resolves when the worker is in the middle of the step to crash. */
  inTheMiddle(handle: WorkflowHandle): Promise<void>;
  /** Model requests per role at the end: completed calls are never repeated; the one cut off is asked again. */
  requests: Record<string, number>;
}

const until = async (check: () => boolean | Promise<boolean>, what: string) => {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never reached: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const requested = (role: string, n = 1) => () => until(() => h.model.requestsFor(role).length >= n, `request ${n} of ${role}`);
const inPhase = (phase: MissionStatus['phase'], settleMs = 700) => async (handle: WorkflowHandle) => {
  await until(async () => (await handle.query(statusQuery)).phase === phase, `phase ${phase}`);
  await new Promise((r) => setTimeout(r, settleMs));
};
const slow = (reply: ScriptedReply, delayMs = 3000): ScriptedReply => ({ ...(reply as object), delayMs });
const onePlan = (features: string[]) => planReply(makePlan([{ id: 'm1', features: features.map((id) => ({ id, files: [`${id}.txt`] })) }]));

const CASES: Record<string, CrashCase> = {
  'during planning (the plan call in flight)': {
    setup: () => {
      h.model.script('plan', [slow(onePlan(['p'])), onePlan(['p'])]);
      h.model.script('feature p', writesFiles({ 'p.txt': 'planned' }));
      return { tree: { 'p.txt': 'planned' } };
    },
    inTheMiddle: requested('plan'),
    requests: { plan: 2, 'feature p': 2 },
  },
  'during an agent turn (the model call in flight)': {
    setup: () => {
      h.model.script('plan', [onePlan(['t'])]);
      const [write, done] = writesFiles({ 't.txt': 'turned' });
      h.model.script('feature t', [slow(write!), write!, done!]);
      return { tree: { 't.txt': 'turned' } };
    },
    inTheMiddle: requested('feature t'),
    requests: { plan: 1, 'feature t': 3 },
  },
  'during a tool run (run_command in flight)': {
    setup: () => {
      h.model.script('plan', [onePlan(['slow'])]);
      h.model.script('feature slow', [tools(call('run_command', { command: 'sleep 2 && echo done > slow.txt' })), finish('slow work done')]);
      return { tree: { 'slow.txt': 'done' } };
    },
    inTheMiddle: async () => {
      await until(() => Boolean(h.model.requestsFor('feature slow')[0]?.respondedAt), 'the first feature turn');
      await new Promise((r) => setTimeout(r, 500));
    },
    requests: { plan: 1, 'feature slow': 2 },
  },
  'during a merge (a slow filter holds the merge into the mission worktree)': {
    setup: (repo) => {
      h.model.script('plan', [onePlan(['x', 'y'])]);
      h.model.script('feature x', writesFiles({ 'x.txt': 'X' }));
      h.model.script('feature y', writesFiles({ 'y.txt': 'Y' }));
      // Mission's git runs no hook and no driver of the repository's own config (git-safety.ts), but the user's
      // global ones still run: a slow smudge filter there holds the merge while it writes x.txt.
      const home = tempDir('slow-home-');
      writeFileSync(path.join(home, '.gitconfig'), '[filter "slow"]\n\tsmudge = "sleep 2; cat"\n');
      writeFiles(repo, { '.gitattributes': 'x.txt filter=slow\n' });
      git(repo, 'add', '.gitattributes');
      git(repo, 'commit', '-q', '-m', 'slow filter');
      return { input: { useWorktrees: true }, tree: { 'x.txt': 'X', 'y.txt': 'Y' }, env: { HOME: home } };
    },
    inTheMiddle: inPhase('integrating'),
    requests: { plan: 1, 'feature x': 2, 'feature y': 2 },
  },
  'during validation (a slow check running)': {
    setup: () => {
      h.model.script('plan', [onePlan(['v'])]);
      h.model.script('feature v', writesFiles({ 'v.txt': 'validated' }));
      return { input: { validation: { commands: [{ name: 'slow check', run: 'sleep 3 && echo ok' }] } }, tree: { 'v.txt': 'validated' } };
    },
    inTheMiddle: inPhase('validating'),
    requests: { plan: 1, 'feature v': 2 },
  },
};

test.each(Object.entries(CASES))('a worker killed (SIGKILL) %s: a new worker finishes the same mission, nothing paid twice or done twice', async (_name, c) => {
  const repo = makeRepo();
  const queue = `${h.taskQueue}-${Object.keys(CASES).indexOf(_name)}`;
  const id = `crash-${Object.keys(CASES).indexOf(_name)}-${Date.now()}`;
  const { input, tree, env } = c.setup(repo, id);
  const first = startWorkerProcess(h, queue, env);
  await first.ready;
  const handle = await h.client.workflow.start(MISSION_WORKFLOW, {
    taskQueue: queue,
    workflowId: id,
    args: [{ prompt: 'Survive a crash', repo, requirePlanApproval: false, ...input }],
  });
  await c.inTheMiddle(handle);
  first.child.kill('SIGKILL');
  await first.exited;

  const second = startWorkerProcess(h, queue, env);
  try {
    await second.ready;
    const report = (await handle.result()) as MissionReport;
    expect(report.outcome).toBe('completed');
    expect(treeAt(repo, report.branch!)).toMatchObject(tree);
    // Completed model calls were not asked again (the scripts hold exactly these replies; assertDone runs after).
    for (const [role, n] of Object.entries(c.requests)) expect([role, h.model.requestsFor(role).length]).toEqual([role, n]);
    // No duplicate commits, no merge left in progress, nothing uncommitted.
    const subjects = git(repo, 'log', '--format=%s', `${report.baseCommit}..${report.branch}`).split('\n');
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(git(report.worktree!, 'status', '--porcelain')).toBe('');
    expect(() => git(report.worktree!, 'rev-parse', '-q', '--verify', 'MERGE_HEAD')).toThrow();
    expect((await handle.query(statusQuery)).phase).toBe('completed');
  } finally {
    second.child.kill('SIGKILL');
    await second.exited;
  }
}, 150_000);
