import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createGitActivities } from '../src/activities/git';
import { GitCommandError, GitProcess, gitProcess } from '../src/activities/git-process';
import { MissionPaths } from '../src/activities/paths';
import { branches, git, makeRepo, tempDir, treeAt } from './support/repo';
import { featureBranch } from '../src/api/ids';

function setup(files: Record<string, string> = { 'README.md': '# r\n' }) {
  const repo = makeRepo(files);
  const paths = new MissionPaths(tempDir('mission-home-'));
  const acts = createGitActivities({ paths });
  return { repo, paths, acts };
}

const prepareInput = (repo: string, key = 'm1', runId = 'run-1') => ({ missionId: key, missionKey: key, runId, repo, baseBranch: 'main' });

async function expectFailure(promise: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).type).toBe(type);
  expect((err as ApplicationFailure).nonRetryable).toBe(true);
  expect((err as ApplicationFailure).message).toMatch(message);
}

describe('prepareMission', () => {
  it('creates the mission branch and worktree once, reads AGENTS.md and skills, and is idempotent', async () => {
    const { repo, paths, acts } = setup({
      'README.md': '# r\n',
      'AGENTS.md': 'Use tabs.\n',
      '.agents/skills/testing/SKILL.md': 'Run npm test.\n',
      '.claude/skills/style/SKILL.md': 'Be terse.\n',
    });
    const first = await acts.prepareMission(prepareInput(repo));
    const second = await acts.prepareMission(prepareInput(repo));
    expect(second).toEqual(first);
    expect(first).toMatchObject({
      branch: 'mission/m1',
      worktree: paths.missionWorktree('m1'),
      baseCommit: git(repo, 'rev-parse', 'main'),
      context: { agentsMd: true, skills: ['testing', 'style'], fileCount: 4 },
    });
    expect(git(first.worktree, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('mission/m1');
    expect(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
  });

  it('recreates a worktree folder that a crash left half made', async () => {
    const { repo, paths, acts } = setup();
    const first = await acts.prepareMission(prepareInput(repo));
    git(repo, 'worktree', 'remove', '--force', first.worktree);
    const again = await acts.prepareMission(prepareInput(repo));
    expect(again.worktree).toBe(paths.missionWorktree('m1'));
    expect(git(again.worktree, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('mission/m1');
  });

  it('refuses a branch or mission data that belongs to another run, touching nothing', async () => {
    const { repo, acts } = setup();
    await acts.prepareMission(prepareInput(repo));
    await expectFailure(acts.prepareMission(prepareInput(repo, 'm1', 'run-2')), 'MISSION_BRANCH_CONFLICT', /earlier run/);
    git(repo, 'branch', 'mission/taken');
    await expectFailure(acts.prepareMission(prepareInput(repo, 'taken')), 'MISSION_BRANCH_CONFLICT', /branch mission\/taken already exists/);
  });
});

describe('commits and merges', () => {
  it('commitWork commits once per step and returns the same commit on retry', async () => {
    const { repo, acts } = setup();
    const prep = await acts.prepareMission(prepareInput(repo));
    const since = prep.baseCommit;
    const empty = await acts.commitWork({ repo, workdir: prep.worktree, message: 'nothing', step: 's0', since });
    expect(empty.commit).toBeNull();
    writeFileSync(path.join(prep.worktree, 'a.txt'), 'a');
    const first = await acts.commitWork({ repo, workdir: prep.worktree, message: 'add a', step: 's1', since });
    const retry = await acts.commitWork({ repo, workdir: prep.worktree, message: 'add a', step: 's1', since });
    expect(retry.commit).toBe(first.commit);
    expect(git(repo, 'rev-list', '--count', `${since}..mission/m1`)).toBe('1');
    expect(git(repo, 'log', '-1', '--format=%B', first.commit!)).toContain('Mission-Step: s1');
  });

  it('commitMilestone makes an empty marker commit only when the milestone has no commit', async () => {
    const { repo, acts } = setup();
    const prep = await acts.prepareMission(prepareInput(repo));
    const marker = await acts.commitMilestone({ repo, worktree: prep.worktree, message: 'Milestone m1', step: 'm1', since: prep.baseCommit });
    const again = await acts.commitMilestone({ repo, worktree: prep.worktree, message: 'Milestone m1', step: 'm1', since: prep.baseCommit });
    expect(again.commit).toBe(marker.commit);
    expect(git(repo, 'rev-list', '--count', `${prep.baseCommit}..mission/m1`)).toBe('1');
  });

  async function twoConflictingFeatures() {
    const { repo, acts } = setup({ 'shared.txt': 'base\n' });
    const prep = await acts.prepareMission(prepareInput(repo));
    const features = [];
    for (const [id, content] of [['a', 'from a\n'], ['b', 'from b\n']] as const) {
      const wt = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: id, startPoint: prep.baseCommit, mergeBranches: [] });
      writeFileSync(path.join(wt.worktree, 'shared.txt'), content);
      await acts.commitWork({ repo, workdir: wt.worktree, message: id, step: id, since: wt.startCommit });
      features.push(wt);
    }
    const [a, b] = features as [(typeof features)[number], (typeof features)[number]];
    const mergeA = { repo, worktree: prep.worktree, branch: a.branch, message: 'Merge a', step: 'a/merge' };
    const mergeB = { repo, worktree: prep.worktree, branch: b.branch, message: 'Merge b', step: 'b/merge' };
    return { repo, acts, prep, a, b, mergeA, mergeB };
  }

  it('merges a feature branch once and deletes it after; a conflicting merge stays in progress, also on retry', async () => {
    const { repo, acts, prep, a, b, mergeA, mergeB } = await twoConflictingFeatures();
    const merged = await acts.mergeFeature(mergeA);
    expect(merged.state).toBe('merged');
    expect(await acts.mergeFeature(mergeA)).toEqual(merged);
    const conflict = await acts.mergeFeature(mergeB);
    expect(conflict).toEqual({ state: 'conflict', conflictFiles: ['shared.txt'] });
    expect(await acts.mergeFeature(mergeB)).toEqual(conflict); // a retry finds the same merge in progress
    expect(readFileSync(path.join(prep.worktree, 'shared.txt'), 'utf8')).toMatch(/^<<<<<<< HEAD\nfrom a\n=======\nfrom b\n>>>>>>> /);

    // Not resolved: aborted, clean worktree, b's work still on its branch, which is kept.
    expect(await acts.concludeMerge({ ...mergeB, conflictFiles: ['shared.txt'], resolve: false })).toEqual(conflict);
    expect(git(prep.worktree, 'status', '--porcelain')).toBe('');
    expect(treeAt(repo, b.branch)['shared.txt']).toBe('from b');
    expect(await acts.removeFeatureWorktree({ repo, missionWorktree: prep.worktree, worktree: a.worktree, branch: a.branch })).toEqual({ branchDeleted: true });
    expect(await acts.removeFeatureWorktree({ repo, missionWorktree: prep.worktree, worktree: b.worktree, branch: b.branch })).toEqual({ branchDeleted: false });
    expect(branches(repo)).toEqual(['main', 'mission/m1', 'mission/m1-b']);
    expect(existsSync(a.worktree)).toBe(false);
  });

  it('concludes a resolved merge with one merge commit, and aborts one that still has conflict markers', async () => {
    const { repo, acts, prep, mergeA, mergeB } = await twoConflictingFeatures();
    await acts.mergeFeature(mergeA);
    await acts.mergeFeature(mergeB);
    const markers = await acts.concludeMerge({ ...mergeB, conflictFiles: ['shared.txt'], resolve: true });
    expect(markers).toEqual({ state: 'conflict', conflictFiles: ['shared.txt'] });
    expect(git(prep.worktree, 'status', '--porcelain')).toBe('');

    await acts.mergeFeature(mergeB);
    writeFileSync(path.join(prep.worktree, 'shared.txt'), 'from a and b\n');
    const done = await acts.concludeMerge({ ...mergeB, conflictFiles: ['shared.txt'], resolve: true });
    expect(done.state).toBe('merged');
    expect(await acts.concludeMerge({ ...mergeB, conflictFiles: ['shared.txt'], resolve: true })).toEqual(done);
    expect(git(repo, 'rev-list', '--parents', '-n', '1', done.commit!).split(' ')).toHaveLength(3);
    expect(git(repo, 'log', '-1', '--format=%B', done.commit!)).toContain('Mission-Step: b/merge');
    expect(treeAt(repo, 'mission/m1')['shared.txt']).toBe('from a and b');
  });

  it('a dependent feature worktree starts with its dependency merged in', async () => {
    const { repo, acts } = setup();
    const prep = await acts.prepareMission(prepareInput(repo));
    const dep = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'dep', startPoint: prep.baseCommit, mergeBranches: [] });
    writeFileSync(path.join(dep.worktree, 'dep.txt'), 'dep');
    await acts.commitWork({ repo, workdir: dep.worktree, message: 'dep', step: 'dep', since: dep.startCommit });
    const next = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'next', startPoint: prep.baseCommit, mergeBranches: [dep.branch] });
    expect(existsSync(path.join(next.worktree, 'dep.txt'))).toBe(true);
    const again = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'next', startPoint: prep.baseCommit, mergeBranches: [dep.branch] });
    expect(again).toEqual(next);
  });

  it('a feature worktree registered but never checked out (a crash in between) gets its files on retry; one with work keeps it', async () => {
    const { repo, paths, acts } = setup({ 'README.md': '# r\n', 'src/a.ts': 'export const a = 1;\n' });
    const prep = await acts.prepareMission(prepareInput(repo));
    // What a crash right after `git worktree add --no-checkout` leaves: the branch and an empty worktree.
    const dir = paths.featureWorktree('m1', 'f1');
    git(repo, 'worktree', 'add', '--no-checkout', '-b', featureBranch('m1', 'f1'), dir, prep.baseCommit);
    expect(existsSync(path.join(dir, 'src/a.ts'))).toBe(false);
    const created = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'f1', startPoint: prep.baseCommit, mergeBranches: [] });
    expect(readFileSync(path.join(created.worktree, 'src/a.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect(git(created.worktree, 'status', '--porcelain')).toBe('');

    // A retry once the agent has edited files checks nothing out again: the edits stay.
    writeFileSync(path.join(created.worktree, 'src/a.ts'), 'export const a = 2;\n');
    const again = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'f1', startPoint: prep.baseCommit, mergeBranches: [] });
    expect(again).toEqual(created);
    expect(readFileSync(path.join(created.worktree, 'src/a.ts'), 'utf8')).toBe('export const a = 2;\n');
  });

  it('a checkout killed midway left index.lock: an old lock is cleared, a fresh one (git may still run) is retried', async () => {
    const { repo, paths, acts } = setup({ 'README.md': '# r\n', 'src/a.ts': 'export const a = 1;\n' });
    const prep = await acts.prepareMission(prepareInput(repo));
    const dir = paths.featureWorktree('m1', 'f1');
    git(repo, 'worktree', 'add', '--no-checkout', '-b', featureBranch('m1', 'f1'), dir, prep.baseCommit);
    const lock = path.resolve(dir, git(dir, 'rev-parse', '--git-path', 'index.lock'));
    writeFileSync(lock, '');
    const input = { repo, missionKey: 'm1', featureId: 'f1', startPoint: prep.baseCommit, mergeBranches: [] };
    const err = await acts.createFeatureWorktree(input).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApplicationFailure); // a plain error: Temporal retries the step
    expect((err as Error).message).toMatch(/still checking out .*index\.lock exists/);
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(lock, old, old);
    const created = await acts.createFeatureWorktree(input);
    expect(readFileSync(path.join(created.worktree, 'src/a.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect(existsSync(lock)).toBe(false);
  });

  it('a dependency merge that a crash interrupted is started again on retry, not skipped', async () => {
    const { repo, acts } = setup();
    const prep = await acts.prepareMission(prepareInput(repo));
    const dep = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'dep', startPoint: prep.baseCommit, mergeBranches: [] });
    writeFileSync(path.join(dep.worktree, 'dep.txt'), 'dep');
    await acts.commitWork({ repo, workdir: dep.worktree, message: 'dep', step: 'dep', since: dep.startCommit });
    const input = { repo, missionKey: 'm1', featureId: 'next', startPoint: prep.baseCommit, mergeBranches: [dep.branch] };
    const next = await acts.createFeatureWorktree({ ...input, mergeBranches: [] });
    // What a crash in the middle of the merge leaves: MERGE_HEAD and a half-made merge.
    git(next.worktree, 'merge', '--no-ff', '--no-commit', dep.branch);
    const again = await acts.createFeatureWorktree(input);
    expect(git(again.worktree, 'merge-base', '--is-ancestor', dep.branch, 'HEAD')).toBe('');
    expect(readFileSync(path.join(again.worktree, 'dep.txt'), 'utf8')).toBe('dep');
    expect(git(again.worktree, 'status', '--porcelain')).toBe('');
  });

  it('works in a repository whose config recurses into submodules, leaving the submodule as git worktree add would', async () => {
    const lib = makeRepo({ 'lib.txt': 'lib\n' });
    const { repo, acts } = setup();
    git(repo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'vendor/lib');
    git(repo, 'commit', '-q', '-m', 'add submodule');
    git(repo, 'config', 'submodule.recurse', 'true');
    const prep = await acts.prepareMission(prepareInput(repo));
    expect(readFileSync(path.join(prep.worktree, 'README.md'), 'utf8')).toBe('# r\n');
    const feature = await acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId: 'f1', startPoint: prep.baseCommit, mergeBranches: [] });
    expect(readFileSync(path.join(feature.worktree, '.gitmodules'), 'utf8')).toContain('vendor/lib');
    expect(git(feature.worktree, 'status', '--porcelain')).toBe('');
  });
});

