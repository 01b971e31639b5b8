import { existsSync } from 'node:fs';
import path from 'node:path';
import { useHarness } from './support/harness';
import { git, makeRepo, treeAt } from './support/repo';
import { call, makePlan, planReply, tools, writesFiles } from './support/scripts';

// With the sandbox the tampering never happens (the sandbox escape suite shows that); this is the layer that remains
// on a worker that opted out (MISSION_SANDBOX=off), so the check is tested there.
const h = useHarness('tamper', { sandbox: { mode: 'off' } });

/**
 * Issue 12, item 3, end to end: a real feature agent (scripted model, real tools, real git) whose command moves the
 * user's main and plants a hook fails with REPO_TAMPERED naming both; the mission records the feature as failed and
 * goes on with the others; the planted hook never runs in Mission's own commits and merges.
 */
test('an agent command that commits on the user main and plants a hook fails that feature with REPO_TAMPERED; the mission goes on', async () => {
  const repo = makeRepo({ 'README.md': '# r\n' });
  const main = git(repo, 'rev-parse', 'main');
  const marker = path.join(path.dirname(repo), `${path.basename(repo)}-hook-ran`);
  const attack = `git -C "${repo}" commit -q --allow-empty -m evil && printf '#!/bin/sh\\ntouch ${marker}\\n' > "${repo}/.git/hooks/post-commit" && chmod +x "${repo}/.git/hooks/post-commit"`;
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'evil', files: ['e.txt'] }, { id: 'good', files: ['g.txt'] }] }]))]);
  h.model.script('feature evil', [tools(call('run_command', { command: attack }))]);
  h.model.script('feature good', writesFiles({ 'g.txt': 'good work' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 1 });
  const result = await handle.result();

  const [evil, good] = result.milestones[0]!.features;
  expect(evil).toMatchObject({ id: 'evil', state: 'failed' });
  expect(evil!.summary).toMatch(/REPO_TAMPERED|changed the user's repository/);
  expect(evil!.summary).toMatch(/ref refs\/heads\/main moved from/);
  expect(evil!.summary).toMatch(/\.git\/hooks\/post-commit was added/);
  expect(good).toMatchObject({ id: 'good', state: 'done', merge: { state: 'merged' } });
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'g.txt': 'good work' });
  // The evil agent got no further turn, and the hook it planted ran in none of Mission's commits and merges.
  expect(h.model.requestsFor('feature evil')).toHaveLength(1);
  expect(existsSync(marker)).toBe(false);
  expect(git(repo, 'rev-parse', 'main~1')).toBe(main);
}, 90_000);
