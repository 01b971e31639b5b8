import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A scripted OpenAI-compatible Chat Completions server on 127.0.0.1 for tests.
 * Requests are routed by the role line that starts the first user message (`Role: feature m1-f1`);
 * each role has a queue of scripted replies. It records every request, and fails loudly
 * (HTTP 400 + a recorded failure) when a script runs out or a transcript is malformed.
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
  usage?: { prompt_tokens: number; completion_tokens: number };
  delayMs?: number;
  finishReason?: string;
}
export interface ScriptedError {
  status: number;
  message?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Destroy the socket without answering. */
  dropConnection?: boolean;
}
type Reply = ScriptedMessage | ScriptedError;
export type ScriptedReply = Reply | ((req: RecordedRequest) => Reply | Promise<Reply>);

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}
export interface RecordedRequest {
  seq: number;
  role: string;
  body: { model?: string; messages: ChatMessage[]; tools?: unknown[]; response_format?: unknown; stream?: boolean } & Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
  receivedAt: number;
  respondedAt?: number;
  status?: number;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const isError = (r: Reply): r is ScriptedError => 'status' in r;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ScriptedModelServer {
  readonly requests: RecordedRequest[] = [];
  readonly failures: string[] = [];
  private readonly queues = new Map<string, ScriptedReply[]>();
  private readonly prefixes: [string, ScriptedReply][] = [];
  private readonly sockets = new Set<Socket>();

  private readonly server: http.Server;

  private constructor(private readonly latencyMs: number) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(opts: { latencyMs?: number } = {}): Promise<ScriptedModelServer> {
    const instance = new ScriptedModelServer(opts.latencyMs ?? 0);
    await new Promise<void>((resolve) => instance.server.listen(0, '127.0.0.1', resolve));
    return instance;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  script(role: string, replies: ScriptedReply[]): this {
    this.queues.set(role, [...(this.queues.get(role) ?? []), ...replies]);
    return this;
  }

  /** A never-exhausted default for roles starting with `prefix` that have nothing queued. */
  scriptPrefix(prefix: string, reply: ScriptedReply): this {
    this.prefixes.push([prefix, reply]);
    return this;
  }

  requestsFor(role: string): RecordedRequest[] {
    return this.requests.filter((r) => r.role === role);
  }

  remaining(): Record<string, number> {
    return Object.fromEntries([...this.queues].filter(([, q]) => q.length).map(([role, q]) => [role, q.length]));
  }

  assertDone(): void {
    const left = this.remaining();
    const problems = [...this.failures, ...Object.entries(left).map(([role, n]) => `${n} scripted repl${n === 1 ? 'y' : 'ies'} for role "${role}" never used`)];
    if (problems.length) throw new Error(`scripted model server:\n- ${problems.join('\n- ')}`);
  }

  reset(): this {
    this.queues.clear();
    this.prefixes.length = 0;
    this.requests.length = 0;
    this.failures.length = 0;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return send(res, 404, errorBody(`no route ${req.method} ${req.url}`, 'not_found'));
    }
    let body: RecordedRequest['body'];
    try {
      body = JSON.parse(raw) as RecordedRequest['body'];
    } catch {
      return this.fail(res, undefined, 'request body is not JSON');
    }
    const record: RecordedRequest = { seq: this.requests.length + 1, role: roleOf(body.messages), body, headers: req.headers, receivedAt: Date.now() };
    this.requests.push(record);
    if (body.stream) return this.fail(res, record, 'streaming is not supported by the scripted server');
    if (!record.role) return this.fail(res, record, `request #${record.seq} has no "Role: ..." line at the start of its first user message`);
    const transcriptError = checkTranscript(body.messages ?? []);
    if (transcriptError) return this.fail(res, record, `request #${record.seq} (${record.role}): ${transcriptError}`);

    const scripted = this.next(record.role);
    if (!scripted) return this.fail(res, record, `scripted model: no reply left for role "${record.role}" (request #${record.seq})`, 'script_exhausted');
    const reply = typeof scripted === 'function' ? await scripted(record) : scripted;
    await sleep(this.latencyMs + (reply.delayMs ?? 0));
    if (isError(reply)) {
      if (reply.dropConnection) {
        record.respondedAt = Date.now();
        req.socket.destroy();
        return;
      }
      record.status = reply.status;
      record.respondedAt = Date.now();
      return send(res, reply.status, errorBody(reply.message ?? `scripted HTTP ${reply.status}`, 'scripted_error'), reply.headers);
    }
    const completion = this.completion(record, reply);
    record.status = 200;
    record.respondedAt = Date.now();
    send(res, 200, completion);
  }

  private next(role: string): ScriptedReply | undefined {
    const queue = this.queues.get(role);
    if (queue?.length) return queue.shift();
    return this.prefixes.find(([prefix]) => role.startsWith(prefix))?.[1];
  }

  private completion(record: RecordedRequest, reply: ScriptedMessage): Record<string, unknown> {
    const toolCalls = reply.toolCalls?.map((call, i) => ({
      id: call.id ?? `call_${record.seq}_${i}`,
      type: 'function',
      function: { name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments) },
    }));
    const content = reply.content ?? null;
    const promptChars = (record.body.messages ?? []).reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length), 0);
    const completionChars = (content ?? '').length + (toolCalls ?? []).reduce((n, c) => n + c.function.arguments.length, 0);
    const prompt = reply.usage?.prompt_tokens ?? Math.max(1, Math.ceil(promptChars / 4));
    const completion = reply.usage?.completion_tokens ?? Math.max(1, Math.ceil(completionChars / 4));
    record.usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    return {
      id: `chatcmpl-${record.seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: record.body.model ?? 'scripted',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}) },
          finish_reason: reply.finishReason ?? (toolCalls?.length ? 'tool_calls' : 'stop'),
          logprobs: null,
        },
      ],
      usage: record.usage,
    };
  }

  private fail(res: http.ServerResponse, record: RecordedRequest | undefined, message: string, code = 'invalid_request'): void {
    this.failures.push(message);
    if (record) {
      record.status = 400;
      record.respondedAt = Date.now();
    }
    send(res, 400, errorBody(message, code));
  }
}

function roleOf(messages: ChatMessage[] | undefined): string {
  const first = messages?.find((m) => m.role === 'user');
  const text = typeof first?.content === 'string' ? first.content : '';
  const match = /^Role: (.+)$/m.exec(text.split('\n')[0] ?? '');
  return match?.[1]?.trim() ?? '';
}

/** Like OpenAI: every tool message answers an earlier tool call, and every tool call is answered before anything else. */
function checkTranscript(messages: ChatMessage[]): string | undefined {
  let open = new Set<string>();
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      if (!m.tool_call_id || !open.has(m.tool_call_id)) return `message ${i} answers unknown tool call "${m.tool_call_id}"`;
      open.delete(m.tool_call_id);
      continue;
    }
    if (open.size) return `tool call(s) ${[...open].join(', ')} have no tool answer before message ${i}`;
    if (m.role === 'assistant' && m.tool_calls?.length) open = new Set(m.tool_calls.map((c) => c.id));
  }
  return open.size ? `tool call(s) ${[...open].join(', ')} have no tool answer` : undefined;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function errorBody(message: string, code: string) {
  return { error: { message, type: code, code, param: null } };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
