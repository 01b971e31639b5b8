import { useHarness } from './support/harness';
import { branches, git, makeRepo, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';

const h = useHarness('integration');

const conflicting = () => {
  // Files not declared, so both run in parallel; both rewrite the same line.
  h.model.script('plan', [
    planReply(makePlan([{ id: 'm1', features: [{ id: 'left', description: 'Say left' }, { id: 'right', description: 'Say right' }] }])),
  ]);
  h.model.script('feature left', writesFiles({ 'shared.txt': 'left\n' }));
  h.model.script('feature right', writesFiles({ 'shared.txt': 'right\n' }));
};

test('two features editing the same lines: the integration agent resolves the conflict and both are merged', async () => {
  const repo = makeRepo({ 'shared.txt': 'base\n' });
  conflicting();
  h.model.script('integration', [tools(call('read_file', { path: 'shared.txt' })), ...writesFiles({ 'shared.txt': 'left and right\n' }, 'kept both')]);
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true });
  const result = await handle.result();

  const [left, right] = result.milestones[0]!.features;
  expect(left!.merge).toMatchObject({ state: 'merged' });
  expect(right!.merge).toMatchObject({ state: 'merged', resolvedBy: 'integration-agent' });
  expect(treeAt(repo, result.branch!)['shared.txt']).toBe('left and right');
  expect(branches(repo)).toEqual(['main', `mission/${handle.workflowId}`]);
  // The agent saw the conflicted file with its markers, and both features' descriptions.
  const [first, second] = h.model.requestsFor('integration');
  const brief = String(first!.body.messages[1]!.content);
  expect(brief).toMatch(/^Role: integration\n/);
  expect(brief).toContain('- shared.txt');
  expect(brief).toContain('Say right');
  expect(brief).toContain('Say left');
  expect(JSON.stringify(second!.body.messages)).toMatch(/<<<<<<< HEAD/);
  expect(result.tokensByRole.integration!.total).toBeGreaterThan(0);
});

test('a conflict the integration agent cannot resolve is aborted and recorded; the feature branch is kept', async () => {
  const repo = makeRepo({ 'shared.txt': 'base\n' });
  conflicting();
  h.model.script('integration', [finish('left and right contradict each other', 'blocked')]);
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true });
  const result = await handle.result();

  const [left, right] = result.milestones[0]!.features;
  expect(left!.merge).toMatchObject({ state: 'merged' });
  expect(right!.merge).toMatchObject({ state: 'conflict', conflictFiles: ['shared.txt'], note: expect.stringMatching(/branch mission\/.*-right kept/) });
  expect(treeAt(repo, result.branch!)['shared.txt']).toBe('left');
  expect(treeAt(repo, right!.branch!)['shared.txt']).toBe('right');
  expect(branches(repo)).toEqual(['main', `mission/${handle.workflowId}`, `mission/${handle.workflowId}-right`]);
  expect(git(result.worktree!, 'status', '--porcelain')).toBe('');
});

const calculator = {
  'package.json': JSON.stringify({ name: 'calc', version: '1.0.0', scripts: { test: 'node test.js' } }),
  'test.js': "const { add } = require('./math');\nif (add(2, 3) !== 5) { console.error(`add(2, 3) = ${add(2, 3)}, expected 5`); process.exit(1); }\nconsole.log('ok');\n",
  'math.js': 'exports.add = () => 0;\n',
};

