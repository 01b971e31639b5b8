import { condition } from '@temporalio/workflow';
import { MAX_QUESTION_ROUNDS, mergeAnswers, type AnsweredQuestion, type AnswerQuestions, type PlanQuestion } from '../api/questions';
import type { MissionContext } from './agents';
import { nowIso } from './state';

/** Missions recorded before the planner could ask never waited in `awaiting-answers`; they replay without it. */
export const QUESTIONS_PATCH = 'clarifying-questions';

/** Who answered when nobody was asked: the mission plans on without a person (requirePlanApproval: false). */
export const DEFAULTS_WITHOUT_APPROVAL = 'defaults: approval not required';

/**
 * The planner asked: wait in `awaiting-answers` for `answerQuestions` (each unanswered question takes its default),
 * or, when no person approves the plan, take the defaults at once. Either way the round is recorded for the report.
 * A rejectPlan while the questions wait ends the planning: 'rejected' (the decision stays in state.decision).
 */
export async function answersFor(ctx: MissionContext, questions: PlanQuestion[], round: number): Promise<AnsweredQuestion[] | 'rejected'> {
  const { state, input } = ctx;
  const forRevision = state.status.planRevision + 1;
  if (!input.requirePlanApproval) {
    const answers = mergeAnswers(questions, {});
    state.recordAnswers({ forRevision, round, at: nowIso(), by: DEFAULTS_WITHOUT_APPROVAL, answers });
    return answers;
  }
  state.answers = undefined;
  state.decision = undefined; // a revise that led here is applied; only a reject may come now
  state.status.questions = { round, maxRounds: MAX_QUESTION_ROUNDS, questions };
  state.setPhase('awaiting-answers', `waiting for answerQuestions: ${questions.length} question(s), round ${round} of at most ${MAX_QUESTION_ROUNDS}`);
  await condition(() => state.answers !== undefined || state.decision?.kind === 'reject');
  // Typed again: the compiler narrowed state.answers to undefined at the assignment above (the handler sets it).
  const given = state.answers as AnswerQuestions | undefined;
  state.answers = undefined;
  delete state.status.questions;
  if (!given) return 'rejected';
  const answers = mergeAnswers(questions, given.answers);
  state.recordAnswers({ forRevision, round, at: nowIso(), by: given.answeredBy ?? 'a person', answers });
  state.setPhase('planning', `planning with the answers to round ${round}`);
  return answers;
}
