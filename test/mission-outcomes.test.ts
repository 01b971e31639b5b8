import { readFileSync } from 'node:fs';
import { statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { cli, onHarness, spawnCli } from './support/cli-process';
import { useHarness } from './support/harness';
import { makeRepo } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';

const h = useHarness('outcomes');

async function listedPhase(id: string): Promise<string | undefined> {
  for (let i = 0; i < 50; i++) {
    const rows = JSON.parse((await cli(['list', '--json', '--query', `WorkflowId = '${id}'`], onHarness(h))).stdout) as { phase?: string; status: string }[];
    if (rows[0]?.status === 'COMPLETED' && rows[0].phase) return rows[0].phase;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

test('a feature that never finishes and one that is blocked: completed-with-issues everywhere, both unresolved, a contradicting narrative flagged, exit 3', async () => {
  const repo = makeRepo({ 'src/calc.js': 'exports.add = (a, b) => a + b;\n' });
  h.model.script('plan', [
    planReply(
      makePlan(
        [
          {
            id: 'm1',
            features: [
              { id: 'mul', title: 'Add mul', files: ['src/calc.js'], acceptanceCriteria: ['calc.js exports mul(a, b)'] },
              { id: 'mul-test', title: 'Test for mul', files: ['test/mul.test.js'], acceptanceCriteria: ['test/mul.test.js tests mul', 'the test passes'] },
            ],
          },
        ],
        'Multiplication',
      ),
    ),
  ]);
  // Never calls finish: stops at its 2-turn budget with a commit.
  h.model.script('feature mul', [tools(call('write_file', { path: 'src/calc.js', content: 'export const mul = (a, b) => a * b;\n' })), { content: 'Let me think about the test.' }]);
  h.model.script('feature mul-test', [finish('cannot run node:test here', 'blocked')]);
  // The narrative the issue saw: success over unfinished work.
  h.model.script('report', [{ content: 'Added mul(a, b) to src/calc.js. A node:test test for it was written and verified.' }]);

  const id = `outcomes-issues-${Date.now()}`;
  const run = spawnCli(['run', 'Add a mul(a, b) function and a test', '--repo', repo, '--id', id, '--no-require-plan-approval', '--budget.max-turns-per-feature', '2'], onHarness(h));
  run.child.stdin!.end();
  expect(await run.exited).toBe(3);
  expect(run.stdout()).toMatch(/# Mission report: Multiplication[\s\S]*\*\*Outcome:\*\* completed-with-issues \(2 unresolved: see below\)/);

  const handle = h.client.workflow.getHandle(id);
  const result = (await handle.result()) as MissionReport;
  expect(result.outcome).toBe('completed-with-issues');
  expect((await handle.query(statusQuery)).phase).toBe('completed-with-issues');
  const [mul, mulTest] = result.milestones[0]!.features;
  expect(result.unresolved).toEqual([
    expect.objectContaining({ kind: 'feature', name: 'mul', state: 'incomplete', commit: mul!.commit, merged: true, files: ['src/calc.js'], notConfirmed: ['calc.js exports mul(a, b)'] }),
    expect.objectContaining({ kind: 'feature', name: 'mul-test', state: 'blocked', did: 'cannot run node:test here', commit: null, notConfirmed: ['test/mul.test.js tests mul', 'the test passes'] }),
  ]);
  expect(mulTest!.state).toBe('blocked');

  // The model got the facts as plain lines before writing, and what it wrote is flagged where it contradicts them.
  const brief = String(h.model.requestsFor('report')[0]!.body.messages[1]!.content);
  expect(brief).toContain('- feature mul "Add mul": incomplete');
  expect(brief).toContain('Unresolved (2):');
  expect(result.narrativeFlags).toEqual([
    { sentence: 'Added mul(a, b) to src/calc.js.', reason: 'claims success for mul (incomplete)' },
    { sentence: 'A node:test test for it was written and verified.', reason: 'claims success for the whole, but 2 item(s) are unresolved: mul (incomplete), mul-test (blocked)' },
    { sentence: '', reason: 'does not mention the 2 unresolved item(s): mul (incomplete), mul-test (blocked)' },
  ]);
  const md = readFileSync(result.reportPath!, 'utf8');
  expect(md).toContain('## Narrative (written by the model, not checked)\n\n> **Warning: this narrative contradicts the facts above; trust the facts.**');
  expect(md).toContain('- m1 feature **mul-test**: blocked: cannot run node:test here; no commit; acceptance criteria not confirmed: test/mul.test.js tests mul; the test passes');

  // The search attribute, `mission list` and `mission watch` say it too; watch exits non-zero.
  expect(await listedPhase(id)).toBe('completed-with-issues');
  const watched = await cli(['watch', id], onHarness(h));
  expect(watched.code).toBe(3);
  expect(watched.stdout).toMatch(new RegExp(`^${id}: completed-with-issues · \\d+ tokens · unknown \\(no price for the model\\)\\n {2}m1 done`));
}, 120_000);

test('plan criteria are checked: by the command they name, else by one validator call; "not met" makes the mission completed-with-issues', async () => {
  const repo = makeRepo();
  const criteria = ['check passes', 'calc.js exports mul', 'the README documents mul'];
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', validation: criteria, features: [{ id: 'mul', files: ['calc.js'] }] }]))]);
  h.model.script('feature mul', writesFiles({ 'calc.js': 'exports.mul = (a, b) => a * b;\n' }));
  // The validator sees only the criteria no command settles, numbered from 1.
  h.model.script('validator m1', [
    { content: '```json\n{"criteria":[{"index":1,"verdict":"met","reason":"calc.js exports mul in the diff"},{"index":2,"verdict":"not met","reason":"the diff does not touch a README"}]}\n```' },
  ]);
  const handle = await h.start({ prompt: 'Add mul', repo, requirePlanApproval: false, validation: { commands: [{ name: 'check', run: 'test -f calc.js' }] } });
  const result = await handle.result();

  expect(result.milestones[0]!.validation!.checks).toEqual([
    { criterion: 'check passes', verdict: 'met', by: 'command', reason: '`test -f calc.js` exited 0' },
    { criterion: 'calc.js exports mul', verdict: 'met', by: 'validator', reason: 'calc.js exports mul in the diff' },
    { criterion: 'the README documents mul', verdict: 'not-met', by: 'validator', reason: 'the diff does not touch a README' },
  ]);
  expect(result.outcome).toBe('completed-with-issues');
  expect(result.unresolved).toEqual([{ milestoneId: 'm1', kind: 'criterion', name: 'the README documents mul', detail: 'not met (validator): the diff does not touch a README' }]);
  // One model call, given the open criteria, the command results and the diff; its tokens counted by role.
  const [asked] = h.model.requestsFor('validator m1');
  const brief = String(asked!.body.messages[1]!.content);
  expect(brief).toMatch(/^Role: validator m1\n/);
  expect(brief).toContain('1. calc.js exports mul\n2. the README documents mul');
  expect(brief).toContain('+exports.mul = (a, b) => a * b;');
  expect(brief).toContain('- check (`test -f calc.js`): exit 0');
  expect(result.tokensByRole.validator!.total).toBe(asked!.usage!.total_tokens);
  expect(result.tokens.total).toBe(h.model.requests.reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0));
  expect(readFileSync(result.reportPath!, 'utf8')).toContain('- the README documents mul — **not-met** (validator): the diff does not touch a README');
});

test('criteria the validator finds met, or cannot judge, leave a finished mission completed', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', validation: ['mul exists', 'mul is fast'], features: [{ id: 'mul', files: ['calc.js'] }] }]))]);
  h.model.script('feature mul', writesFiles({ 'calc.js': 'exports.mul = (a, b) => a * b;\n' }));
  h.model.script('validator m1', [{ content: '{"criteria":[{"index":1,"verdict":"met","reason":"in the diff"},{"index":2,"verdict":"unknown","reason":"nothing measures speed"}]}' }]);
  const handle = await h.start({ prompt: 'Add mul', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.milestones[0]!.validation).toMatchObject({ status: 'not-validated', checks: [{ verdict: 'met' }, { verdict: 'unknown', reason: 'nothing measures speed' }] });
  expect(result).toMatchObject({ outcome: 'completed', unresolved: [], narrativeFlags: [] });
});

test('a validator that cannot answer leaves the criteria not checked, and the mission goes on', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', validation: ['mul exists'], features: [{ id: 'mul', files: ['calc.js'] }] }]))]);
  h.model.script('feature mul', writesFiles({ 'calc.js': 'exports.mul = (a, b) => a * b;\n' }));
  h.model.script('validator m1', [{ status: 400, message: 'the request is too large for this model' }]);
  const handle = await h.start({ prompt: 'Add mul', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.milestones[0]!.validation!.checks).toEqual([
    { criterion: 'mul exists', verdict: 'not-checked', by: 'none', reason: expect.stringMatching(/^the validator could not be asked: .*HTTP 400.*too large/) },
  ]);
  expect(result.outcome).toBe('completed');
  expect(readFileSync(result.reportPath!, 'utf8')).toContain('- mul exists — **not-checked**: the validator could not be asked');
});
