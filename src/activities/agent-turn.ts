import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionFunctionTool,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { FeatureInput, SessionRef, TurnResult } from '../api/agent';
import type { AgentNote } from '../api/messages';
import { failureType, missionFailure } from '../api/errors';
import { addTokens, asCompaction, ZERO_TOKENS, type TokenUsage } from '../api/status';
import {
  clipToolAnswers,
  COMPACT_AT_SHARE,
  compactedMessage,
  compactionRequest,
  filesTouched,
  fitTask,
  KEEP_TURNS,
  renderTranscript,
  splitForCompaction,
  TARGET_SHARE,
} from './compaction';
import { contextWindowFor, estimateTokens, learnedWindow } from './context-window';
import type { MissionPaths } from './paths';
import { openSession } from './agent';
import { NUDGE, steeringMessage } from './prompts';
import { requireSession, saveSession, type RequestUsage, type Session } from './session';
import type { Completion, CompletionRequest, ModelClient } from './model';
import { parseTextToolCalls } from './text-tool-calls';
import { outputLimitChars } from './tool-output';
import { offeredTools, TOOL_NAMES, toolLabel } from './tools';

export interface AgentTurnInput {
  session: SessionRef;
  turn: number;
  model?: string;
  /** Context windows by model name from the mission input (`models.contextWindow`); the worker's settings otherwise. */
  contextWindows?: Record<string, number>;
  /** Steering notes this turn must show the model first (each is kept once in the conversation, by index). */
  steering?: AgentNote[];
  /** The agent's input, on its first turn: the conversation is opened first if it is not there (one step less per agent). */
  open?: FeatureInput;
}

/** A reply cut at the output limit is continued at most this many times. */
const MAX_CONTINUATIONS = 2;
/** A context overflow is compacted and retried at most this many times before the agent gives up. */
const MAX_OVERFLOW_RETRIES = 3;
const CONTINUE = 'Your reply was cut off at the output limit. Continue exactly where it stopped, without repeating anything.';

type Ask = (kind: RequestUsage['kind'], request: CompletionRequest) => Promise<Completion>;

interface TurnReply {
  content: string;
  calls: ChatCompletionMessageFunctionToolCall[];
  tokens: TokenUsage;
}

/**
 * One agent turn: keep the conversation within the model's window (compacting older turns when it nears it,
 * and once more when the server says it did not fit), ask the model, and record its answer on disk.
 */
