import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A scripted OpenAI-compatible Chat Completions server on 127.0.0.1 for tests: no network, no key.
 * Requests are routed by the role line that starts the first user message (`Role: feature m1-f1`);
 * each role has a queue of scripted replies. It records every request, and fails loudly (HTTP 400
 * plus a recorded failure) when a script runs out or a request or transcript is malformed.
 */

export interface ScriptedToolCall {
  name: string;
  /** An object is JSON-encoded; a string is sent raw (to test malformed arguments). */
  arguments: unknown;
  id?: string;
}
export interface ScriptedMessage {
  content?: string | null;
  toolCalls?: ScriptedToolCall[];
  /** `cached_tokens`: prompt tokens served from the provider's cache, sent as `prompt_tokens_details.cached_tokens`. */
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number };
  /** Answer without a usage object (as some local servers do). */
  noUsage?: boolean;
  /** Extra fields of the message, e.g. a reasoning model's `reasoning_content`. */
  extra?: Record<string, unknown>;
  delayMs?: number;
  finishReason?: string;
}
export interface ScriptedError {
  status: number;
  message?: string;
  /** The error body's `code` (and `type`); by default an OpenAI-like one for the status. */
  code?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Destroy the socket without answering. */
  dropConnection?: boolean;
}
type Reply = ScriptedMessage | ScriptedError;
export type ScriptedReply = Reply | ((req: RecordedRequest) => Reply | Promise<Reply>);

export interface ChatToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}
export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}
export interface ChatTool {
  type: string;
  function?: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}
export interface ChatResponseFormat {
  type: string;
  json_schema?: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null };
}
/** The parsed request body: the fields tests look at are typed, the rest is kept as sent. */
export type ChatRequestBody = Record<string, unknown> & {
  model?: string;
  messages: ChatMessage[];
  tools?: ChatTool[];
  response_format?: ChatResponseFormat;
  stream?: boolean;
};
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}
export interface RecordedRequest {
  seq: number;
  /** The text after `Role: ` on the first line of the first user message; '' when missing. */
  role: string;
  body: ChatRequestBody;
  headers: Record<string, string | string[] | undefined>;
  receivedAt: number;
  respondedAt?: number;
  status?: number;
  /** The usage the server answered with (200 replies only). */
  usage?: ChatUsage;
}

const COMPLETIONS_PATH = '/v1/chat/completions';
const isError = (r: Reply): r is ScriptedError => 'status' in r;

export class ScriptedModelServer {
  readonly requests: RecordedRequest[] = [];
  readonly failures: string[] = [];
  private readonly queues = new Map<string, ScriptedReply[]>();
  private readonly prefixes: [string, ScriptedReply][] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;

  /**
   * Like a real server's context window: a request whose messages take more than this many tokens (a token per
   * four characters of content and tool-call arguments, as Mission estimates) gets HTTP 400 context_length_exceeded.
   */
  contextWindow: number | undefined;
  /** Like servers without structured outputs: a `response_format` of type json_schema gets HTTP 400. */
  rejectJsonSchema = false;

