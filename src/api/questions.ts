import { z } from 'zod';
import { Plan } from './plan';

/** At most this many questions in one round: a person answers them at a terminal. */
export const MAX_QUESTIONS = 5;
/** Rounds of questions per planning (first draft or a revision); after them the planner must plan, stating its assumptions. */
export const MAX_QUESTION_ROUNDS = 2;

const QuestionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, 'must be 1-40 letters, digits, "-" or "_", starting with a letter or digit (e.g. "q1")');

/** One clarifying question of the planner: what it asks, why the answer changes the plan, and what it assumes without one. */
export const PlanQuestion = z.strictObject({
  id: QuestionId,
  question: z.string().trim().min(1, 'must not be empty'),
  why: z.string().trim().min(1, 'must say why the answer changes the plan'),
  default: z.string().trim().min(1, 'must give the answer assumed when the person does not answer'),
});
export type PlanQuestion = z.infer<typeof PlanQuestion>;

/**
 * The planner's structured output while it may still ask (`mission_plan`; OpenAI's strict mode wants an object at
 * the root): questions and no plan, or no questions and the plan.
 */
export const PlannerReply = z.strictObject({
  questions: z
    .array(PlanQuestion)
    .max(MAX_QUESTIONS, `at most ${MAX_QUESTIONS} questions; ask only what changes the plan and assume the rest`)
    .refine((qs) => new Set(qs.map((q) => q.id)).size === qs.length, 'question ids must be unique'),
  plan: Plan.nullable(),
});
export type PlannerReply = z.infer<typeof PlannerReply>;

/** A question with the answer the planner got, and whether that answer was the question's default. */
export interface AnsweredQuestion {
  id: string;
  question: string;
  answer: string;
  byDefault: boolean;
}

/** A round of questions once answered: what the status and the report keep. */
export interface AnsweredRound {
  /** The plan revision this planning produced (status.planRevision + 1 while it was asked). */
  forRevision: number;
  round: number;
  at: string;
  /** Who answered; `defaults: approval not required` when nobody was asked. */
  by: string;
  answers: AnsweredQuestion[];
}

/** What the mission waits on in `awaiting-answers`. */
export interface PendingQuestions {
  round: number;
  maxRounds: number;
  questions: PlanQuestion[];
}

/** The `answerQuestions` decision (signal and update). Unanswered questions take their default. */
export const AnswerQuestions = z.strictObject({
  answers: z.record(z.string(), z.string({ error: 'must be text' })).optional(),
  /** Take the default of every question not in `answers`. */
  useDefaults: z.boolean({ error: 'must be true or false' }).optional(),
  /** The round answered (status.questions.round): answers to an earlier round are refused. */
  round: z.number().int('must be a whole number').positive('must be greater than 0').optional(),
  answeredBy: z.string().optional(),
});
export type AnswerQuestions = z.infer<typeof AnswerQuestions>;

/** Why these answers do not fit the questions waiting, or undefined when they do. Pure: the update's validator calls it. */
export function answersRefusal(pending: PendingQuestions | undefined, phase: string, payload: AnswerQuestions): string | undefined {
  if (phase !== 'awaiting-answers' || !pending) return `the mission is ${phase}, not awaiting answers`;
  if (payload.round !== undefined && payload.round !== pending.round) {
    return `it answers round ${payload.round}, but the questions waiting are round ${pending.round}; read them ("mission status") and answer those`;
  }
  const ids = pending.questions.map((q) => q.id);
  const unknown = Object.keys(payload.answers ?? {}).filter((id) => !ids.includes(id));
  if (unknown.length) return `unknown question id${unknown.length > 1 ? 's' : ''} ${unknown.map((id) => `"${id}"`).join(', ')}; the questions are ${ids.join(', ')}`;
  if (!Object.keys(payload.answers ?? {}).length && !payload.useDefaults) {
    return `no answers given: send { "answers": { "${ids[0]}": "..." } } (unanswered questions take their default) or { "useDefaults": true }`;
  }
  return undefined;
}

/** Each question with its answer: the one given (trimmed, not blank), else its default. */
export function mergeAnswers(questions: PlanQuestion[], given: Record<string, string> = {}): AnsweredQuestion[] {
  return questions.map((q) => {
    const answer = given[q.id]?.trim();
    return answer ? { id: q.id, question: q.question, answer, byDefault: false } : { id: q.id, question: q.question, answer: q.default, byDefault: true };
  });
}

/** The user message that carries the answers to the planner; after the last round it says no more questions. */
export function answersMessage(answers: AnsweredQuestion[], round: number, maxRounds: number): string {
  const lines = answers.map((a) => `- ${a.id}: ${a.question}\n  Answer${a.byDefault ? ' (your default; the person gave none)' : ''}: ${a.answer}`);
  const next =
    round >= maxRounds
      ? 'No more questions are allowed: return the plan now, stating in "assumptions" what you assumed.'
      : 'Return the plan now ("questions": [] and the plan); ask again only if an answer raises a new question that changes the plan.';
  return `Answers to your questions (round ${round} of ${maxRounds}):\n${lines.join('\n')}\n${next}`;
}
