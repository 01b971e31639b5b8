import { parsePlan } from '../src/activities/llm';
import { plannerJsonSchema, responseFormat } from '../src/activities/plan-format';
import { decisionGate, questionsMarkdown } from '../src/api/gate';
import { answersMessage, answersRefusal, mergeAnswers, PlannerReply, type PendingQuestions, type PlanQuestion } from '../src/api/questions';
import { renderReport, reportFromStatus } from '../src/api/report';
import type { MissionStatus } from '../src/api/status';
import { parseAnswerFlag, parseAnswersFile, parseAnswersMarkdown } from '../src/cli/answers';
import { UsageError } from '../src/cli/common';
import { answersPayload } from '../src/cli/commands/answer';
import { makePlan } from './support/scripts';

const limits = { maxMilestones: 2, maxFeaturesPerMilestone: 2 };
const q = (id: string, extra: Partial<PlanQuestion> = {}): PlanQuestion => ({ id, question: `Question ${id}?`, why: `why ${id}`, default: `default ${id}`, ...extra });
const pending: PendingQuestions = { round: 1, maxRounds: 2, questions: [q('q1', { question: 'Which database?', default: 'SQLite' }), q('q2')] };

describe('the planner reply with questions', () => {
  it('takes at most 5 questions, each with an id, the question, why and a default; ids unique', () => {
    expect(PlannerReply.safeParse({ questions: [q('q1')], plan: null }).success).toBe(true);
    expect(PlannerReply.safeParse({ questions: [1, 2, 3, 4, 5, 6].map((i) => q(`q${i}`)), plan: null }).error?.issues[0]?.message).toMatch(/at most 5 questions/);
    expect(PlannerReply.safeParse({ questions: [q('q1'), q('q1')], plan: null }).error?.issues[0]?.message).toBe('question ids must be unique');
    expect(PlannerReply.safeParse({ questions: [{ id: 'q1', question: 'x', why: 'y' }], plan: null }).success).toBe(false);
    expect(PlannerReply.safeParse({ questions: [q('q1', { default: ' ' })], plan: null }).success).toBe(false);
  });

  it('parses to questions only while the planner may ask; a bare plan or a wrapped plan is a plan; invalid output goes back as errors', () => {
    const plan = makePlan([{ id: 'm1', features: [{ id: 'a' }] }]);
    const asked = JSON.stringify({ questions: [q('q1')], plan: null });
    expect(parsePlan(asked, null, limits, true)).toEqual({ plan: null, questions: [q('q1')], errors: [] });
    expect(parsePlan(asked, null, limits, false)).toEqual({ plan: null, errors: [expect.stringMatching(/^no more questions are allowed .*return the plan, stating in "assumptions"/)] });
    expect(parsePlan(JSON.stringify({ questions: [], plan }), null, limits, true)).toEqual({ plan, errors: [] });
    expect(parsePlan(JSON.stringify(plan), null, limits, true)).toEqual({ plan, errors: [] });
    expect(parsePlan(JSON.stringify({ questions: [], plan: null }), null, limits, true).errors).toEqual(['the reply has neither questions nor a plan: return the plan']);
    const six = JSON.stringify({ questions: [1, 2, 3, 4, 5, 6].map((i) => q(`q${i}`)), plan: null });
    expect(parsePlan(six, null, limits, true)).toMatchObject({ plan: null, errors: [expect.stringMatching(/^questions: at most 5 questions/)] });
    // The plan inside the wrapper is checked like a bare one.
    expect(parsePlan(JSON.stringify({ questions: [], plan: makePlan([{ id: 'm1', features: [] }]) }), null, limits, true).errors).toEqual(['milestone "m1" has no features; add at least one']);
  });

  it('asks with a schema strict structured outputs take: an object at the root, every property required, no extra ones', () => {
    const schema = plannerJsonSchema(limits, true) as { type: string; properties: Record<string, { maxItems?: number; anyOf?: unknown[] }>; required: string[] };
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(['questions', 'plan']);
    expect(schema.properties.questions!.maxItems).toBe(5);
    expect(schema.properties.plan!.anyOf).toEqual([expect.objectContaining({ type: 'object' }), { type: 'null' }]);
    const objects: Record<string, unknown>[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.type === 'object') objects.push(n);
      Object.values(n).forEach(walk);
    };
    walk(schema);
    for (const o of objects) {
      expect(o.additionalProperties).toBe(false);
      expect([...(o.required as string[])].sort()).toEqual(Object.keys(o.properties as object).sort());
    }
    // Without questions the schema is the plan's, as before; without limits no maxItems anywhere.
    expect((plannerJsonSchema(limits, false) as { properties: object }).properties).toHaveProperty('milestones');
    expect(JSON.stringify(responseFormat('json_schema_nolimits', limits, true))).not.toContain('maxItems');
  });
});