  private constructor(private readonly latencyMs: number) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(opts: { latencyMs?: number } = {}): Promise<ScriptedModelServer> {
    const instance = new ScriptedModelServer(opts.latencyMs ?? 0);
    await new Promise<void>((resolve, reject) => {
      instance.server.once('error', reject);
      instance.server.listen(0, '127.0.0.1', resolve);
    });
    return instance;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Appends replies to the role's queue; each request of that role consumes one. */
  script(role: string, replies: ScriptedReply[]): this {
    this.queues.set(role, [...(this.queues.get(role) ?? []), ...replies]);
    return this;
  }

  /** A never-exhausted default for roles starting with `prefix` that have nothing queued (longest prefix wins). */
  scriptPrefix(prefix: string, reply: ScriptedReply): this {
    this.prefixes.push([prefix, reply]);
    return this;
  }

  requestsFor(role: string): RecordedRequest[] {
    return this.requests.filter((r) => r.role === role);
  }

  remaining(): Record<string, number> {
    return Object.fromEntries([...this.queues].filter(([, queue]) => queue.length > 0).map(([role, queue]) => [role, queue.length]));
  }

  /** Throws when any request failed loudly or any scripted reply was never used. */
  assertDone(): void {
    const unused = Object.entries(this.remaining()).map(([role, n]) => `${n} scripted repl${n === 1 ? 'y' : 'ies'} for role "${role}" never used`);
    const problems = [...this.failures, ...unused];
    if (problems.length > 0) throw new Error(`scripted model server:\n- ${problems.join('\n- ')}`);
  }

  /** Clears scripts, prefix handlers, recorded requests and failures. */
  reset(): this {
    this.queues.clear();
    this.prefixes.length = 0;
    this.requests.length = 0;
    this.failures.length = 0;
    this.contextWindow = undefined;
    this.rejectJsonSchema = false;
    return this;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (err) {
      this.reject(res, undefined, `scripted model: internal error: ${err instanceof Error ? err.message : String(err)}`, 500, 'server_error');
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== 'POST' || pathOf(req.url) !== COMPLETIONS_PATH) {
      return this.reject(res, undefined, `scripted model: no route for ${req.method} ${req.url}`, 404, 'not_found');
    }
    const body = parseBody(raw);
    if (typeof body === 'string') return this.reject(res, undefined, `scripted model: ${body}`);
    const record = this.record(body, req);
    const problem = requestProblem(record);
    if (problem) return this.reject(res, record, `scripted model: request #${record.seq}${record.role ? ` (${record.role})` : ''}: ${problem}`);
    const refusal = this.refusal(record);
    if (refusal) return this.answer(req, res, record, refusal);
    const scripted = this.next(record.role);
    if (!scripted) {
      return this.reject(res, record, `scripted model: no reply left for role "${record.role}" (request #${record.seq})`, 400, 'script_exhausted');
    }
    const reply = await this.resolve(scripted, record);
    if (typeof reply === 'string') return this.reject(res, record, reply, 400, 'script_error');
    await delay(this.latencyMs + (reply.delayMs ?? 0));
    this.answer(req, res, record, reply);
  }

  /** What a server with a small window or without json_schema answers before any script runs. */
  private refusal(record: RecordedRequest): ScriptedError | undefined {
    if (this.rejectJsonSchema && record.body.response_format?.type === 'json_schema') {
      return { status: 400, code: 'invalid_request_error', message: "response_format: type 'json_schema' is not supported by this server; use 'json_object' or 'text'" };
    }
    const tokens = promptTokens(record.body.messages);
    if (this.contextWindow !== undefined && tokens > this.contextWindow) {
      return {
        status: 400,
        code: 'context_length_exceeded',
        message: `This model's maximum context length is ${this.contextWindow} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
      };
    }
    return undefined;
  }

  private record(body: ChatRequestBody, req: http.IncomingMessage): RecordedRequest {
    const record: RecordedRequest = { seq: this.requests.length + 1, role: roleOf(body.messages), body, headers: { ...req.headers }, receivedAt: Date.now() };
    this.requests.push(record);
    return record;
  }

  private next(role: string): ScriptedReply | undefined {
    const queue = this.queues.get(role);
    if (queue && queue.length > 0) return queue.shift();
    const matching = this.prefixes.filter(([prefix]) => role.startsWith(prefix));
    return matching.sort(([a], [b]) => b.length - a.length)[0]?.[1];
  }

  /** Runs a function reply; a throwing script is a loud failure, returned as its message. */
  private async resolve(scripted: ScriptedReply, record: RecordedRequest): Promise<Reply | string> {
    if (typeof scripted !== 'function') return scripted;
    try {
      return await scripted(record);
    } catch (err) {
      return `scripted model: reply function for role "${record.role}" threw (request #${record.seq}): ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, record: RecordedRequest, reply: Reply): void {
    record.respondedAt = Date.now();
    if (!isError(reply)) {
      record.status = 200;
      return send(res, 200, completion(record, reply));
    }
    if (reply.dropConnection) {
      req.socket.destroy();
      return;
    }
    record.status = reply.status;
    const code = reply.code ?? defaultCode(reply.status);
    send(res, reply.status, errorBody(reply.message ?? `scripted HTTP ${reply.status}`, code), reply.headers);
  }

  private reject(res: http.ServerResponse, record: RecordedRequest | undefined, message: string, status = 400, code = 'invalid_request_error'): void {
    this.failures.push(message);
    if (record) {
      record.status = status;
      record.respondedAt = Date.now();
    }
    send(res, status, errorBody(message, code));
  }
}

function completion(record: RecordedRequest, reply: ScriptedMessage): Record<string, unknown> {
  const toolCalls = reply.toolCalls?.map((call, i) => toolCall(call, `call_${record.seq}_${i}`)) ?? [];
  const content = reply.content ?? null;
  record.usage = usageOf(record.body.messages, reply, content, toolCalls);
  return {
    id: `chatcmpl-scripted-${record.seq}`,
    object: 'chat.completion',
    created: Math.floor(record.receivedAt / 1000),
    model: record.body.model ?? 'scripted',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}), ...reply.extra },
        finish_reason: reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
        logprobs: null,
      },
    ],
    ...(reply.noUsage ? {} : { usage: record.usage }),
  };
}

