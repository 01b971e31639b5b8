import { failureType } from '../api/errors';
import { describeIssues } from '../api/issues';
import { Plan, checkPlan, type PlanLimits } from '../api/plan';
import { answersMessage, MAX_QUESTION_ROUNDS, PlannerReply, type AnsweredQuestion, type PlanQuestion } from '../api/questions';
import type { TokenUsage } from '../api/status';
import type { PriceTable } from '../api/prices';
import { loadContext } from './context';
import type { ModelClient } from './model';
import type { MissionPaths } from './paths';
import { createAgentTurn } from './agent-turn';
import { CapabilityStore, nextFormat, responseFormat, withSchemaHint, type PlanFormat } from './plan-format';
import { planFixMessage, planMessages, planRevisionMessage, questionsNote, replanMessage, type QuestionRound } from './prompts';
import { fitTask } from './compaction';
import { contextWindowFor, estimateTokens, learnedWindow } from './context-window';
import { loadSession, newSession, saveSession, type Session } from './session';

export interface PlanTurnInput {
  missionKey: string;
  /** 1-based; a retried activity with a recorded turn returns the recorded result. */
  turn: number;
  prompt: string;
  limits: PlanLimits;
  model?: string;
  /** The input's `models.prices`, over the worker's table. */
  prices?: PriceTable;
  /** What to tell the planner before this turn: validation errors, reviewer feedback, a re-plan, or the answers to its questions. */
  followUp?: PlanFollowUp;
  /** Set when the planner may ask instead of planning (this turn's questions would be that round); absent: it must plan. */
  questions?: QuestionRound;
}

/**
 * Validation errors, reviewer feedback, a re-plan of the milestones not started (the first `keep` stay as they are),
 * or the answers to the planner's questions.
 */
export type PlanFollowUp =
  | { kind: 'invalid'; errors: string[] }
  | { kind: 'revise'; feedback: string }
  | { kind: 'replan'; feedback: string; keep: string[] }
  | { kind: 'answers'; answers: AnsweredQuestion[]; round: number; maxRounds: number };

export interface PlanTurnResult {
  plan: Plan | null;
  /** The planner asked instead of planning (absent in results recorded before it could). */
  questions?: PlanQuestion[];
  /**
   * The planner asked, but its questions broke the rules (too many, no default): it may ask again with the errors.
   * Any other refused reply (a broken plan, or `{ questions: [], plan: null }`, the shortest way out a small model
   * under a grammar takes) is corrected with the plan schema alone: no option to ask in a correction.
   */
  askedBadly?: true;
  /** The reply declined the option with `{ questions: [], plan: null }`: not counted as a failed plan (the next request cannot do it again). */
  empty?: true;
  errors: string[];
  tokens: TokenUsage;
}

export type { AgentTurnInput } from './agent-turn';
export { PLAN_JSON_SCHEMA } from './plan-format';

export function createLlmActivities(deps: { model: ModelClient; paths: MissionPaths; contextWindows?: Record<string, number> }) {
  const { model, paths } = deps;
  const capabilities = new CapabilityStore(paths.capabilitiesFile());
  const agentTurn = createAgentTurn(deps);

  async function planTurn(input: PlanTurnInput): Promise<PlanTurnResult> {
    const file = paths.sessionFile(input.missionKey, 'plan');
    const session =
      (await loadSession<PlanTurnResult>(file)) ??
      newSession<PlanTurnResult>(planMessages(input.prompt, input.limits, await loadContext(paths.contextFile(input.missionKey)), input.questions));
    const recorded = session.turns[String(input.turn)];
    if (recorded) return recorded;

    if (input.followUp) session.messages.push({ role: 'user', content: followUpText(input.followUp, input.questions) });
    session.window ??= contextWindowFor(input.model ?? model.defaultModel, deps.contextWindows);
    const reply = await completePlan(session, input);
    const content = reply.message.content ?? '';
    session.messages.push({ role: 'assistant', content });
    const repoSkills = (await loadContext(paths.contextFile(input.missionKey))).skills.map((s) => s.name);
    const parsed = parsePlan(content, reply.message.refusal, input.limits, input.questions !== undefined, repoSkills);
    // A reply cut at the output limit is broken JSON, but "not valid JSON" makes a model send the same again.
    if (!parsed.plan && reply.finishReason === 'length') parsed.errors = [cutOffError(reply.tokens.completion)];
    const result: PlanTurnResult = { ...parsed, tokens: reply.tokens };
    session.turns[String(input.turn)] = result;
    await saveSession(file, session);
    return result;
  }

  /**
   * Asks for the plan in the best format this endpoint takes; a refused format is remembered and the next one
   * tried. A task too long for the model's window (a large repository listing) is clipped, also when the server
   * says it did not fit.
   */
  async function completePlan(session: Session<PlanTurnResult>, input: PlanTurnInput) {
    const key = CapabilityStore.key(model.baseURL, input.model ?? model.defaultModel);
    let format: PlanFormat = (await capabilities.planFormat(key)) ?? 'json_schema';
    for (let overflows = 0; ; ) {
      session.messages = fitTask(session.messages, session.window!);
      try {
        const asks = input.questions !== undefined;
        const response_format = responseFormat(format, input.limits, asks);
        return await model.complete({ model: input.model, messages: withSchemaHint(session.messages, format, input.limits, asks), ...(response_format ? { response_format } : {}) }, input.prices);
      } catch (err) {
        if (failureType(err) === 'MODEL_CONTEXT_EXCEEDED' && overflows++ < 2) {
          session.window = learnedWindow(session.window!, (err as Error).message, estimateTokens(withSchemaHint(session.messages, format, input.limits, input.questions !== undefined)));
          continue;
        }
        const next = nextFormat(err, format);
        if (!next) throw err;
        format = next;
        await capabilities.remember(key, format);
      }
    }
  }

  return { planTurn, agentTurn };
}

