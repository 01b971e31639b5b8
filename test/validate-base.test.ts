import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MissionPaths } from '../src/activities/paths';
import { createValidationActivities } from '../src/activities/validate';
import { git, makeRepo, tempDir, writeFiles } from './support/repo';

/**
 * Issue 12, item 5: agents cannot weaken their own checks. Validation commands come from the mission input or the
 * BASE commit's .mission/config.json, and discovery reads the base commit's build files, whatever the agents did to
 * the tree they edited.
 */
const acts = createValidationActivities({ paths: new MissionPaths(tempDir('mission-home-')), env: { PATH: process.env.PATH } });

/** A repository at its base commit, then the agents' edits committed on top (as on a mission branch). */
function editedRepo(base: Record<string, string>, edits: Record<string, string>) {
  const repo = makeRepo(base);
  const baseCommit = git(repo, 'rev-parse', 'HEAD');
  writeFiles(repo, edits);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'agent edits');
  return { repo, baseCommit, worktree: repo };
}

describe('validation from the base commit', () => {
  it(".mission/config.json comes from the base commit, not from the agents' rewrite", async () => {
    const config = (run: string) => JSON.stringify({ validation: { commands: [{ name: 'check', run }] } });
    const { repo, baseCommit, worktree } = editedRepo({ '.mission/config.json': config('./check.sh') }, { '.mission/config.json': config('true'), 'check.sh': 'exit 0' });
    const plan = await acts.discoverValidation({ worktree, repo, baseCommit, configured: {} });
    expect(plan).toMatchObject({ source: 'config', commands: [{ name: 'check', run: './check.sh' }] });
    expect(plan.notes.join(' ')).toMatch(new RegExp(`base commit ${baseCommit.slice(0, 8)}`));
  });

  it("a config added by the agents is ignored; discovery reads the base commit's package.json and Makefile", async () => {
    const { repo, baseCommit, worktree } = editedRepo(
      { 'package.json': JSON.stringify({ scripts: { test: 'node test.js' } }), Makefile: 'build:\n\techo build\n' },
      {
        '.mission/config.json': JSON.stringify({ validation: { commands: [{ name: 'ok', run: 'true' }] } }),
        'package.json': JSON.stringify({ scripts: { test: 'exit 0', lint: 'true' } }),
        Makefile: 'build:\n\ttrue\ntest:\n\ttrue\n',
      },
    );
    const plan = await acts.discoverValidation({ worktree, repo, baseCommit, configured: {} });
    expect(plan.source).toBe('discovered');
    expect(plan.commands.map((c) => c.name)).toEqual(['npm test', 'make build']);
  });

  it("runs the base commit's script text, so an agent that rewrote scripts.test to `exit 0` still gets the real test", async () => {
    const { repo, baseCommit, worktree } = editedRepo(
      {
        'package.json': JSON.stringify({ scripts: { pretest: 'echo pre > pre.log', test: 'node test.js && fake-bin', posttest: 'echo post' } }),
        'test.js': 'console.log("real test ran"); process.exit(0);\n',
        'node_modules/.bin/fake-bin': '#!/bin/sh\necho "bin from node_modules"\nexit 3\n',
      },
      { 'package.json': JSON.stringify({ scripts: { test: 'exit 0' } }) },
    );
    git(repo, 'update-index', '--chmod=+x', 'node_modules/.bin/fake-bin');
    chmodSync(path.join(repo, 'node_modules/.bin/fake-bin'), 0o755);
    const plan = await acts.discoverValidation({ worktree, repo, baseCommit, configured: {} });
    const step = plan.commands.find((c) => c.name === 'npm test')!;
    expect(step.run).toContain('node test.js && fake-bin');
    const result = await acts.runValidationCommand({ missionKey: 'k', worktree, step });
    expect(result.outputTail).toMatch(/real test ran\nbin from node_modules\n/);
    expect(result.exitCode).toBe(3);
    expect(readFileSync(path.join(repo, 'pre.log'), 'utf8')).toBe('pre\n');
  });
});