/** The window check's count: a token per four characters of content and tool-call arguments. */
export function promptTokens(messages: ChatMessage[]): number {
  const chars = messages.reduce((n, m) => n + textOf(m.content).length + (m.tool_calls ?? []).reduce((k, c) => k + c.function.name.length + c.function.arguments.length, 0), 0);
  return Math.ceil(chars / 4);
}

function toolCall(call: ScriptedToolCall, defaultId: string): ChatToolCall {
  const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {});
  return { id: call.id ?? defaultId, type: 'function', function: { name: call.name, arguments: args } };
}

/** Scripted usage, or deterministic counts: a token per four characters, at least one. */
function usageOf(messages: ChatMessage[], reply: ScriptedMessage, content: string | null, toolCalls: ChatToolCall[]): ChatUsage {
  const promptChars = messages.reduce((n, m) => n + textOf(m.content).length, 0);
  const completionChars = (content ?? '').length + toolCalls.reduce((n, c) => n + c.function.arguments.length, 0);
  const prompt = reply.usage?.prompt_tokens ?? Math.max(1, Math.ceil(promptChars / 4));
  const completionTokens = reply.usage?.completion_tokens ?? Math.max(1, Math.ceil(completionChars / 4));
  const cached = reply.usage?.cached_tokens;
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens, ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }) };
}

/** A message's text: a string as is, content parts' text joined, anything else empty. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: unknown) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join('');
}

function roleOf(messages: ChatMessage[]): string {
  const firstUser = messages.find((m) => m.role === 'user');
  const firstLine = textOf(firstUser?.content).split('\n')[0] ?? '';
  return firstLine.startsWith('Role: ') ? firstLine.slice('Role: '.length).trim() : '';
}

/** Why the request is not one the scripted server (or OpenAI) would answer, if it is not. */
function requestProblem(record: RecordedRequest): string | undefined {
  if (record.body.stream === true) return 'streaming (stream: true) is not supported by the scripted server';
  if (!record.role) return 'the first user message does not start with a "Role: <role>" line';
  return transcriptProblem(record.body.messages);
}

/** Like OpenAI: every tool message answers a pending tool call, and every tool call is answered before anything else. */
function transcriptProblem(messages: ChatMessage[]): string | undefined {
  const pending = new Set<string>();
  const answered = new Set<string>();
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      const id = m.tool_call_id ?? '';
      if (!pending.has(id)) return `message ${i} answers tool call "${id}", which is ${answered.has(id) ? 'already answered' : 'not pending (no earlier assistant message made it)'}`;
      pending.delete(id);
      answered.add(id);
      continue;
    }
    if (pending.size > 0) return `tool call(s) ${[...pending].join(', ')} have no tool answer before message ${i} (${m.role})`;
    for (const call of m.role === 'assistant' ? (m.tool_calls ?? []) : []) pending.add(call.id);
  }
  return pending.size > 0 ? `tool call(s) ${[...pending].join(', ')} have no tool answer` : undefined;
}

function parseBody(raw: string): ChatRequestBody | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return 'request body is not JSON';
  }
  if (!isObject(parsed) || !Array.isArray(parsed.messages) || !parsed.messages.every(isMessage)) {
    return 'request body is not a Chat Completions request (messages must be an array of objects with a role)';
  }
  return parsed as ChatRequestBody;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMessage(value: unknown): value is ChatMessage {
  return isObject(value) && typeof value.role === 'string';
}

function pathOf(url: string | undefined): string {
  return new URL(url ?? '/', 'http://127.0.0.1').pathname;
}

function defaultCode(status: number): string {
  if (status === 401) return 'invalid_api_key';
  if (status === 404) return 'model_not_found';
  if (status === 429) return 'rate_limit_exceeded';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Unref'd, so a pending scripted delay never keeps jest alive. */
function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}

function errorBody(message: string, code: string): { error: { message: string; type: string; code: string; param: null } } {
  return { error: { message, type: code, code, param: null } };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