const cutOffError = (tokens: number) =>
  `the reply was cut off at the output limit (${tokens} tokens) before the plan ended; return a shorter plan: fewer and shorter criteria, no line repeated`;

/** The user message before a turn; a turn that may ask again (a revision, more rounds left) says how. */
function followUpText(followUp: NonNullable<PlanTurnInput['followUp']>, questions: QuestionRound | undefined): string {
  const text =
    followUp.kind === 'invalid'
      ? planFixMessage(followUp.errors)
      : followUp.kind === 'revise'
        ? planRevisionMessage(followUp.feedback)
        : followUp.kind === 'replan'
          ? replanMessage(followUp.feedback, followUp.keep)
          : answersMessage(followUp.answers, followUp.round, followUp.maxRounds);
  return questions && followUp.kind === 'revise' ? `${text}\n\n${questionsNote(questions)}` : text;
}

/**
 * A plan reply becomes either a plan, the planner's questions (only when it may ask: `questions`), or the list of
 * reasons it was refused (sent back to the planner). A bare plan is taken either way (models that ignore the wrapper).
 */
export function parsePlan(content: string, refusal: string | null | undefined, limits: PlanLimits, questions = false, repoSkills: readonly string[] = []): Omit<PlanTurnResult, 'tokens'> {
  if (refusal) return { plan: null, errors: [`the model refused: ${refusal}`] };
  let json: unknown;
  try {
    json = JSON.parse(content.trim().replace(/^```(?:json)?\s*|\s*```$/g, ''));
  } catch (err) {
    return { plan: null, errors: [`the reply is not valid JSON (${(err as Error).message}); answer with the JSON plan only`] };
  }
  if (isWrapped(json)) return parseWrapped(json, limits, questions, repoSkills);
  const parsed = Plan.safeParse(json);
  if (!parsed.success) return { plan: null, errors: describeIssues(parsed.error, Plan) };
  return checked(parsed.data, limits, repoSkills);
}

function checked(plan: Plan, limits: PlanLimits, repoSkills: readonly string[]): Omit<PlanTurnResult, 'tokens'> {
  const errors = checkPlan(plan, limits, repoSkills);
  return errors.length ? { plan: null, errors } : { plan, errors: [] };
}

/** `{ questions, plan }` rather than a bare plan (which has `milestones`). */
const isWrapped = (json: unknown): json is Record<string, unknown> =>
  typeof json === 'object' && json !== null && !Array.isArray(json) && ('questions' in json || ('plan' in json && !('milestones' in json)));

function parseWrapped(json: Record<string, unknown>, limits: PlanLimits, questions: boolean, repoSkills: readonly string[]): Omit<PlanTurnResult, 'tokens'> {
  const parsed = PlannerReply.safeParse(json);
  if (!parsed.success) {
    const asked = Array.isArray(json.questions) && json.questions.length > 0;
    return { plan: null, errors: describeIssues(parsed.error, PlannerReply), ...(asked ? { askedBadly: true as const } : {}) };
  }
  const reply = parsed.data;
  if (reply.questions.length) {
    if (questions) return { plan: null, questions: reply.questions, errors: [] };
    return { plan: null, errors: [`no more questions are allowed (at most ${MAX_QUESTION_ROUNDS} rounds): return the plan, stating in "assumptions" what you assumed for the questions left open`] };
  }
  if (!reply.plan) return { plan: null, empty: true, errors: ['the reply has neither questions nor a plan: return the plan'] };
  return checked(reply.plan, limits, repoSkills);
}
