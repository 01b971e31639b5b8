import { createAgentActivities } from '../src/activities/agent';
import { createGitActivities } from '../src/activities/git';
import { snapshotRepo, type SnapshotScope } from '../src/activities/integrity';
import { MissionPaths } from '../src/activities/paths';
import { Sandbox } from '../src/activities/sandbox';
import { newSession, saveSession } from '../src/activities/session';
import { recordFigure } from './figures';
import { percentile, round } from './support';
import { makeRepo, tempDir } from '../test/support/repo';

const N = 20;
const TARGET_MS = 100;

/** Median milliseconds of n runs of fn, one after another. */
async function medianMs(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return percentile(times, 50);
}

/**
 * Figure 8: what the after-command check of the user's repository (src/activities/integrity.ts: refs, HEAD,
 * config, hooks, the checkout) costs, alone and around a run_command, in a small repository laid out as Mission
 * lays it out (mission worktree, two feature worktrees).
 */
test('figure 8: the after-command integrity check', async () => {
  const began = Date.now();
  const repo = makeRepo({ 'README.md': '# r\n', 'src/a.ts': 'export const a = 1;\n' });
  const paths = new MissionPaths(tempDir('mission-home-'));
  const acts = createGitActivities({ paths });
  const prep = await acts.prepareMission({ missionId: 'bench', missionKey: 'bench', runId: 'r1', repo, baseBranch: 'main' });
  const feature = await acts.createFeatureWorktree({ repo, missionKey: 'bench', featureId: 'f1', startPoint: prep.baseCommit, mergeBranches: [] });
  await acts.createFeatureWorktree({ repo, missionKey: 'bench', featureId: 'f2', startPoint: prep.baseCommit, mergeBranches: [] });
  const scope: SnapshotScope = { repo, workdir: feature.worktree, missionKey: 'bench', branch: feature.branch };

  const snapshot = await medianMs(N, () => snapshotRepo(scope));
  const agent = createAgentActivities({ paths, sandbox: new Sandbox({ missionHome: paths.home, env: { PATH: process.env.PATH } }) });
  const calls = Array.from({ length: 2 * N }, (_, i) => ({ id: `c${i}`, type: 'function' as const, function: { name: 'run_command', arguments: JSON.stringify({ command: 'true' }) } }));
  await saveSession(paths.sessionFile('bench', 'cost'), newSession([{ role: 'user', content: 'Role: feature cost' }, { role: 'assistant', content: null, tool_calls: calls }]));
  const session = { missionKey: 'bench', name: 'cost' };
  const unguarded = await medianMs(N, (i) => agent.runTool({ session, callId: `c${i}`, workdir: feature.worktree }));
  const guarded = await medianMs(N, (i) => agent.runTool({ session, callId: `c${i + N}`, workdir: feature.worktree, repo, branch: feature.branch }));

  recordFigure('integrity', {
    n: 8,
    title: 'Integrity check cost',
    how: `median of ${N} snapshots of the user's repository (refs, HEAD, config, hooks, checkout status), and of ${N} run_command \`true\` calls with and without the check around them`,
    rows: [
      { name: 'one snapshot of the user repository', value: `${round(snapshot, 1)} ms`, target: `≤ ${TARGET_MS} ms`, pass: snapshot <= TARGET_MS },
      { name: 'run_command `true`', value: `${round(guarded, 1)} ms with the check, ${round(unguarded, 1)} ms without (+${round(guarded - unguarded, 1)} ms)` },
    ],
    data: { snapshotMs: snapshot, guardedMs: guarded, unguardedMs: unguarded, n: N },
    durationMs: Date.now() - began,
  });
  expect(snapshot).toBeGreaterThan(0);
});
