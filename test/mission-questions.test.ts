import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { answerQuestionsSignal, statusQuery } from '../src/api/messages';
import type { PlanQuestion } from '../src/api/questions';
import { answerQuestions, DecisionRefusedError } from '../src/client';
import { runCli } from './support/cli';
import { onHarness, spawnCli } from './support/cli-process';
import { useHarness } from './support/harness';
import type { RecordedRequest, ScriptedMessage } from './support/model-server';
import { makeRepo, tempDir, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';
import { temporalWorkflow } from './support/temporal-cli';

const h = useHarness('questions');
const bin = path.join(__dirname, '..', 'bin', 'mission.js');

const DB: PlanQuestion = { id: 'q1', question: 'Which database?', why: 'the schema and migrations depend on it', default: 'SQLite' };
const AUTH: PlanQuestion = { id: 'q2', question: 'Do users log in?', why: 'adds an auth milestone', default: 'no login' };
const asks = (...questions: PlanQuestion[]): ScriptedMessage => ({ content: JSON.stringify({ questions, plan: null }) });
const lastUserMessage = (r: RecordedRequest) => String(r.body.messages.filter((m) => m.role === 'user').at(-1)!.content);
const schemaOf = (r: RecordedRequest) => r.body.response_format!.json_schema!.schema as { properties: Record<string, unknown> };

test('questions answered with `mission answer` (a Markdown file): shown in the details and status, refused while planning, for an unknown id and at the approval gate; the next plan request carries the answers', async () => {
  const repo = makeRepo();
  // The planner asks after a while: long enough for an answer sent while it is still planning.
  h.model.script('plan', [{ ...asks(DB, AUTH), delayMs: 4000 }, planReply(makePlan([{ id: 'm1', features: [{ id: 'db', files: ['db.txt'] }] }], 'Postgres plan'))]);
  const handle = await h.start({ prompt: 'Store the notes', repo });
  const id = handle.workflowId;
  await h.waitFor(handle, (s) => s.phase === 'planning');

  const early = await runCli(h, ['answer', id, '--defaults']);
  expect(early.code).toBe(1);
  expect(early.err.join('\n')).toMatch(/answerQuestions refused: the mission is planning, not awaiting answers/);

  const waiting = await h.waitFor(handle, (s) => s.phase === 'awaiting-answers');
  expect(waiting.questions).toEqual({ round: 1, maxRounds: 2, questions: [DB, AUTH] });
  expect(waiting.plan).toBeNull();
  // The planner was offered the choice in the one call: the schema is { questions, plan }.
  expect(Object.keys(schemaOf(h.model.requestsFor('plan')[0]!).properties)).toEqual(['questions', 'plan']);

  const details = ((await handle.query('__temporal_workflow_metadata')) as { currentDetails: string }).currentDetails;
  expect(details).toMatch(/^awaiting-answers: waiting for answerQuestions: 2 question\(s\), round 1 of at most 2/);
  expect(details).toContain('### q1: Which database?\n\nWhy: the schema and migrations depend on it\n\nDefault: SQLite');
  expect(details).toContain(`mission answer ${id} --round 1 --defaults`);
  expect(details).toContain(`temporal workflow update execute --workflow-id ${id} --name answerQuestions`);
  const printed = (await runCli(h, ['status', id])).out.join('\n');
  expect(printed).toContain(details.slice(details.indexOf('## Questions')));

  const unknown = await runCli(h, ['answer', id, '--answer', 'q9=maybe']);
  expect(unknown.code).toBe(1);
  expect(unknown.err.join('\n')).toMatch(/answerQuestions refused: unknown question id "q9"; the questions are q1, q2/);
  // The same as a signal: recorded as ignored, the mission keeps waiting.
  await handle.signal(answerQuestionsSignal, { answers: { q9: 'maybe' } });
  const ignored = await h.waitFor(handle, (s) => s.events.some((e) => e.type === 'signal-ignored'));
  expect(ignored.phase).toBe('awaiting-answers');

  // The status' own answer lines, edited: q1 answered, q2 left blank (its default).
  const file = path.join(tempDir('answers-'), 'answers.md');
  writeFileSync(file, printed.replace('- q1: SQLite', '- q1: Postgres 16').replace('- q2: no login', '- q2:'));
  const answered = await runCli(h, ['answer', id, '--round', '1', '--file', file, '--by', 'ann']);
  expect(answered.code).toBe(0);
  expect(answered.out.join('\n')).toContain(`answerQuestions applied to ${id}`);

  const gate = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  expect(gate.plan?.title).toBe('Postgres plan');
  expect(gate.questions).toBeUndefined();
  expect(gate.clarifications).toEqual([
    {
      forRevision: 1,
      round: 1,
      at: expect.any(String),
      by: 'ann',
      answers: [
        { id: 'q1', question: 'Which database?', answer: 'Postgres 16', byDefault: false },
        { id: 'q2', question: 'Do users log in?', answer: 'no login', byDefault: true },
      ],
    },
  ]);
  expect(gate.events.map((e) => e.message)).toContain('questions round 1: answered by ann; defaults taken for q2');
  const second = h.model.requestsFor('plan')[1]!;
  expect(lastUserMessage(second)).toContain('- q1: Which database?\n  Answer: Postgres 16');
  expect(lastUserMessage(second)).toContain('- q2: Do users log in?\n  Answer (your default; the person gave none): no login');

  const late = answerQuestions(h.client, id, { useDefaults: true });
  await expect(late).rejects.toThrow(DecisionRefusedError);
  await expect(late).rejects.toThrow('answerQuestions refused: the mission is awaiting-approval, not awaiting answers');

  expect((await runCli(h, ['reject', id, '--reason', 'enough'])).code).toBe(0);
  const report = await handle.result();
  expect(report.clarifications).toEqual(gate.clarifications);
  expect(readFileSync(report.reportPath!, 'utf8')).toContain('Plan revision 1, round 1, answered by ann:\n\n- q1: Which database? — **Postgres 16**\n- q2: Do users log in? — **no login** (default)');
}, 120_000);

test('answered with `temporal workflow update execute`, then a second round with `mission answer --defaults`; after two rounds the planner must plan', async () => {
  const repo = makeRepo();
  const CACHE: PlanQuestion = { id: 'q3', question: 'Which cache?', why: 'a cache feature', default: 'none' };
  h.model.script('plan', [asks(DB), asks(CACHE), planReply(makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }] }], 'After two rounds'))]);
  const handle = await h.start({ prompt: 'Ask twice', repo });
  const id = handle.workflowId;

  await h.waitFor(handle, (s) => s.phase === 'awaiting-answers');
  const viaTemporal = await temporalWorkflow(h, ['update', 'execute'], id, 'answerQuestions', { round: 1, answers: { q1: 'Postgres' } });
  expect(viaTemporal.code).toBe(0);
  expect(viaTemporal.out).toMatch(/decision:answerQuestions/);

  const round2 = await h.waitFor(handle, (s) => s.phase === 'awaiting-answers' && s.questions?.round === 2);
  expect(round2.questions?.questions).toEqual([CACHE]);
  // A refused update through the Temporal CLI: a stale round.
  const stale = await temporalWorkflow(h, ['update', 'execute'], id, 'answerQuestions', { round: 1, useDefaults: true });
  expect(stale.code).not.toBe(0);
  expect(stale.out).toMatch(/answerQuestions refused: it answers round 1, but the questions waiting are round 2/);
  expect((await runCli(h, ['answer', id, '--defaults'])).code).toBe(0);

  const gate = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  expect(gate.plan?.title).toBe('After two rounds');
  expect(gate.clarifications?.map((c) => [c.round, c.answers.map((a) => [a.id, a.answer, a.byDefault])])).toEqual([
    [1, [['q1', 'Postgres', false]]],
    [2, [['q3', 'none', true]]],
  ]);
  const plans = h.model.requestsFor('plan');
  expect(plans).toHaveLength(3);
  expect(lastUserMessage(plans[1]!)).toContain('Answer: Postgres');
  expect(Object.keys(schemaOf(plans[1]!).properties)).toEqual(['questions', 'plan']);
  // The third request may not ask: the plan's own schema, and the request says so.
  expect(schemaOf(plans[2]!).properties).toHaveProperty('milestones');
  expect(lastUserMessage(plans[2]!)).toContain('No more questions are allowed: return the plan now, stating in "assumptions" what you assumed.');

  const signalled = await temporalWorkflow(h, ['signal'], id, 'answerQuestions', { useDefaults: true });
  expect(signalled.code).toBe(0); // a signal is taken by the server; the mission records that it ignored it
  const ignored = await h.waitFor(handle, (s) => s.events.some((e) => e.type === 'signal-ignored'));
  expect(ignored.events.map((e) => e.message)).toContain('answerQuestions ignored: the mission is awaiting-approval, not awaiting answers');
  await runCli(h, ['reject', id]);
  await handle.result();
  expect((await runCli(h, ['--help'])).out.join('\n')).toMatch(/^ {2}answer +Answer the planner's questions/m);
}, 120_000);

