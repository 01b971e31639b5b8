import { ApplicationFailure, ActivityFailure, CancelledFailure, ChildWorkflowFailure } from '@temporalio/common';
import { failedWithTokens, spentOf } from '../src/api/agent';
import { checkByCommands, commandForCriterion, parseVerdicts } from '../src/api/criteria';
import { failureType, rootFailure } from '../src/api/errors';
import { checkNarrative, sentencesOf } from '../src/api/narrative';
import { decideOutcome, unresolvedOf, type Unresolved } from '../src/api/outcome';
import { renderReport, reportFromStatus } from '../src/api/report';
import type { CommandRun, CriterionCheck, FeatureStatus, MilestoneStatus, MilestoneValidation, MissionStatus } from '../src/api/status';
import { makePlan } from './support/scripts';

const feature = (id: string, patch: Partial<FeatureStatus> = {}): FeatureStatus => ({ id, title: `Feature ${id}`, state: 'done', branch: 'mission/x', commit: 'c'.repeat(40), summary: `did ${id}`, ...patch });
const validation = (patch: Partial<MilestoneValidation> = {}): MilestoneValidation => ({ status: 'passed', source: 'input', notes: [], criteria: [], runs: [], unresolved: [], ...patch });
const milestone = (features: FeatureStatus[], patch: Partial<MilestoneStatus> = {}): MilestoneStatus => ({ id: 'm1', title: 'M1', state: 'done', features, validation: validation(), ...patch });
const check = (verdict: CriterionCheck['verdict']): CriterionCheck => ({ criterion: 'it works', verdict, by: 'validator', reason: 'because' });
const plan = makePlan([{ id: 'm1', features: [{ id: 'a', acceptanceCriteria: ['a exists', 'a is tested'] }, { id: 'b' }] }]);

describe('decideOutcome', () => {
  const cases: [string, MilestoneStatus[], 'completed' | 'completed-with-issues'][] = [
    ['every feature done and merged, validation passed', [milestone([feature('a', { merge: { state: 'merged' } }), feature('b')])], 'completed'],
    ['validation repaired', [milestone([feature('a')], { validation: validation({ status: 'repaired' }) })], 'completed'],
    ['nothing to validate', [milestone([feature('a')], { validation: validation({ status: 'not-validated', source: 'none' }) })], 'completed'],
    // A real 1.5B model called finish(done) claiming work it never wrote (bench/real-model-results.md, run 5).
    ['a feature that says done but changed no file', [milestone([feature('a', { commit: null, merge: { state: 'nothing-to-merge' } })])], 'completed-with-issues'],
    ['criteria met, unknown or not checked', [milestone([feature('a')], { validation: validation({ checks: [check('met'), check('unknown'), check('not-checked')] }) })], 'completed'],
    ['a feature stopped at its turn budget', [milestone([feature('a', { state: 'incomplete' }), feature('b')])], 'completed-with-issues'],
    ['a blocked feature', [milestone([feature('a', { state: 'blocked' })])], 'completed-with-issues'],
    ['a failed feature', [milestone([feature('a', { state: 'failed', commit: null })])], 'completed-with-issues'],
    ['a done feature left unmerged', [milestone([feature('a', { merge: { state: 'conflict', conflictFiles: ['x'] } })])], 'completed-with-issues'],
    ['validation still failing after repair', [milestone([feature('a')], { validation: validation({ status: 'failed', unresolved: ['test'] }) })], 'completed-with-issues'],
    ['a criterion not met', [milestone([feature('a')], { validation: validation({ checks: [check('met'), check('not-met')] }) })], 'completed-with-issues'],
    ['a milestone that did not finish', [milestone([feature('a')], { state: 'validating' })], 'completed-with-issues'],
    ['an issue in the second milestone only', [milestone([feature('a')]), milestone([feature('b', { state: 'incomplete' })], { id: 'm2' })], 'completed-with-issues'],
  ];
  it.each(cases)('%s', (_, milestones, expected) => {
    expect(decideOutcome(milestones, plan)).toBe(expected);
  });
});

