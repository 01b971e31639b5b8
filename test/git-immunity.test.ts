import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createGitActivities } from '../src/activities/git';
import { gitProcess } from '../src/activities/git-process';
import { MissionPaths } from '../src/activities/paths';
import { executeTool } from '../src/activities/tools';
import { git, makeRepo, tempDir } from './support/repo';

/**
 * Issue 12, item 3: what an agent can plant in the shared .git (hooks, core.fsmonitor, filter and merge drivers)
 * never runs inside Mission's own git steps.
 */
function plantEverything(repo: string, marks: string): void {
  const hooks = path.join(repo, '.git', 'hooks');
  for (const hook of ['pre-commit', 'prepare-commit-msg', 'commit-msg', 'post-commit', 'pre-merge-commit', 'post-merge', 'post-checkout', 'reference-transaction', 'post-index-change']) {
    writeFileSync(path.join(hooks, hook), `#!/bin/sh\ntouch ${marks}/hook-${hook}\n`, { mode: 0o755 });
  }
  git(repo, 'config', 'core.fsmonitor', `touch ${marks}/fsmonitor; true`);
  git(repo, 'config', 'filter.evil.clean', `touch ${marks}/filter-clean; cat`);
  git(repo, 'config', 'filter.evil.smudge', `touch ${marks}/filter-smudge; cat`);
  git(repo, 'config', 'filter.evil.process', `touch ${marks}/filter-process; false`);
  git(repo, 'config', 'merge.evil.driver', `touch ${marks}/merge-driver; true`);
  git(repo, 'config', 'diff.evil.textconv', `touch ${marks}/textconv; cat`);
  git(repo, 'config', 'log.showSignature', 'true');
  git(repo, 'config', 'gpg.program', `${marks}/gpg.sh`);
  writeFileSync(`${marks}/gpg.sh`, `#!/bin/sh\ntouch ${marks}/gpg\nexit 1\n`, { mode: 0o755 });
  git(repo, 'config', 'commit.gpgSign', 'true');
}