test('revising after revisePlan feedback, the planner may ask again: the revise request offers it, the answers go to the revision', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }], 'First')), asks(DB), planReply(makePlan([{ id: 'm1', features: [{ id: 'b' }] }], 'Second'))]);
  const handle = await h.start({ prompt: 'Revise and ask', repo });
  const id = handle.workflowId;
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  expect((await runCli(h, ['revise', id, '--feedback', 'store it properly'])).code).toBe(0);
  await h.waitFor(handle, (s) => s.phase === 'awaiting-answers');
  const revise = h.model.requestsFor('plan')[1]!;
  expect(lastUserMessage(revise)).toMatch(/store it properly[\s\S]*you may ask up to 5 clarifying questions instead of planning \(round 1 of at most 2\)/);
  expect(Object.keys(schemaOf(revise).properties)).toEqual(['questions', 'plan']);
  expect((await runCli(h, ['answer', id, '--answer', 'q1=Postgres'])).code).toBe(0);
  const gate = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval' && s.planRevision === 2);
  expect(gate.plan?.title).toBe('Second');
  expect(gate.clarifications).toMatchObject([{ forRevision: 2, round: 1, answers: [{ id: 'q1', answer: 'Postgres', byDefault: false }] }]);
  await runCli(h, ['reject', id]);
  await handle.result();
}, 120_000);