describe('unresolvedOf', () => {
  it('lists an unfinished feature with what it did, where that is, and the acceptance criteria nobody confirmed', () => {
    const [item] = unresolvedOf([milestone([feature('a', { state: 'incomplete', summary: 'stopped at the turn budget (3 turns) without calling finish', branch: 'mission/k-a', merge: { state: 'merged' } }), feature('b')])], plan);
    expect(item).toMatchObject({ milestoneId: 'm1', kind: 'feature', name: 'a', state: 'incomplete', commit: 'c'.repeat(40), branch: 'mission/k-a', merged: true, notConfirmed: ['a exists', 'a is tested'] });
    expect(item!.detail).toBe('incomplete: stopped at the turn budget (3 turns) without calling finish; commit cccccccc on mission/k-a (merged); acceptance criteria not confirmed: a exists; a is tested');
  });

  it('lists a failed feature once (not also as unmerged), and a blocked one without a commit', () => {
    const items = unresolvedOf([milestone([feature('a', { state: 'failed', summary: 'boom', commit: null, merge: { state: 'conflict', note: 'agent failed' } }), feature('b', { state: 'blocked', summary: 'need a key', commit: null })])], plan);
    expect(items.map((u) => [u.kind, u.name, u.detail])).toEqual([
      ['feature', 'a', 'agent failed: boom; no commit; acceptance criteria not confirmed: a exists; a is tested'],
      ['feature', 'b', 'blocked: need a key; no commit'],
    ]);
  });

  it('lists a feature that says done but changed no file, with what it claimed and the criteria nobody confirmed', () => {
    const [item] = unresolvedOf([milestone([feature('a', { summary: 'mul added and tested', commit: null, merge: { state: 'nothing-to-merge' } }), feature('b')])], plan);
    expect(item).toMatchObject({ milestoneId: 'm1', kind: 'feature', name: 'a', state: 'done', commit: null, merged: false, notConfirmed: ['a exists', 'a is tested'] });
    expect(item!.detail).toBe('said done but changed no file: mul added and tested; acceptance criteria not confirmed: a exists; a is tested');
  });

  it('lists validation still failing and criteria not met, after the features', () => {
    const items = unresolvedOf([milestone([feature('a', { merge: { state: 'conflict', conflictFiles: ['x.ts'] } })], { validation: validation({ status: 'failed', unresolved: ['test'], checks: [check('not-met'), check('met')] }) })], plan);
    expect(items.map((u) => [u.kind, u.name, u.detail])).toEqual([
      ['unmerged', 'a', 'not merged (conflict in x.ts); work kept on mission/x'],
      ['validation', 'test', '`test` still fails after repair'],
      ['criterion', 'it works', 'not met (validator): because'],
    ]);
  });
});

describe('criteria checked by validation commands', () => {
  const commands = [
    { name: 'npm test', command: 'npm run test' },
    { name: 'lint', command: 'npx eslint .' },
    { name: 'test', command: 'node --test' },
  ];
  const cases: [string, string | undefined][] = [
    ['npm test passes', 'npm test'],
    ['`npx eslint .` runs clean', 'lint'],
    ['lint passes with no warnings', 'lint'],
    ['the test command succeeds', 'test'],
    ['a test for mul exists in test/mul.test.js', undefined], // names `test` but says nothing about a command passing
    ['tests pass', undefined], // "tests" is not the command `test`
    ['the linter is happy', undefined],
  ];
  it.each(cases)('"%s" → %s', (criterion, expected) => {
    expect(commandForCriterion(criterion, commands)).toBe(expected);
  });

  it('takes the verdict from the last result of the command; the others are left for the validator', () => {
    const run = (name: string, command: string, exitCode: number | null, extra: Partial<CommandRun> = {}): CommandRun => ({ name, command, exitCode, durationMs: 1, timedOut: false, outputTail: '', ...extra });
    const results = [run('npm test', 'npm run test', 1), run('lint', 'npx eslint .', 0), run('test', 'node --test', null, { timedOut: true })];
    expect(checkByCommands(['npm test passes', 'lint passes', 'test passes', 'a README exists'], results)).toEqual([
      { criterion: 'npm test passes', verdict: 'not-met', by: 'command', reason: '`npm run test` exited 1' },
      { criterion: 'lint passes', verdict: 'met', by: 'command', reason: '`npx eslint .` exited 0' },
      { criterion: 'test passes', verdict: 'not-met', by: 'command', reason: '`node --test` timed out' },
      undefined,
    ]);
    // A skipped command settles nothing.
    expect(checkByCommands(['lint passes'], [run('lint', 'npx eslint .', null, { skipped: 'no such script' })])).toEqual([undefined]);
  });
});

