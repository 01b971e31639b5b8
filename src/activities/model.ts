import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessage } from 'openai/resources/chat/completions';
import { missionFailure } from '../api/errors';
import { whileHeartbeating } from './activity-context';
import { estimateTextTokens, estimateTokens, isContextOverflow, messageText } from './context-window';
import { DEFAULT_PRICES, priced, type PriceTable } from '../api/prices';
import type { TokenUsage } from '../api/status';

export interface Completion {
  message: ChatCompletionMessage;
  tokens: TokenUsage;
  model: string;
  /** `length` when the reply was cut at the output limit. */
  finishReason?: string;
  /** True when the server sent no usage and the counts are Mission's estimate (a token per four characters). */
  estimated: boolean;
}

export type CompletionRequest = Omit<ChatCompletionCreateParamsNonStreaming, 'model'> & { model?: string };

/**
 * The one door to the model. The `openai` client's own retries are off (the worker builds it with
 * maxRetries: 0): Temporal retries the activity instead, so every retry is visible in history.
 */
export class ModelClient {
  constructor(
    private readonly openai: OpenAI,
    readonly defaultModel: string,
    /** Prices by model (the defaults with MISSION_PRICES over them): each call's usage carries its cost. */
    private readonly prices: PriceTable = DEFAULT_PRICES,
  ) {}

  /** The endpoint's address: model capabilities are remembered per endpoint and model. */
  get baseURL(): string {
    return this.openai.baseURL;
  }

  /** `prices`: the mission's own prices (its input's `models.prices`), over the worker's. */
  async complete(request: CompletionRequest, prices?: PriceTable): Promise<Completion> {
    const model = request.model ?? this.defaultModel;
    let completion;
    try {
      completion = await whileHeartbeating((signal) => this.openai.chat.completions.create({ ...request, model, stream: false }, { signal }));
    } catch (err) {
      throw toModelFailure(err, model, this.openai.baseURL);
    }
    const message = completion.choices[0]?.message;
    if (!message) throw missionFailure('MODEL_UNAVAILABLE', `model "${model}" returned no choices; retrying`);
    const usage = completion.usage;
    // Some local servers send no usage: an estimate keeps token budgets meaningful.
    const prompt = usage?.prompt_tokens ?? estimateTokens(request.messages, request.tools);
    const completionTokens = usage?.completion_tokens ?? estimateTextTokens(messageText(message));
    const cached = usage?.prompt_tokens_details?.cached_tokens;
    const tokens: TokenUsage = { prompt, completion: completionTokens, total: usage?.total_tokens ?? prompt + completionTokens, ...(cached ? { cached } : {}) };
    return {
      message,
      model,
      finishReason: completion.choices[0]?.finish_reason ?? undefined,
      estimated: !usage,
      // Priced as the model asked for; else as the one the server says answered (a local server may name it otherwise).
      tokens: priced(tokens, [model, completion.model], prices ? { ...this.prices, ...prices } : this.prices),
    };
  }
}

/** Maps transport and HTTP errors onto the taxonomy: fatal ones fail fast, transient ones are retried by Temporal. */
export function toModelFailure(err: unknown, model: string, baseURL: string): Error {
  if (!(err instanceof OpenAI.APIError)) return err instanceof Error ? err : new Error(String(err));
  const detail = redactSecrets(err.message);
  const where = `model "${model}" at ${baseURL}`;
  if (err instanceof OpenAI.APIConnectionError) {
    return missionFailure('MODEL_UNAVAILABLE', `could not reach ${where}: ${detail}; retrying`);
  }
  const status = err.status ?? 0;
  if (status === 401 || status === 403) {
    return missionFailure('MODEL_AUTH', `${where} refused the credentials (HTTP ${status}): ${detail}. Set a valid OPENAI_API_KEY on the worker and restart it.`);
  }
  if (status === 404) {
    return missionFailure('MODEL_NOT_FOUND', `${where} was not found (HTTP 404): ${detail}. Set MISSION_MODEL or the input's models.* to a model this endpoint serves.`);
  }
  if (status === 429) {
    return missionFailure('MODEL_RATE_LIMITED', `${where} refused for rate limit or quota (HTTP 429): ${detail}; retrying`, {
      nextRetryDelayMs: retryAfterMs(err.headers),
    });
  }
  if (status === 408 || status === 409 || status >= 500) {
    return missionFailure('MODEL_UNAVAILABLE', `${where} is unavailable (HTTP ${status}): ${detail}; retrying`, {
      nextRetryDelayMs: retryAfterMs(err.headers),
    });
  }
  if (isContextOverflow(typeof err.code === 'string' ? err.code : undefined, err.message)) {
    return missionFailure('MODEL_CONTEXT_EXCEEDED', `${where} could not take the conversation (HTTP ${status}): ${detail}`);
  }
  return missionFailure('MODEL_BAD_REQUEST', `${where} rejected the request (HTTP ${status}): ${detail}`);
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after-ms') ?? undefined;
  if (value && Number.isFinite(Number(value))) return Math.max(0, Number(value));
  const seconds = headers?.get('retry-after');
  if (!seconds) return undefined;
  if (Number.isFinite(Number(seconds))) return Math.max(0, Number(seconds) * 1000);
  const date = Date.parse(seconds);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Keeps API keys out of messages that end up in history, status and logs. */
export function redactSecrets(text: string): string {
  return text.replace(/\b(sk|pk|rk)-[A-Za-z0-9_-]{6,}/g, '$1-***').replace(/Bearer\s+[A-Za-z0-9._-]+/g, 'Bearer ***');
}
