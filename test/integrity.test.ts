import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createAgentActivities } from '../src/activities/agent';
import { Sandbox } from '../src/activities/sandbox';
import { createGitActivities } from '../src/activities/git';
import { assertUnchanged, snapshotRepo, type SnapshotScope } from '../src/activities/integrity';
import { MissionPaths } from '../src/activities/paths';
import { newSession, saveSession } from '../src/activities/session';
import { git, makeRepo, tempDir } from './support/repo';

/** Issue 12, item 3: after each agent command Mission checks that the user's repository is as it was. */
async function setup() {
  const repo = makeRepo({ 'README.md': '# r\n', 'src/a.ts': 'export const a = 1;\n' });
  const paths = new MissionPaths(tempDir('mission-home-'));
  const acts = createGitActivities({ paths });
  const prep = await acts.prepareMission({ missionId: 'tamper', missionKey: 'tamper', runId: 'r1', repo, baseBranch: 'main' });
  const feature = await acts.createFeatureWorktree({ repo, missionKey: 'tamper', featureId: 'f1', startPoint: prep.baseCommit, mergeBranches: [] });
  const other = await acts.createFeatureWorktree({ repo, missionKey: 'tamper', featureId: 'f2', startPoint: prep.baseCommit, mergeBranches: [] });
  const scope: SnapshotScope = { repo, workdir: feature.worktree, missionKey: 'tamper', branch: feature.branch };
  return { repo, paths, acts, prep, feature, other, scope };
}

async function tampered(scope: SnapshotScope, change: () => void): Promise<string> {
  const before = await snapshotRepo(scope);
  change();
  const after = await snapshotRepo(scope);
  try {
    assertUnchanged(scope.repo, before, after, 'the test step');
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('REPO_TAMPERED');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    return (err as ApplicationFailure).message;
  }
  return 'unchanged';
}