describe('discardMission', () => {
  it('removes an empty mission branch and worktree but never one holding work', async () => {
    const { repo, paths, acts } = setup();
    const prep = await acts.prepareMission(prepareInput(repo));
    writeFileSync(path.join(prep.worktree, 'work.txt'), 'precious');
    expect(await acts.discardMission({ repo, missionKey: 'm1', baseCommit: prep.baseCommit })).toEqual({ removed: false });
    expect(existsSync(path.join(prep.worktree, 'work.txt'))).toBe(true);

    const other = await acts.prepareMission(prepareInput(repo, 'm2'));
    expect(await acts.discardMission({ repo, missionKey: 'm2', baseCommit: other.baseCommit })).toEqual({ removed: true });
    expect(branches(repo)).toEqual(['main', 'mission/m1']);
    expect(existsSync(paths.missionDir('m2'))).toBe(false);
  });
});

describe('parallel features and the git helper process', () => {
  it('six features create worktrees and commit at the same time in one repository, each on its own branch', async () => {
    const { repo, acts } = setup();
    const prep = await acts.prepareMission(prepareInput(repo));
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const trees = await Promise.all(ids.map((featureId) => acts.createFeatureWorktree({ repo, missionKey: 'm1', featureId, startPoint: prep.baseCommit, mergeBranches: [] })));
    expect(new Set(trees.map((t) => t.worktree)).size).toBe(6);
    for (const [i, t] of trees.entries()) writeFileSync(path.join(t.worktree, `${ids[i]}.txt`), ids[i]!);
    const commits = await Promise.all(
      trees.map((t, i) => acts.commitWork({ repo, workdir: t.worktree, message: `feature ${ids[i]}`, step: `step-${ids[i]}`, since: t.startCommit })),
    );
    for (const [i, t] of trees.entries()) {
      expect(git(repo, 'rev-parse', t.branch)).toBe(commits[i]!.commit);
      expect(git(repo, 'show', '--name-only', '--format=', t.branch)).toBe(`${ids[i]}.txt`);
    }
    // Done already: a retry of every step at once changes nothing.
    const again = await Promise.all(
      trees.map((t, i) => acts.commitWork({ repo, workdir: t.worktree, message: `feature ${ids[i]}`, step: `step-${ids[i]}`, since: t.startCommit })),
    );
    expect(again).toEqual(commits);
    expect(git(repo, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(8);
  });

  it('a git helper that dies fails its commands with a retryable error, and the next command starts a new one', async () => {
    const { repo } = setup();
    const helper = new GitProcess();
    try {
      expect(await helper.raw(repo, ['rev-parse', '--abbrev-ref', 'HEAD'])).toBe('main');
      const first = helper.pid!;
      // A command that waits on a slow filter (given on the command line: hooks and the repository's drivers never run) while the helper is killed.
      writeFileSync(path.join(repo, '.gitattributes'), '* filter=slow\n');
      writeFileSync(path.join(repo, 'README.md'), 'changed\n');
      const inFlight = helper.raw(repo, ['-c', 'filter.slow.clean=sleep 2; cat', 'add', 'README.md']).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      await new Promise((r) => setTimeout(r, 300));
      process.kill(first, 'SIGKILL');
      const err = await inFlight;
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(GitCommandError); // not GIT_FAILED: Temporal retries it
      expect(err!.message).toMatch(/git helper process exited .*retrying/);
      expect(await helper.raw(repo, ['rev-parse', '--abbrev-ref', 'HEAD'])).toBe('main');
      expect(helper.pid).not.toBe(first);
      const failed = await helper.raw(repo, ['rev-parse', '--verify', 'no-such-branch']).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(GitCommandError);
    } finally {
      helper.close();
    }
  });

  it("git and what it runs (a user's global filter, say) never see the worker's secrets", async () => {
    const { repo } = setup();
    const out = path.join(tempDir('hook-env-'), 'env.txt');
    writeFileSync(path.join(repo, '.gitattributes'), '* filter=dump\n');
    writeFileSync(path.join(repo, 'README.md'), 'changed\n');
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-hook-secret-123456789';
    gitProcess.close(); // the next command starts a helper with this environment
    try {
      await gitProcess.raw(repo, ['-c', `filter.dump.clean=env >> ${out}; cat`, 'add', 'README.md']);
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
      gitProcess.close();
    }
    const seen = readFileSync(out, 'utf8');
    expect(seen).toMatch(/^PATH=/m);
    expect(seen).not.toContain('sk-hook-secret');
  });
});
