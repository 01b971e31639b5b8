import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { approvePlanSignal, rejectPlanSignal } from '../src/api/messages';
import { formatDuration, type MissionReport } from '../src/api/report';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { makeRepo } from './support/repo';
import { finish, makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('report');

const short = (sha?: string | null) => (sha ? sha.slice(0, 8) : '—');

test('the Markdown report of a full mission says what its JSON says', async () => {
  const repo = makeRepo({ 'shared.txt': 'base\n', 'check.sh': 'test ! -f broken.txt\n' });
  h.model.script('plan', [
    planReply(
      makePlan(
        [
          { id: 'm1', title: 'First steps', validation: ['check passes'], features: [{ id: 'left' }, { id: 'right' }] },
          { id: 'm2', title: 'Second steps', features: [{ id: 'breaks', files: ['broken.txt'] }] },
        ],
        'Reported mission',
      ),
    ),
  ]);
  h.model.script('feature left', writesFiles({ 'shared.txt': 'left\n' }, 'wrote left'));
  h.model.script('feature right', writesFiles({ 'shared.txt': 'right\n' }, 'wrote right'));
  h.model.script('integration', [finish('cannot reconcile', 'blocked')]);
  h.model.script('feature breaks', writesFiles({ 'broken.txt': 'x' }, 'broke it'));
  h.model.script('repair m2', [finish('no idea', 'blocked')]);
  h.model.script('report', [{ content: 'Two milestones ran; one conflict and one failing check remain.' }]);

  const handle = await h.start({ prompt: 'Report on me', repo, useWorktrees: true, validation: { commands: [{ name: 'check', run: 'sh check.sh' }] } });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await handle.signal(approvePlanSignal, {});
  const result = await handle.result();

  expect(result.schemaVersion).toBe(1);
  expect(result.reportPath).toBe(path.join(h.home, 'reports', `${handle.workflowId}.md`));
  const json = JSON.parse(readFileSync(result.reportPath!.replace(/\.md$/, '.json'), 'utf8')) as MissionReport;
  expect(json).toEqual(result);
  expect(result.narrative).toBe('Two milestones ran; one conflict and one failing check remain.');
  expect(result.outcome).toBe('completed-with-issues');
  expect(result.unresolved).toEqual([
    expect.objectContaining({ milestoneId: 'm1', kind: 'unmerged', name: 'right', detail: `not merged (conflict in shared.txt); work kept on mission/${handle.workflowId}-right`, merged: false, files: ['shared.txt'] }),
    { milestoneId: 'm2', kind: 'validation', name: 'check', detail: '`check` still fails after repair' },
  ]);
  // m1's criterion names the `check` command, which passed there.
  expect(result.milestones[0]!.validation!.checks).toEqual([{ criterion: 'check passes', verdict: 'met', by: 'command', reason: '`sh check.sh` exited 0' }]);
  expect(result.narrativeFlags).toEqual([]); // it names the conflict and the failing check
  expect(result.commits.length).toBeGreaterThanOrEqual(3);
  expect(result.tokensByRole.report!.total).toBeGreaterThan(0);
  expect(result.tokens.total).toBe(h.model.requests.reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0));

  const md = readFileSync(result.reportPath!, 'utf8');
  const lines = md.split('\n');
  expect(lines[0]).toBe('# Mission report: Reported mission');
  expect(md).toContain('- **Outcome:** completed-with-issues (2 unresolved: see below)');
  expect(md).toContain(`- **Branch:** \`${result.branch}\` (base ${short(result.baseCommit)} → final ${short(result.finalCommit)})`);
  expect(md).toContain(`- **Tokens:** ${result.tokens.total.toLocaleString('en-US')}`);
  expect(md).toContain(`## Narrative (written by the model, not checked)\n\n${result.narrative}`);
  expect(md.indexOf('## Unresolved')).toBeLessThan(md.indexOf('## Narrative'));
  for (const u of result.unresolved) expect(md).toContain(`- ${u.milestoneId} ${u.kind} **${u.name}**: ${u.detail}`);
  for (const m of result.milestones) {
    expect(md).toContain(`### ${m.id}: ${m.title} (${m.state}, ${formatDuration(m.durationMs)})`);
    for (const f of m.features) {
      const row = lines.find((l) => l.startsWith(`| ${f.id} |`))!;
      expect(row.split('|').map((c) => c.trim()).slice(1, 5)).toEqual([f.id, f.state, f.merge!.state, short(f.commit)]);
    }
    expect(md).toContain(`**Validation:** ${m.validation!.status} (commands: ${m.validation!.source}`);
    for (const run of m.validation!.runs) for (const c of run.results) expect(md).toContain(`| \`${c.command}\` | ${c.timedOut ? 'timed out' : `exit ${c.exitCode}`} |`);
  }
  expect(md).toContain('- check passes — **met** (command): `sh check.sh` exited 0');
  for (const c of result.commits) expect(md).toContain(`- ${short(c.sha)} ${c.subject}`);
});

test('a rejected mission gets a report saying so', async () => {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f' }] }], 'Unwanted'))]);
  const handle = await h.start({ prompt: 'No thanks', repo: makeRepo() });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await handle.signal(rejectPlanSignal, { reason: 'too risky' });
  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'rejected', rejection: { reason: 'too risky' }, unresolved: [], commits: [] });
  expect(result.narrative).toBeUndefined();
  expect(readFileSync(result.reportPath!, 'utf8')).toContain('- **Outcome:** rejected (too risky)');
  expect(h.model.requestsFor('report')).toHaveLength(0);
});

test('a cancelled mission gets a report saying so', async () => {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f' }] }], 'Cancelled one'))]);
  const handle = await h.start({ prompt: 'Cancel me', repo: makeRepo() });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  await handle.cancel();
  await handle.result().catch(() => undefined);
  const file = path.join(h.home, 'reports', `${handle.workflowId}.md`);
  await h.waitFor(handle, () => existsSync(file));
  expect(readFileSync(file, 'utf8')).toContain('- **Outcome:** cancelled');
});

test('`mission report` prints the Markdown report of a finished mission, and --json its JSON', async () => {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'] }] }], 'Printed'))]);
  h.model.script('feature f', writesFiles({ 'f.txt': 'x' }));
  const handle = await h.start({ prompt: 'Print me', repo: makeRepo(), requirePlanApproval: false });
  const result = await handle.result();

  const markdown = await runCli(h, ['report', handle.workflowId]);
  const json = await runCli(h, ['report', handle.workflowId, '--json']);
  expect([markdown.code, json.code]).toEqual([0, 0]);
  const printed = [markdown.out[0], json.out[0]];
  expect(printed[0]).toBe(readFileSync(result.reportPath!, 'utf8'));
  expect(JSON.parse(printed[1]!)).toEqual(result);
});
