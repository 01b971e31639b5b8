import { z } from 'zod';
import type { ChatCompletionAssistantMessageParam, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { SessionRef, TurnResult } from '../api/agent';
import { describeIssues } from '../api/issues';
import { Plan, checkPlan, type PlanLimits } from '../api/plan';
import type { TokenUsage } from '../api/status';
import { loadContext } from './context';
import type { ModelClient } from './model';
import type { MissionPaths } from './paths';
import { NUDGE, planFixMessage, planMessages, planRevisionMessage } from './prompts';
import { loadSession, newSession, requireSession, saveSession } from './session';
import { TOOL_DEFINITIONS, toolLabel } from './tools';

export interface PlanTurnInput {
  missionKey: string;
  /** 1-based; a retried activity with a recorded turn returns the recorded result. */
  turn: number;
  prompt: string;
  limits: PlanLimits;
  model?: string;
  /** What to tell the planner before this turn: validation errors or reviewer feedback. */
  followUp?: { kind: 'invalid'; errors: string[] } | { kind: 'revise'; feedback: string };
}

export interface PlanTurnResult {
  plan: Plan | null;
  errors: string[];
  tokens: TokenUsage;
}

export interface AgentTurnInput {
  session: SessionRef;
  turn: number;
  model?: string;
}

/** JSON schema for `response_format`, without keywords strict structured outputs reject. */
export const PLAN_JSON_SCHEMA = stripUnsupported(z.toJSONSchema(Plan, { target: 'draft-7' })) as Record<string, unknown>;

function stripUnsupported(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripUnsupported);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'minLength' || key === 'maxLength') continue;
    out[key] = stripUnsupported(value);
  }
  return out;
}

export function createLlmActivities(deps: { model: ModelClient; paths: MissionPaths }) {
  const { model, paths } = deps;

  async function planTurn(input: PlanTurnInput): Promise<PlanTurnResult> {
    const file = paths.sessionFile(input.missionKey, 'plan');
    const session =
      (await loadSession<PlanTurnResult>(file)) ??
      newSession<PlanTurnResult>(planMessages(input.prompt, input.limits, await loadContext(paths.contextFile(input.missionKey))));
    const recorded = session.turns[String(input.turn)];
    if (recorded) return recorded;

    if (input.followUp) {
      const text = input.followUp.kind === 'invalid' ? planFixMessage(input.followUp.errors) : planRevisionMessage(input.followUp.feedback);
      session.messages.push({ role: 'user', content: text });
    }
    const reply = await model.complete({
      model: input.model,
      messages: session.messages,
      response_format: { type: 'json_schema', json_schema: { name: 'mission_plan', strict: true, schema: PLAN_JSON_SCHEMA } },
    });
    const content = reply.message.content ?? '';
    session.messages.push({ role: 'assistant', content });
    const result: PlanTurnResult = { ...parsePlan(content, reply.message.refusal, input.limits), tokens: reply.tokens };
    session.turns[String(input.turn)] = result;
    await saveSession(file, session);
    return result;
  }

  async function agentTurn(input: AgentTurnInput): Promise<TurnResult> {
    const file = paths.sessionFile(input.session.missionKey, input.session.name);
    const session = await requireSession<TurnResult>(file);
    const recorded = session.turns[String(input.turn)];
    if (recorded) return recorded;

    const reply = await model.complete({ model: input.model, messages: session.messages, tools: TOOL_DEFINITIONS, tool_choice: 'auto' });
    const calls = (reply.message.tool_calls ?? []).filter((c): c is ChatCompletionMessageFunctionToolCall => c.type === 'function');
    const assistant: ChatCompletionAssistantMessageParam = { role: 'assistant', content: reply.message.content ?? null };
    if (calls.length) assistant.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: c.function }));
    session.messages.push(assistant);
    if (!calls.length) session.messages.push({ role: 'user', content: NUDGE });

    const result: TurnResult = {
      toolCalls: calls.map((c) => ({ id: c.id, name: c.function.name, label: toolLabel(c.function.name, c.function.arguments) })),
      text: (reply.message.content ?? '').slice(0, 500),
      tokens: reply.tokens,
    };
    session.turns[String(input.turn)] = result;
    await saveSession(file, session);
    return result;
  }

  return { planTurn, agentTurn };
}

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