describe('the after-step check of the user repository', () => {
  it('names each kind of change: branches, HEAD, config, hooks, info/attributes, the checkout, the agent branch', async () => {
    const { repo, feature, scope } = await setup();
    const main = git(repo, 'rev-parse', 'main');
    expect(await tampered(scope, () => git(repo, 'commit', '-q', '--allow-empty', '-m', 'evil'))).toMatch(/ref refs\/heads\/main moved from [0-9a-f]{8} to [0-9a-f]{8}/);
    expect(await tampered(scope, () => git(repo, 'update-ref', 'refs/heads/main', main))).toMatch(/refs\/heads\/main moved/);
    expect(await tampered(scope, () => git(repo, 'tag', 'v-evil'))).toMatch(/ref refs\/tags\/v-evil was created/);
    expect(await tampered(scope, () => git(repo, 'symbolic-ref', 'HEAD', 'refs/heads/other'))).toMatch(/HEAD of the user's checkout changed from "ref: refs\/heads\/main" to "ref: refs\/heads\/other"/);
    git(repo, 'symbolic-ref', 'HEAD', 'refs/heads/main');
    expect(await tampered(scope, () => writeFileSync(path.join(repo, '.git', 'hooks', 'post-commit'), '#!/bin/sh\nid\n', { mode: 0o755 }))).toMatch(/\.git\/hooks\/post-commit was added/);
    expect(await tampered(scope, () => git(repo, 'config', 'core.fsmonitor', 'touch /tmp/pwned'))).toMatch(/git config gained core\.fsmonitor=touch \/tmp\/pwned \(file:.*config\)/);
    expect(await tampered(scope, () => appendFileSync(path.join(repo, '.git', 'info', 'attributes'), '* filter=evil\n'))).toMatch(/\.git\/info\/attributes was added/);
    expect(await tampered(scope, () => writeFileSync(path.join(repo, 'src/a.ts'), 'evil\n'))).toMatch(/the user's checkout: src\/a\.ts was written \(clean -> \.M /);
    expect(await tampered(scope, () => writeFileSync(path.join(repo, 'src/a.ts'), 'evil, again\n'))).toMatch(/src\/a\.ts was written \(\.M \d+b/);
    expect(await tampered(scope, () => writeFileSync(path.join(repo, 'src/new.ts'), 'x\n'))).toMatch(/src\/new\.ts was written \(clean -> \?\?/);
    // The agent's own branch and worktree HEAD: only Mission commits there.
    expect(await tampered(scope, () => git(feature.worktree, 'commit', '-q', '--allow-empty', '-m', 'agent commit'))).toMatch(
      new RegExp(`ref refs/heads/${feature.branch} moved.*the agent's worktree HEAD changed`),
    );
    expect(await tampered(scope, () => git(feature.worktree, 'checkout', '-q', '-b', 'elsewhere'))).toMatch(/worktree HEAD changed from refs\/heads\/mission\/tamper-f1 at [0-9a-f]+ to refs\/heads\/elsewhere/);
  });

  it("names another worktree switched to the user's branch (Mission would then commit that feature's work on it)", async () => {
    const { other, scope } = await setup();
    expect(await tampered(scope, () => git(other.worktree, 'symbolic-ref', 'HEAD', 'refs/heads/main'))).toMatch(
      new RegExp(`worktree ${other.worktree} was switched from refs/heads/mission/tamper-f2 to refs/heads/main`),
    );
  });

  it("does not blame an agent for Mission's own steps: other features' commits, merges and worktrees", async () => {
    const { repo, acts, prep, other, scope } = await setup();
    expect(
      await tampered(scope, () => {
        git(other.worktree, 'commit', '-q', '--allow-empty', '-m', 'other feature');
        git(prep.worktree, 'merge', '-q', '--no-ff', '-m', 'merge', other.branch);
        git(repo, 'worktree', 'add', '-q', '-b', 'mission/tamper-f3', path.join(tempDir('wt-'), 'f3'));
      }),
    ).toBe('unchanged');
    // Nor for the user's own uncommitted work that stays as it was.
    writeFileSync(path.join(repo, 'README.md'), 'user edit\n');
    expect(await tampered(scope, () => undefined)).toBe('unchanged');
    await acts.currentHead({ worktree: prep.worktree });
  });
});

describe('runTool fails the agent step that tampered with the repository', () => {
  async function runCommand(command: string) {
    const ctx = await setup();
    const acts = createAgentActivities({ paths: ctx.paths, sandbox: new Sandbox({ mode: 'off', missionHome: ctx.paths.home, env: { PATH: process.env.PATH } }) }) // the check is the layer that remains with MISSION_SANDBOX=off;
    const session = { missionKey: 'tamper', name: 'f1' };
    const messages = [
      { role: 'user' as const, content: 'Role: feature f1' },
      { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c1', type: 'function' as const, function: { name: 'run_command', arguments: JSON.stringify({ command: command.replaceAll('$REPO', ctx.repo) }) } }] },
    ];
    await saveSession(ctx.paths.sessionFile('tamper', 'f1'), newSession(messages));
    const result = await acts.runTool({ session, callId: 'c1', workdir: ctx.feature.worktree, repo: ctx.repo, branch: ctx.feature.branch }).then(
      (r) => r,
      (e: unknown) => e as ApplicationFailure,
    );
    return { ...ctx, result };
  }

  it.each([
    ['moves the user main', 'git -C "$REPO" commit -q --allow-empty -m evil', /refs\/heads\/main moved/],
    ['adds a hook', 'printf "#!/bin/sh\\nid\\n" > "$REPO/.git/hooks/pre-push"', /\.git\/hooks\/pre-push was added/],
    ['edits .git/config', 'git -C "$REPO" config core.fsmonitor "touch /tmp/x"', /git config gained core\.fsmonitor/],
    ['writes into the user checkout', 'echo evil > "$REPO/README.md"', /the user's checkout: README\.md was written/],
  ])('a command that %s fails with REPO_TAMPERED naming it', async (_what, command, expected) => {
    const { result } = await runCommand(command);
    expect(result).toBeInstanceOf(ApplicationFailure);
    expect((result as ApplicationFailure).type).toBe('REPO_TAMPERED');
    expect((result as ApplicationFailure).message).toMatch(expected);
    expect((result as ApplicationFailure).message).toMatch(/the agent's command \(run_command /);
  });

  it('a command that only works in its worktree passes', async () => {
    const { result } = await runCommand('echo hi > notes.txt && git status --short');
    expect(result).toMatchObject({ ok: true, label: expect.stringMatching(/^run_command echo hi/) });
  });
});