test('a real failing test command is fixed by the repair agent and passes on revalidation', async () => {
  const repo = makeRepo(calculator);
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', validation: ['npm test passes'], features: [{ id: 'add', files: ['math.js'] }] }]))]);
  h.model.script('feature add', writesFiles({ 'math.js': 'exports.add = (a, b) => a - b;\n' }));
  h.model.script('repair m1', [
    { ...tools(call('edit_file', { path: 'math.js', old_string: 'a - b', new_string: 'a + b' })), delayMs: 1500 },
    tools(call('run_command', { command: 'npm test' })),
    finish('add used subtraction'),
  ]);
  const handle = await h.start({ prompt: 'Add numbers', repo, requirePlanApproval: false, validation: { browser: 'echo walkthrough ok' } });
  // The status shows the repair live, with the failed first run.
  const live = await h.waitFor(handle, (s) => s.phase === 'repairing');
  expect(live.milestones[0]).toMatchObject({ state: 'repairing', validation: { runs: [{ attempt: 'initial', passed: false }] } });
  const result = await handle.result();

  const validation = result.milestones[0]!.validation!;
  expect(validation).toMatchObject({ status: 'repaired', source: 'discovered', criteria: ['npm test passes'], unresolved: [] });
  expect(validation.runs.map((r) => [r.attempt, r.passed])).toEqual([['initial', false], ['after-repair', true]]);
  const [before, after] = validation.runs;
  expect(before!.results.map((r) => [r.name, r.exitCode])).toEqual([['npm test', 1], ['browser walkthrough', 0]]);
  expect(before!.results[0]).toMatchObject({ command: expect.stringMatching(/; node test\.js$/), outputTail: expect.stringContaining('add(2, 3) = -1, expected 5') });
  expect(after!.results[1]!.outputTail).toBe('walkthrough ok\n');
  expect(validation.repair).toMatchObject({ state: 'done', summary: 'add used subtraction', commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
  expect(treeAt(repo, result.branch!)['math.js']).toBe('exports.add = (a, b) => a + b;');
  expect(git(repo, 'log', '-1', '--format=%s', validation.repair!.commit!)).toBe('Repair m1: fix failing validation');
  // The repair agent was shown the failing command and its output.
  const brief = String(h.model.requestsFor('repair m1')[0]!.body.messages[1]!.content);
  expect(brief).toMatch(/^Role: repair m1\n/);
  expect(brief).toContain('add(2, 3) = -1, expected 5');
});

test('a repair that does not fix it: the failure is unresolved, the hanging check is killed, the mission goes on', async () => {
  const repo = makeRepo({ 'check.sh': 'test ! -f broken.txt\n' });
  h.model.script('plan', [
    planReply(makePlan([
      { id: 'm1', features: [{ id: 'breaks' }] },
      { id: 'm2', features: [{ id: 'mends' }] },
    ])),
  ]);
  h.model.script('feature breaks', writesFiles({ 'broken.txt': 'oops' }));
  h.model.script('repair m1', [finish('cannot see the problem', 'blocked')]);
  h.model.script('feature mends', [tools(call('run_command', { command: 'rm broken.txt' })), finish('removed it')]);
  const validation = {
    commands: [
      { name: 'check', run: 'sh check.sh' },
      { name: 'hang', run: 'if [ -f broken.txt ]; then sleep 300; fi', timeoutSec: 1 },
    ],
  };
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, validation });
  const result = await handle.result();

  const [m1, m2] = result.milestones;
  expect(m1!.validation).toMatchObject({ status: 'failed', source: 'input', unresolved: ['check', 'hang'], repair: { state: 'blocked' } });
  expect(m1!.validation!.runs[1]!.results[1]).toMatchObject({ name: 'hang', timedOut: true });
  expect(m1!.validation!.runs[0]!.results.map((r) => r.name)).toEqual(['check', 'hang']); // no browser walkthrough unless configured
  expect(m1!.validation!.runs[1]!.results[1]!.durationMs).toBeLessThan(10_000);
  expect(m1!.state).toBe('done');
  expect(m2!.validation).toMatchObject({ status: 'passed', unresolved: [] });
  // It ran to the end, but m1's checks are still red: not `completed`.
  expect(result.outcome).toBe('completed-with-issues');
  expect(result.unresolved.map((u) => [u.milestoneId, u.kind, u.name])).toEqual([['m1', 'validation', 'check'], ['m1', 'validation', 'hang']]);
});

test('a repository with nothing to validate says so instead of pretending to pass', async () => {
  const repo = makeRepo({ 'README.md': 'docs only\n' });
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'doc' }] }]))]);
  h.model.script('feature doc', writesFiles({ 'guide.md': 'guide' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.milestones[0]!.validation).toMatchObject({ status: 'not-validated', source: 'none', runs: [] });
  expect(result.milestones[0]!.validation!.notes[0]).toMatch(/no validation command found/);
});
