import { condition } from '@temporalio/workflow';
import { MAX_QUESTION_ROUNDS, mergeAnswers, type AnsweredQuestion, type PlanQuestion } from '../api/questions';
import type { MissionContext } from './agents';
import { nowIso } from './state';

/** Missions recorded before the planner could ask never waited in `awaiting-answers`; they replay without it. */
export const QUESTIONS_PATCH = 'clarifying-questions';

/** Who answered when nobody was asked: the mission plans on without a person (requirePlanApproval: false). */
export const DEFAULTS_WITHOUT_APPROVAL = 'defaults: approval not required';

/**
 * The planner asked: wait in `awaiting-answers` for `answerQuestions` (each unanswered question takes its default),
 * or, when no person approves the plan, take the defaults at once. Either way the round is recorded for the report.
 */
export async function answersFor(ctx: MissionContext, questions: PlanQuestion[], round: number): Promise<AnsweredQuestion[]> {
  const { state, input } = ctx;
  const forRevision = state.status.planRevision + 1;
  if (!input.requirePlanApproval) {
    const answers = mergeAnswers(questions, {});
    state.recordAnswers({ forRevision, round, at: nowIso(), by: DEFAULTS_WITHOUT_APPROVAL, answers });
    return answers;
  }
  state.answers = undefined;
  state.status.questions = { round, maxRounds: MAX_QUESTION_ROUNDS, questions };
  state.setPhase('awaiting-answers', `waiting for answerQuestions: ${questions.length} question(s), round ${round} of at most ${MAX_QUESTION_ROUNDS}`);
  await condition(() => state.answers !== undefined);
  const given = state.answers!;
  state.answers = undefined;
  delete state.status.questions;
  const answers = mergeAnswers(questions, given.answers);
  state.recordAnswers({ forRevision, round, at: nowIso(), by: given.answeredBy ?? 'a person', answers });
  state.setPhase('planning', `planning with the answers to round ${round}`);
  return answers;
}