describe('answers', () => {
  it('merge: the answers given, the default for the rest (and for blank ones), marked as defaults', () => {
    expect(mergeAnswers(pending.questions, { q1: ' Postgres ' })).toEqual([
      { id: 'q1', question: 'Which database?', answer: 'Postgres', byDefault: false },
      { id: 'q2', question: 'Question q2?', answer: 'default q2', byDefault: true },
    ]);
    expect(mergeAnswers(pending.questions, { q1: '  ' })[0]).toMatchObject({ answer: 'SQLite', byDefault: true });
    expect(mergeAnswers(pending.questions).every((a) => a.byDefault)).toBe(true);
  });

  it('are refused outside awaiting-answers with the phase named, for unknown ids with the id named, for another round, and when empty', () => {
    expect(answersRefusal(undefined, 'planning', { useDefaults: true })).toBe('the mission is planning, not awaiting answers');
    expect(answersRefusal(pending, 'awaiting-approval', { useDefaults: true })).toBe('the mission is awaiting-approval, not awaiting answers');
    expect(answersRefusal(pending, 'awaiting-answers', { answers: { q1: 'a', q9: 'b' } })).toBe('unknown question id "q9"; the questions are q1, q2');
    expect(answersRefusal(pending, 'awaiting-answers', { round: 2, useDefaults: true })).toMatch(/^it answers round 2, but the questions waiting are round 1/);
    expect(answersRefusal(pending, 'awaiting-answers', {})).toMatch(/^no answers given: send \{ "answers": \{ "q1": "\.\.\." \} \}/);
    expect(answersRefusal(pending, 'awaiting-answers', { answers: { q2: 'x' } })).toBeUndefined();
    expect(answersRefusal(pending, 'awaiting-answers', { useDefaults: true, round: 1 })).toBeUndefined();
  });

  it('reach the planner with the defaults marked, and the last round says no more questions', () => {
    const text = answersMessage(mergeAnswers(pending.questions, { q1: 'Postgres' }), 1, 2);
    expect(text).toContain('- q1: Which database?\n  Answer: Postgres');
    expect(text).toContain('- q2: Question q2?\n  Answer (your default; the person gave none): default q2');
    expect(text).not.toContain('No more questions');
    expect(answersMessage(mergeAnswers(pending.questions), 2, 2)).toContain('No more questions are allowed: return the plan now, stating in "assumptions" what you assumed.');
  });
});