export function createAgentTurn(deps: { model: ModelClient; paths: MissionPaths; contextWindows?: Record<string, number> }) {
  const { model, paths } = deps;

  async function agentTurn(input: AgentTurnInput): Promise<TurnResult> {
    const file = paths.sessionFile(input.session.missionKey, input.session.name);
    if (input.open) await openSession(paths, input.session, input.open);
    const session = await requireSession<TurnResult>(file);
    const recorded = session.turns[String(input.turn)];
    if (recorded) return recorded;
    addSteering(session, input.steering ?? []);
    /** Every model call of the turn, its token counts logged in the session (marked when estimated). */
    const ask = async (kind: RequestUsage['kind'], request: CompletionRequest): Promise<Completion> => {
      const reply = await model.complete(request, session.prices);
      (session.requests ??= []).push({ turn: input.turn, kind, prompt: reply.tokens.prompt, completion: reply.tokens.completion, ...(reply.estimated ? { estimated: true as const } : {}) });
      return reply;
    };

    const modelName = input.model ?? model.defaultModel;
    session.window ??= contextWindowFor(modelName, { ...deps.contextWindows, ...input.contextWindows });
    const tools = offeredTools(!session.noSkills);
    let tokens = session.pendingTokens ?? ZERO_TOKENS;
    let reply: TurnReply | undefined;
    for (let attempt = 0; !reply; attempt++) {
      if (attempt > 0 || estimateTokens(session.messages, tools) > session.window * COMPACT_AT_SHARE) {
        const spent = await compact(session, input, attempt, ask);
        if (!spent && attempt > 0) throw cannotContinue(input, session, 'there are no older turns left to compact');
        if (spent) {
          tokens = addTokens(tokens, asCompaction(spent));
          session.pendingTokens = tokens;
          await saveSession(file, session); // a retried turn finds the conversation compacted: no second summary call
        }
      }
      try {
        reply = await completeTurn(session.messages, input, ask, tools);
      } catch (err) {
        if (failureType(err) !== 'MODEL_CONTEXT_EXCEEDED') throw err;
        if (attempt >= MAX_OVERFLOW_RETRIES) throw cannotContinue(input, session, (err as Error).message);
        // The server knows the real window (and its own count): keep below it from now on.
        session.window = learnedWindow(session.window, (err as Error).message, estimateTokens(session.messages, tools));
        await saveSession(file, session);
      }
    }

    // Some servers send empty or repeated call ids ("call_0" every turn); ours must be unique in the conversation.
    const seen = new Set<string>();
    reply.calls = reply.calls.map((c, i) => {
      const id = !c.id || seen.has(c.id) || session.tools[c.id] ? `call_${input.turn}_${i}` : c.id;
      seen.add(id);
      return id === c.id ? c : { ...c, id };
    });
    const assistant: ChatCompletionAssistantMessageParam = { role: 'assistant', content: reply.calls.length && !reply.content ? null : reply.content };
    if (reply.calls.length) assistant.tool_calls = reply.calls.map((c) => ({ id: c.id, type: 'function', function: c.function }));
    session.messages.push(assistant);
    if (!reply.calls.length) session.messages.push({ role: 'user', content: NUDGE });

    const result: TurnResult = {
      toolCalls: reply.calls.map((c) => ({ id: c.id, name: c.function.name, label: toolLabel(c.function.name, c.function.arguments) })),
      text: reply.content.slice(0, 500),
      tokens: addTokens(tokens, reply.tokens),
    };
    session.turns[String(input.turn)] = result;
    delete session.pendingTokens;
    await saveSession(file, session);
    return result;
  }

  /** Asks the model; a reply cut at the output limit is continued, and a tool call written as JSON text becomes a tool call. */
  async function completeTurn(messages: ChatCompletionMessageParam[], input: AgentTurnInput, log: Ask, tools: ChatCompletionFunctionTool[]): Promise<TurnReply> {
    const ask = (extra: ChatCompletionMessageParam[]) =>
      log(extra.length ? 'continue' : 'turn', { model: input.model, messages: [...messages, ...extra], tools, tool_choice: 'auto' });
    let reply = await ask([]);
    let tokens = reply.tokens;
    let content = reply.message.content ?? '';
    let calls = functionCalls(reply.message.tool_calls);
    for (let i = 0; i < MAX_CONTINUATIONS && reply.finishReason === 'length' && !calls.length; i++) {
      reply = await ask([{ role: 'assistant', content }, { role: 'user', content: CONTINUE }]);
      tokens = addTokens(tokens, reply.tokens);
      content += reply.message.content ?? '';
      calls = functionCalls(reply.message.tool_calls);
    }
    if (!calls.length) {
      const fromText = parseTextToolCalls(content, TOOL_NAMES);
      // Recorded as proper tool calls (ids of our own), so the next request's transcript is valid.
      calls = fromText.map((c, i) => ({ id: `text_${input.turn}_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      if (calls.length) content = '';
    }
    return { content, calls, tokens };
  }

  /**
   * Replaces the older turns by a model-written summary. Each retry after an overflow keeps fewer turns
   * verbatim; when no turn is left to summarise, long tool answers are clipped. Undefined: nothing could shrink.
   */
  async function compact(session: Session<TurnResult>, input: AgentTurnInput, attempt: number, ask: Ask): Promise<TokenUsage | undefined> {
    const window = session.window!;
    const fitted = fitTask(session.messages, window);
    const taskClipped = fitted !== session.messages;
    session.messages = fitted;
    let split;
    for (let keep = Math.max(1, KEEP_TURNS - attempt); keep >= 1 && !split; keep--) split = splitForCompaction(session.messages, keep);
    if (!split) {
      const clipped = clipToolAnswers(session.messages, Math.floor(outputLimitChars(window) / (attempt + 1)));
      if (JSON.stringify(clipped).length >= JSON.stringify(session.messages).length) return taskClipped ? ZERO_TOKENS : undefined;
      session.messages = clipped;
      return ZERO_TOKENS;
    }
    let summary: string;
    let spent = ZERO_TOKENS;
    try {
      const reply = await ask('compact', { model: input.model, messages: compactionRequest(input.session.name, split.head, split.older, window) });
      summary = reply.message.content ?? '';
      spent = reply.tokens;
    } catch (err) {
      if (failureType(err) !== 'MODEL_CONTEXT_EXCEEDED') throw err;
      // Even the summary request did not fit: keep a mechanical digest of the older turns instead.
      summary = `(no model summary: the request did not fit) The older turns, clipped:\n${renderTranscript(split.older, Math.floor(window * TARGET_SHARE))}`;
    }
    session.files = filesTouched(split.older, session.files);
    session.compactions = (session.compactions ?? 0) + 1;
    let recent = split.recent;
    const rebuilt = () => [...split.head, compactedMessage(summary, split.older.length, session.files ?? [], session.compactions ?? 1), ...recent];
    if (estimateTokens(rebuilt(), offeredTools(!session.noSkills)) > window * TARGET_SHARE) recent = clipToolAnswers(recent, Math.floor(outputLimitChars(window) / 2));
    session.messages = rebuilt();
    return spent;
  }

  return agentTurn;
}

/** A person's notes go in as user messages after the last answer, each once (a retried turn finds it there). */
function addSteering(session: Session<TurnResult>, notes: AgentNote[]): void {
  for (const note of notes) {
    const steered = (session.steered ??= []);
    if (steered.includes(note.index)) continue;
    session.messages.push({ role: 'user', content: steeringMessage(note) });
    steered.push(note.index);
  }
}

function functionCalls(calls: { type: string }[] | undefined): ChatCompletionMessageFunctionToolCall[] {
  return (calls ?? []).filter((c): c is ChatCompletionMessageFunctionToolCall => c.type === 'function');
}

function cannotContinue(input: AgentTurnInput, session: Session<TurnResult>, why: string) {
  return missionFailure(
    'MODEL_CONTEXT_EXCEEDED',
    `agent ${input.session.name} cannot continue: its conversation does not fit the model's context window (about ${session.window} tokens) ` +
      `even after compaction (${why}). This agent ends failed; the mission goes on. Use a model with a larger window, or set it ` +
      `with MISSION_CONTEXT_WINDOW on the worker or models.contextWindow in the input if it is larger than assumed.`,
  );
}