describe("the validator's verdicts", () => {
  const criteria = ['mul is exported', 'a test covers mul', 'docs mention mul'];
  it('reads JSON in a code fence, one verdict per criterion by number', () => {
    const reply = 'Here you go:\n```json\n{"criteria":[{"index":2,"verdict":"not met","reason":"no test file"},{"index":1,"verdict":"met","reason":"calc.js exports mul"}]}\n```';
    expect(parseVerdicts(reply, criteria)).toEqual([
      { criterion: 'mul is exported', verdict: 'met', by: 'validator', reason: 'calc.js exports mul' },
      { criterion: 'a test covers mul', verdict: 'not-met', by: 'validator', reason: 'no test file' },
      { criterion: 'docs mention mul', verdict: 'not-checked', by: 'none', reason: 'the validator gave no verdict for it' },
    ]);
  });

  it('leaves every criterion not checked when the reply is not readable', () => {
    expect(parseVerdicts('All good!', criteria).map((c) => [c.verdict, c.reason])).toEqual(criteria.map(() => ['not-checked', 'the validator did not answer with JSON']));
    expect(parseVerdicts('{"verdicts": []}', criteria)[0]).toMatchObject({ verdict: 'not-checked', reason: "the validator's answer did not have the expected shape" });
  });
});

describe('checkNarrative', () => {
  const incomplete: Unresolved = { milestoneId: 'm1', kind: 'feature', name: 'mul-test', detail: 'incomplete', state: 'incomplete' };
  const failing: Unresolved = { milestoneId: 'm1', kind: 'validation', name: 'npm test', detail: 'still fails' };
  const titles = { 'mul-test': 'Test for mul' };
  const flagged = (text: string, unresolved: Unresolved[] = [incomplete]) => checkNarrative(text, unresolved, titles).map((f) => f.sentence);

  it('flags the narrative of the issue: an unfinished test called verified', () => {
    const text = 'The mission added a mul function to src/calc.js. A node:test test for it was written and verified.';
    expect(flagged(text)).toEqual(['A node:test test for it was written and verified.', '']);
  });

  const cases: [string, string, string[]][] = [
    ['claims for the whole', 'All features were implemented. Everything works. The mission was a success.', ['All features were implemented.', 'Everything works.', 'The mission was a success.', '']],
    ['a claim naming the unresolved feature by id', 'Feature mul-test is done.', ['Feature mul-test is done.', '']],
    ['a claim naming it by title', 'The Test for mul was completed successfully.', ['The Test for mul was completed successfully.', '']],
    ['an honest narrative', 'The mul function was added. The feature mul-test is incomplete: it stopped at its turn budget.', []],
    ['a qualified claim', 'Most work is done, but mul-test remains unfinished.', []],
    ['a negated claim', "The tests weren't verified.", []],
    ['a claim about other, finished work, with the issue mentioned', 'Added mul to src/calc.js. mul-test did not finish.', []],
    ['silence about the unresolved work', 'Added mul to src/calc.js.', ['']],
  ];
  it.each(cases)('%s', (_, text, expected) => {
    expect(flagged(text)).toEqual(expected);
  });

  it('flags "all tests pass" when validation still fails, and says why', () => {
    const flags = checkNarrative('- Implemented mul.\n- All tests pass.', [failing]);
    expect(flags).toEqual([
      { sentence: 'All tests pass.', reason: 'claims success for the whole, but 1 item(s) are unresolved: npm test (still failing)' },
      { sentence: '', reason: 'does not mention the 1 unresolved item(s): npm test (still failing)' },
    ]);
  });

  it('flags nothing when nothing is unresolved', () => {
    expect(checkNarrative('Everything was implemented and verified.', [])).toEqual([]);
  });

  it('splits sentences and list items', () => {
    expect(sentencesOf('First one. Second one!\n- third\n1. fourth')).toEqual(['First one.', 'Second one!', 'third', 'fourth']);
  });
});

