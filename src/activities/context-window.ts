import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';

/**
 * How much a model can read at once, and how much a conversation takes. Servers count tokens with the
 * model's own tokenizer; Mission has none, so it estimates a token per four characters (the usual rule
 * of thumb for English and code) plus a little per message, and learns the real window from the
 * server's error when the estimate was too hopeful.
 */

/** Unknown models get a window small enough for a typical local server (llama.cpp and Ollama default to 2–8k). */
export const DEFAULT_CONTEXT_WINDOW = 8192;

/** Input windows (tokens) of well-known models, by name; the first match wins, so longer names come first. */
const KNOWN_WINDOWS: [RegExp, number][] = [
  [/gpt-5/, 272_000],
  [/gpt-4\.1/, 1_047_576],
  [/gpt-4o/, 128_000],
  [/gpt-4-turbo|gpt-4-1106|gpt-4-0125/, 128_000],
  [/gpt-4/, 8_192],
  [/gpt-3\.5/, 16_385],
  [/(^|\/)o[134](-mini|-pro)?($|-)/, 200_000],
  [/claude/, 200_000],
  [/qwen2\.5-coder|qwen2\.5|qwen3|qwq/, 32_768],
  [/llama-?3\.[123]/, 131_072],
  [/llama-?3/, 8_192],
  [/deepseek/, 64_000],
  [/codestral/, 32_768],
  [/mistral|mixtral/, 32_768],
  [/gemma-?[23]/, 8_192],
];

/**
 * The context window (tokens) Mission assumes for a model: configured (`overrides` by model name, exact and
 * case-insensitive, or `*` for every model), else known, else the conservative default.
 */
export function contextWindowFor(model: string, overrides: Record<string, number> = {}): number {
  const name = model.toLowerCase();
  for (const [key, value] of Object.entries(overrides)) if (key.toLowerCase() === name) return value;
  if (overrides['*']) return overrides['*'];
  return KNOWN_WINDOWS.find(([pattern]) => pattern.test(name))?.[1] ?? DEFAULT_CONTEXT_WINDOW;
}

/**
 * MISSION_CONTEXT_WINDOW: either a number for every model (`16384`) or `model=tokens` pairs separated by
 * commas (`qwen2.5-coder:1.5b=4096,gpt-4o=128000`). Throws a message naming the bad part.
 */
export function parseContextWindowSetting(text: string | undefined): Record<string, number> {
  if (!text?.trim()) return {};
  if (/^\d+$/.test(text.trim())) return { '*': positive(text.trim(), text) };
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = part.lastIndexOf('=');
    if (at <= 0) throw new Error(`MISSION_CONTEXT_WINDOW: "${part}" is not model=tokens (e.g. qwen2.5-coder=32768)`);
    out[part.slice(0, at).trim()] = positive(part.slice(at + 1).trim(), part);
  }
  return out;
}

function positive(value: string, part: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 256) throw new Error(`MISSION_CONTEXT_WINDOW: "${part}" must give a whole number of tokens, at least 256`);
  return n;
}

export const CHARS_PER_TOKEN = 4;
const PER_MESSAGE = 4;

/** The text a message carries: its content (string or parts) and the names and arguments of its tool calls. */
export function messageText(message: ChatCompletionMessageParam): string {
  const content = (message as { content?: unknown }).content;
  let text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: { text?: string }) => p.text ?? '').join('') : '';
  for (const call of (message as { tool_calls?: { function?: { name: string; arguments: string } }[] }).tool_calls ?? []) {
    text += call.function ? call.function.name + call.function.arguments : '';
  }
  return text;
}

export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** An estimate of a request's prompt tokens (messages and tool definitions), on the safe side. */
export function estimateTokens(messages: ChatCompletionMessageParam[], tools: ChatCompletionTool[] = []): number {
  const toolChars = tools.length ? JSON.stringify(tools).length : 0;
  return messages.reduce((n, m) => n + PER_MESSAGE + estimateTextTokens(messageText(m)), 0) + Math.ceil(toolChars / CHARS_PER_TOKEN);
}

/**
 * Whether a provider's error says the request did not fit the model's context: OpenAI's code
 * `context_length_exceeded`, vLLM's "maximum context length", llama.cpp's "exceeds the available context
 * size", Ollama's "context length"/"prompt too long".
 */
export function isContextOverflow(code: string | null | undefined, message: string): boolean {
  if (code === 'context_length_exceeded' || code === 'exceed_context_size_error') return true;
  return /maximum context length|context length exceeded|exceeds? the (available )?context size|context size has been exceeded|context window|input length exceeds|prompt (is )?too long|too many tokens/i.test(
    message,
  );
}

/** The window a provider's overflow message states, when it does ("maximum context length is 8192 tokens", "context size (4096 tokens)"). */
export function windowFromMessage(message: string): number | undefined {
  const match =
    /maximum context length is (\d+)/i.exec(message) ?? /context size \((\d+) tokens\)/i.exec(message) ?? /n_ctx(?:_slot)?[" =:]+(\d+)/i.exec(message);
  const n = match ? Number(match[1]) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The token count a provider's overflow message says the request had ("resulted in 9000 tokens", "request (5012 tokens)"). */
export function usedFromMessage(message: string): number | undefined {
  const match = /resulted in (\d+) tokens/i.exec(message) ?? /you requested (\d+) tokens/i.exec(message) ?? /request \((\d+) tokens\)/i.exec(message);
  const n = match ? Number(match[1]) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * The window to keep to after a request estimated at `sentEstimate` tokens was refused, in Mission's estimate
 * units: the server's tokenizer may count more than a token per four characters (code often does), so the
 * stated window is scaled by how far the estimate was off when the server says what it counted; otherwise it
 * is at most a bit less than what was sent.
 */
export function learnedWindow(current: number, message: string, sentEstimate: number): number {
  const stated = windowFromMessage(message);
  const used = usedFromMessage(message);
  const learned = stated && used ? Math.floor((stated * sentEstimate) / used) : Math.min(stated ?? Infinity, Math.floor(sentEstimate * 0.9));
  return Math.max(256, Math.min(current, learned));
}