describe('an answers file', () => {
  it('in Markdown: the lines the status prints give the defaults back; edited, continued and fenced lines as expected', () => {
    const shown = questionsMarkdown('m-1', pending);
    expect(parseAnswersMarkdown(shown)).toEqual({ q1: 'SQLite', q2: 'default q2' });
    const edited = ['# my answers', '', '- **q1**: Postgres 16', '  with the pgvector extension', 'not part of it', '- q2:', '```', '- q3: inside a fence', '```'].join('\n');
    expect(parseAnswersMarkdown(edited)).toEqual({ q1: 'Postgres 16\nwith the pgvector extension', q2: '' });
    expect(() => parseAnswersMarkdown('- q1: a\n- q1: b')).toThrow('q1 is answered twice (lines 1 and 2); keep one');
  });

  it('in JSON: the payload or a plain map; errors name the file', () => {
    expect(parseAnswersFile('{ "answers": { "q1": "x" }, "useDefaults": true }', 'a.json')).toEqual({ answers: { q1: 'x' }, useDefaults: true });
    expect(parseAnswersFile('{ "q1": "x" }', 'a.json')).toEqual({ answers: { q1: 'x' } });
    expect(() => parseAnswersFile('{ "q1": 3 }', 'a.json')).toThrow(/^a\.json: answers\.q1: must be text/);
    expect(() => parseAnswersFile('{ nope', 'a.json')).toThrow(/^a\.json is not valid JSON/);
    expect(() => parseAnswersFile('just prose', 'a.md')).toThrow(/^a\.md holds no answers: write one line per question, "- q1: your answer"/);
  });

  it('with flags: the file, then each --answer over it; --defaults; nothing at all is a usage error', () => {
    const files: Record<string, string> = { 'a.md': '- q1: from file\n- q2: also file' };
    const read = (f: string) => {
      if (files[f] === undefined) throw new Error('ENOENT');
      return files[f];
    };
    expect(answersPayload({ file: 'a.md', answer: ['q2=flag = wins'] as unknown as string, round: '2', by: 'ann' }, read)).toEqual({ answers: { q1: 'from file', q2: 'flag = wins' }, round: 2, answeredBy: 'ann' });
    expect(answersPayload({ defaults: true }, read)).toEqual({ useDefaults: true });
    expect(() => answersPayload({}, read)).toThrow(UsageError);
    expect(() => answersPayload({ file: 'missing.md' }, read)).toThrow(/^--file missing\.md cannot be read/);
    expect(() => answersPayload({ defaults: true, round: '0' }, read)).toThrow('--round must be a round number (1, 2, ...), not "0"');
    expect(() => parseAnswerFlag('q1')).toThrow(/^--answer must be ID=TEXT/);
  });
});

describe('where the questions are shown', () => {
  const status = (patch: Partial<MissionStatus>) => ({ missionId: 'm-1', phase: 'awaiting-answers', plan: null, planRevision: 0, questions: pending, ...patch }) as MissionStatus;

  it('the current details and `mission status`: the questions in Markdown, the answer lines and the exact commands', () => {
    const gate = decisionGate(status({}))!;
    expect(gate).toMatch(/^## Questions from the planner \(round 1 of at most 2\)\n\n### q1: Which database\?\n\nWhy: why q1\n\nDefault: SQLite/);
    expect(gate).toContain('- q1: SQLite\n- q2: default q2');
    expect(gate).toContain('mission answer m-1 --round 1 --file answers.md');
    expect(gate).toContain('mission answer m-1 --round 1 --defaults');
    expect(gate).toContain(`temporal workflow update execute --workflow-id m-1 --name answerQuestions --input '{"round":1,"answers":{"q1":"..."}}'`);
    expect(gate).toContain(`temporal workflow signal --workflow-id m-1 --name answerQuestions --input '{"round":1,"useDefaults":true}'`);
    expect(decisionGate(status({ phase: 'planning' }))).toBeUndefined();
  });

  it('the report: each round, who answered, and which answers were defaults', () => {
    const s = status({ phase: 'completed', prompt: 'Store notes', startedAt: '2026-01-01T00:00:00.000Z', milestones: [], tokens: { prompt: 0, completion: 0, total: 0 }, tokensByRole: {}, events: [] });
    s.clarifications = [{ forRevision: 1, round: 1, at: '2026-01-01T00:00:01.000Z', by: 'defaults: approval not required', answers: mergeAnswers(pending.questions) }];
    const report = reportFromStatus(s, 'completed', '2026-01-01T00:01:00.000Z');
    expect(report.clarifications).toHaveLength(1);
    expect(renderReport(report)).toContain('## Clarifying questions\n\nPlan revision 1, round 1, answered with defaults: approval not required:\n\n- q1: Which database? — **SQLite** (default)');
  });
});