describe('the Markdown report', () => {
  const status = (milestones: MilestoneStatus[]): MissionStatus => ({
    missionId: 'x',
    phase: 'reporting',
    paused: false,
    prompt: 'Add mul',
    plan,
    planRevision: 1,
    milestones,
    tokens: { prompt: 1, completion: 1, total: 2 },
    tokensByRole: {},
    budget: { maxTurnsPerFeature: 10, activeMinutes: 0 },
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    events: [],
  });

  it('puts the facts first and the narrative last, labelled as the model\'s, with its contradictions flagged', () => {
    const facts = reportFromStatus(status([milestone([feature('a', { state: 'incomplete' }), feature('b')], { validation: validation({ criteria: ['it works'], checks: [check('not-met')] }) })]), 'completed-with-issues', '2026-01-01T00:01:00.000Z');
    const narrative = 'All features were implemented and verified.';
    const md = renderReport({ ...facts, narrative, narrativeFlags: checkNarrative(narrative, facts.unresolved) });
    expect(md).toContain('- **Outcome:** completed-with-issues (2 unresolved: see below)');
    const at = (text: string) => md.indexOf(text);
    expect(at('## Unresolved')).toBeLessThan(at('## Milestones'));
    expect(at('## Milestones')).toBeLessThan(at('## Narrative (written by the model, not checked)'));
    expect(md).toContain('- m1 feature **a**: incomplete: did a; commit cccccccc on mission/x (merged); acceptance criteria not confirmed: a exists; a is tested');
    expect(md).toContain('- it works — **not-met** (validator): because');
    expect(md).toContain('> **Warning: this narrative contradicts the facts above; trust the facts.**\n> - "All features were implemented and verified." claims success for the whole, but 2 item(s) are unresolved: a (incomplete), it works (criterion not met)');
    expect(md.trimEnd().endsWith(narrative)).toBe(true);
  });
});

describe('tokens of a failed agent', () => {
  const spent = { tokens: { prompt: 30, completion: 12, total: 42 }, turns: 3 };
  const activityFailure = (cause: Error) => new ActivityFailure('Activity task failed', 'agentTurn', '7', 0 as never, 'worker', cause);

  it('ride on its failure, which keeps the root type and message for the mission', () => {
    const root = ApplicationFailure.create({ type: 'MODEL_NOT_FOUND', message: 'no such model', nonRetryable: true });
    const wrapped = failedWithTokens(activityFailure(root), spent);
    // What the parent sees: the child's failure, with ours as its cause.
    const seen = new ChildWorkflowFailure('default', { workflowId: 'm/m1/f' }, 'feature', 0 as never, wrapped as Error);
    expect(spentOf(seen)).toEqual(spent);
    expect(failureType(seen)).toBe('MODEL_NOT_FOUND');
    expect(rootFailure(seen)).toEqual({ type: 'MODEL_NOT_FOUND', message: 'no such model' });
  });

  it('leave cancellations and bugs (plain errors) as they are', () => {
    const cancelled = new CancelledFailure('cancelled');
    expect(failedWithTokens(cancelled, spent)).toBe(cancelled);
    const bug = new TypeError('x is undefined');
    expect(failedWithTokens(bug, spent)).toBe(bug);
    expect(spentOf(bug)).toBeUndefined();
  });
});