test('a person may reject the mission while the planner\'s questions wait: it ends rejected, no plan, no code changed; approve is refused there', async () => {
  const repo = makeRepo();
  h.model.script('plan', [asks(DB)]);
  const handle = await h.start({ prompt: 'Not what I meant', repo });
  const id = handle.workflowId;
  await h.waitFor(handle, (s) => s.phase === 'awaiting-answers');
  const approve = await runCli(h, ['approve', id]);
  expect(approve.code).toBe(1);
  expect(approve.err.join('\n')).toMatch(/approvePlan refused: the mission is awaiting-answers, not awaiting approval/);
  const rejected = await runCli(h, ['reject', id, '--reason', 'wrong goal']);
  expect(rejected.code).toBe(0);
  const report = await handle.result();
  expect(report.outcome).toBe('rejected');
  expect(report.rejection).toEqual({ reason: 'wrong goal' });
  expect(h.model.requestsFor('plan')).toHaveLength(1);
  expect(treeAt(repo, 'main')).toEqual(treeAt(repo, 'main~0'));
  const status = await handle.query(statusQuery);
  expect(status.questions).toBeUndefined();
  expect(status.clarifications ?? []).toEqual([]);
});

test('in a terminal, `mission run` asks each question with why and its default: Enter takes the default', async () => {
  const repo = makeRepo();
  h.model.script('plan', [asks(DB, AUTH), planReply(makePlan([{ id: 'm1', features: [{ id: 't', files: ['t.txt'] }] }], 'Answered at the terminal'))]);
  const id = `questions-tty-${Date.now()}`;
  const command = [process.execPath, bin, 'run', 'Ask at the terminal', '--repo', repo, '--id', id].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // `script` gives the CLI a pseudo-terminal, as a person at a shell has.
  const p = spawnCli([], onHarness(h), { command: ['script', '-qfec', command, '/dev/null'] });
  await p.waitFor(/The planner asks \(round 1 of at most 2[\s\S]*q1: Which database\?\s+\(the schema and migrations depend on it\)\s+\[SQLite\] > /);
  p.child.stdin!.write('\n');
  await p.waitFor(/q2: Do users log in\?\s+\(adds an auth milestone\)\s+\[no login\] > /);
  p.child.stdin!.write('yes, with GitHub\n');
  await p.waitFor(/Plan: Answered at the terminal[\s\S]*Approve this plan\?/);
  p.child.stdin!.write('n\n');
  await p.waitFor(/Reason \(optional\): /);
  p.child.stdin!.write('\n');
  expect(await p.exited).toBe(1); // rejected
  const answers = lastUserMessage(h.model.requestsFor('plan')[1]!);
  expect(answers).toContain('- q1: Which database?\n  Answer (your default; the person gave none): SQLite');
  expect(answers).toContain('- q2: Do users log in?\n  Answer: yes, with GitHub');
}, 120_000);

test('without plan approval the defaults answer the questions at once, and status and report say so; invalid questions go back to the planner', async () => {
  const repo = makeRepo();
  const six = { content: JSON.stringify({ questions: [1, 2, 3, 4, 5, 6].map((i) => ({ ...DB, id: `q${i}` })), plan: null }) };
  h.model.script('plan', [six, asks(DB, AUTH), planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'] }] }]))]);
  h.model.script('feature f', writesFiles({ 'f.txt': 'sqlite' }));
  const handle = await h.start({ prompt: 'No one to ask', repo, requirePlanApproval: false });
  const report = await handle.result();
  expect(report.outcome).toBe('completed');
  expect(treeAt(repo, report.branch!)).toMatchObject({ 'f.txt': 'sqlite' });

  const plans = h.model.requestsFor('plan');
  expect(lastUserMessage(plans[1]!)).toMatch(/questions: at most 5 questions/);
  expect(lastUserMessage(plans[2]!)).toContain('- q1: Which database?\n  Answer (your default; the person gave none): SQLite');

  const status = await handle.query(statusQuery);
  expect(status.events.map((e) => e.message)).toContain('questions round 1: answered with defaults: approval not required');
  expect(status.events.filter((e) => e.type === 'phase' && e.message.startsWith('waiting for answerQuestions'))).toEqual([]);
  expect(status.events.some((e) => e.message.startsWith('plan draft 1 refused: questions: at most 5 questions'))).toBe(true);
  expect(report.clarifications).toEqual([{ forRevision: 1, round: 1, at: expect.any(String), by: 'defaults: approval not required', answers: expect.any(Array) }]);
  expect(report.clarifications![0]!.answers.every((a) => a.byDefault)).toBe(true);
  expect(readFileSync(report.reportPath!, 'utf8')).toContain('Plan revision 1, round 1, answered with defaults: approval not required:');
}, 120_000);

test('a planner that takes the empty way out ({ questions: [], plan: null }, as Qwen2.5-Coder-1.5B did) is corrected with the plan schema alone, and so is every later correction of that planning', async () => {
  const repo = makeRepo();
  const empty = { content: JSON.stringify({ questions: [], plan: null }) };
  const cycle = planReply(makePlan([{ id: 'm1', features: [{ id: 'g', files: ['g.txt'], dependsOn: ['h'] }, { id: 'h', files: ['h.txt'], dependsOn: ['g'] }] }]));
  h.model.script('plan', [empty, cycle, planReply(makePlan([{ id: 'm1', features: [{ id: 'g', files: ['g.txt'] }] }]))]);
  h.model.script('feature g', writesFiles({ 'g.txt': 'planned' }));
  const handle = await h.start({ prompt: 'Plan it', repo, requirePlanApproval: false });
  const report = await handle.result();
  expect(report.outcome).toBe('completed');
  const plans = h.model.requestsFor('plan');
  expect(Object.keys(schemaOf(plans[0]!).properties)).toEqual(['questions', 'plan']);
  expect(lastUserMessage(plans[1]!)).toMatch(/the reply has neither questions nor a plan: return the plan/);
  expect(lastUserMessage(plans[2]!)).toMatch(/depend on each other in a cycle/);
  // No null branch to take in a correction: the grammar is the plan schema itself (the real run took it again when offered).
  for (const correction of plans.slice(1)) expect(Object.keys(schemaOf(correction).properties)).toContain('milestones');
  // Declining the option is not a spent attempt: the three attempts are for plans.
  const status = await handle.query(statusQuery);
  expect(status.events.filter((e) => e.type === 'plan-invalid').map((e) => e.message)).toEqual([
    'the planner neither asked nor planned: asked again for the plan alone',
    expect.stringMatching(/^plan draft 1 refused: features "g" -> "h" -> "g" depend on each other in a cycle/),
  ]);
}, 120_000);
