import { failureType } from '../api/errors';
import { describeIssues } from '../api/issues';
import { Plan, checkPlan, type PlanLimits } from '../api/plan';
import type { TokenUsage } from '../api/status';
import type { PriceTable } from '../api/prices';
import { loadContext } from './context';
import type { ModelClient } from './model';
import type { MissionPaths } from './paths';
import { createAgentTurn } from './agent-turn';
import { CapabilityStore, nextFormat, responseFormat, withSchemaHint, type PlanFormat } from './plan-format';
import { planFixMessage, planMessages, planRevisionMessage, replanMessage } from './prompts';
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
  /** What to tell the planner before this turn: validation errors or reviewer feedback. */
  followUp?: PlanFollowUp;
}

/** Validation errors, reviewer feedback, or a re-plan of the milestones not started (the first `keep` stay as they are). */
export type PlanFollowUp = { kind: 'invalid'; errors: string[] } | { kind: 'revise'; feedback: string } | { kind: 'replan'; feedback: string; keep: string[] };

export interface PlanTurnResult {
  plan: Plan | null;
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
      newSession<PlanTurnResult>(planMessages(input.prompt, input.limits, await loadContext(paths.contextFile(input.missionKey))));
    const recorded = session.turns[String(input.turn)];
    if (recorded) return recorded;

    if (input.followUp) {
      const f = input.followUp;
      const text = f.kind === 'invalid' ? planFixMessage(f.errors) : f.kind === 'replan' ? replanMessage(f.feedback, f.keep) : planRevisionMessage(f.feedback);
      session.messages.push({ role: 'user', content: text });
    }
    session.window ??= contextWindowFor(input.model ?? model.defaultModel, deps.contextWindows);
    const reply = await completePlan(session, input);
    const content = reply.message.content ?? '';
    session.messages.push({ role: 'assistant', content });
    const parsed = parsePlan(content, reply.message.refusal, input.limits);
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
        const response_format = responseFormat(format, input.limits);
        return await model.complete({ model: input.model, messages: withSchemaHint(session.messages, format, input.limits), ...(response_format ? { response_format } : {}) }, input.prices);
      } catch (err) {
        if (failureType(err) === 'MODEL_CONTEXT_EXCEEDED' && overflows++ < 2) {
          session.window = learnedWindow(session.window!, (err as Error).message, estimateTokens(withSchemaHint(session.messages, format, input.limits)));
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

/** A plan reply becomes either a plan or the list of reasons it was refused (sent back to the planner). */
export function parsePlan(content: string, refusal: string | null | undefined, limits: PlanLimits): Omit<PlanTurnResult, 'tokens'> {
  if (refusal) return { plan: null, errors: [`the model refused: ${refusal}`] };
  let json: unknown;
  try {
    json = JSON.parse(content.trim().replace(/^```(?:json)?\s*|\s*```$/g, ''));
  } catch (err) {
    return { plan: null, errors: [`the reply is not valid JSON (${(err as Error).message}); answer with the JSON plan only`] };
  }
  const parsed = Plan.safeParse(json);
  if (!parsed.success) return { plan: null, errors: describeIssues(parsed.error, Plan) };
  const errors = checkPlan(parsed.data, limits);
  return errors.length ? { plan: null, errors } : { plan: parsed.data, errors: [] };
}