describe("Mission's git ignores what agents plant", () => {
  it('hooks, core.fsmonitor, filter, merge and diff drivers and gpg never run in prepare, commits, merges and status', async () => {
    // .gitattributes is in the tree (an agent edits it with write_file); the drivers it names are in .git/config.
    const repo = makeRepo({ 'README.md': '# r\n', 'shared.txt': 'one\ntwo\nthree\n', '.gitattributes': '* filter=evil merge=evil diff=evil\n' });
    const marks = tempDir('planted-');
    plantEverything(repo, marks);
    const paths = new MissionPaths(tempDir('mission-home-'));
    const acts = createGitActivities({ paths });

    const prep = await acts.prepareMission({ missionId: 'imm', missionKey: 'imm', runId: 'r1', repo, baseBranch: 'main' });
    const a = await acts.createFeatureWorktree({ repo, missionKey: 'imm', featureId: 'a', startPoint: prep.baseCommit, mergeBranches: [] });
    const b = await acts.createFeatureWorktree({ repo, missionKey: 'imm', featureId: 'b', startPoint: prep.baseCommit, mergeBranches: [] });
    writeFileSync(path.join(a.worktree, 'shared.txt'), 'one\nA\nthree\n');
    writeFileSync(path.join(b.worktree, 'shared.txt'), 'one\nB\nthree\n');
    const ca = await acts.commitWork({ repo, workdir: a.worktree, message: 'a', step: 'sa', since: a.startCommit });
    const cb = await acts.commitWork({ repo, workdir: b.worktree, message: 'b', step: 'sb', since: b.startCommit });
    expect(ca.commit).toBeTruthy();
    expect(cb.commit).toBeTruthy();
    // The planted merge driver would "resolve" the conflict silently; git's own text merge reports it.
    expect(await acts.mergeFeature({ repo, worktree: prep.worktree, branch: a.branch, message: 'merge a', step: 'ma' })).toMatchObject({ state: 'merged' });
    expect(await acts.mergeFeature({ repo, worktree: prep.worktree, branch: b.branch, message: 'merge b', step: 'mb' })).toEqual({ state: 'conflict', conflictFiles: ['shared.txt'] });
    expect(await acts.concludeMerge({ repo, worktree: prep.worktree, branch: b.branch, message: 'merge b', step: 'mb', conflictFiles: ['shared.txt'], resolve: false })).toMatchObject({ state: 'conflict' });
    await acts.removeFeatureWorktree({ repo, missionWorktree: prep.worktree, worktree: a.worktree, branch: a.branch });
    writeFileSync(path.join(prep.worktree, 'new.txt'), 'n\n');
    await acts.commitMilestone({ repo, worktree: prep.worktree, message: 'milestone', step: 'm1', since: prep.baseCommit });
    await acts.currentHead({ worktree: prep.worktree });
    // The file tools' listing (git ls-files) too.
    expect((await executeTool({ root: prep.worktree }, 'list_files', '{}')).ok).toBe(true);

    expect(readdirSync(marks).filter((f) => f !== 'gpg.sh')).toEqual([]);
    // Without a filter the bytes are committed and checked out as they are.
    expect(git(repo, 'show', `${ca.commit}:shared.txt`)).toBe('one\nA\nthree');
    expect(readFileSync(path.join(prep.worktree, 'new.txt'), 'utf8')).toBe('n\n');
  });

  it("drivers from the user's own global config keep working (git-lfs style), the repository's are overridden", async () => {
    const repo = makeRepo({ 'a.txt': 'x\n', '.gitattributes': '*.txt filter=user\n*.md filter=planted\n' });
    const marks = tempDir('planted-');
    // The helper drops GIT_* variables; HOME is how the user's global config is found.
    const home = tempDir('global-');
    writeFileSync(path.join(home, '.gitconfig'), `[filter "user"]\n\tclean = "touch ${marks}/user-clean; cat"\n`);
    git(repo, 'config', 'filter.planted.clean', `touch ${marks}/planted-clean; cat`);
    const saved = process.env.HOME;
    process.env.HOME = home;
    gitProcess.close();
    try {
      writeFileSync(path.join(repo, 'a.txt'), 'y\n');
      writeFileSync(path.join(repo, 'b.md'), 'm\n');
      await gitProcess.raw(repo, ['add', 'a.txt', 'b.md']);
    } finally {
      process.env.HOME = saved;
      gitProcess.close();
    }
    expect(existsSync(path.join(marks, 'user-clean'))).toBe(true);
    expect(existsSync(path.join(marks, 'planted-clean'))).toBe(false);
  });

  it("never commits or merges on a branch that is not the mission's, whatever a worktree's HEAD was pointed at", async () => {
    const repo = makeRepo({ 'README.md': '# r\n' });
    const paths = new MissionPaths(tempDir('mission-home-'));
    const acts = createGitActivities({ paths });
    const prep = await acts.prepareMission({ missionId: 'hd', missionKey: 'hd', runId: 'r1', repo, baseBranch: 'main' });
    const f = await acts.createFeatureWorktree({ repo, missionKey: 'hd', featureId: 'f', startPoint: prep.baseCommit, mergeBranches: [] });
    const main = git(repo, 'rev-parse', 'main');
    // An agent (without a sandbox) points its worktree, and the mission worktree, at the user's main.
    git(f.worktree, 'symbolic-ref', 'HEAD', 'refs/heads/main');
    git(prep.worktree, 'symbolic-ref', 'HEAD', 'refs/heads/main');
    writeFileSync(path.join(f.worktree, 'evil.txt'), 'x');
    const failures = await Promise.all([
      acts.commitWork({ repo, workdir: f.worktree, message: 'work', step: 's', since: f.startCommit }),
      acts.mergeFeature({ repo, worktree: prep.worktree, branch: f.branch, message: 'merge', step: 'm' }),
      acts.commitMilestone({ repo, worktree: prep.worktree, message: 'milestone', step: 'ms', since: prep.baseCommit }),
    ].map((p) => p.then(() => undefined, (e: unknown) => e as ApplicationFailure)));
    for (const err of failures) {
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err!.type).toBe('REPO_TAMPERED');
      expect(err!.message).toMatch(/is on refs\/heads\/main, not on a mission branch/);
    }
    expect(git(repo, 'rev-parse', 'main')).toBe(main);
  });
});
