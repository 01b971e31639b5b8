import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { type RecordedRequest, ScriptedModelServer } from './support/model-server';

type APIError = InstanceType<typeof OpenAI.APIError>;

let server: ScriptedModelServer;
let client: OpenAI;
beforeAll(async () => {
  server = await ScriptedModelServer.start();
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'test-key', maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const userTurn = (role: string, text = 'hello'): ChatCompletionMessageParam => ({ role: 'user', content: `Role: ${role}\n${text}` });

const ask = (role: string, extra: Partial<ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({ model: 'test-model', messages: [{ role: 'system', content: 'You are scripted.' }, userTurn(role)], ...extra });

async function rejection(request: Promise<unknown>): Promise<unknown> {
  try {
    await request;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to fail');
}

async function apiError(request: Promise<unknown>): Promise<APIError> {
  const err = await rejection(request);
  expect(err).toBeInstanceOf(OpenAI.APIError);
  return err as APIError;
}

describe('routing', () => {
  it('routes requests by the role line of the first user message and records them in order', async () => {
    server.script('plan', [{ content: 'plan 1' }, { content: 'plan 2' }]).script('feature m1-f1', [{ content: 'feature 1' }]);

    const first = await ask('plan');
    const feature = await ask('feature m1-f1');
    const second = await ask('plan');

    expect([first, feature, second].map((c) => c.choices[0]?.message.content)).toEqual(['plan 1', 'feature 1', 'plan 2']);
    expect(first).toMatchObject({ object: 'chat.completion', model: 'test-model', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', refusal: null } }] });
    expect(first.choices[0]?.message.tool_calls).toBeUndefined();
    expect(server.requests.map((r) => [r.seq, r.role, r.status])).toEqual([
      [1, 'plan', 200],
      [2, 'feature m1-f1', 200],
      [3, 'plan', 200],
    ]);
    expect(server.requestsFor('plan').map((r) => r.seq)).toEqual([1, 3]);
    expect(server.requests[0]?.headers.authorization).toBe('Bearer test-key');
    expect(server.requests[0]?.body.messages[1]?.content).toBe('Role: plan\nhello');
    expect(server.remaining()).toEqual({});
    expect(() => server.assertDone()).not.toThrow();
  });

  it('trims the role key and reads only the first line', async () => {
    server.script('repair m1', [{ content: 'fixed' }]);
    const reply = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Role:   repair m1  \nRole: plan' }] });
    expect(reply.choices[0]?.message.content).toBe('fixed');
    expect(server.requests[0]?.role).toBe('repair m1');
  });

  it('falls back to the longest matching prefix handler, which is never exhausted, when a role has nothing queued', async () => {
    server
      .scriptPrefix('feature ', { content: 'generic feature' })
      .scriptPrefix('feature m2-', (req: RecordedRequest) => ({ content: `m2 handler for ${req.role} #${req.seq}` }))
      .script('feature m1-f1', [{ content: 'queued' }]);

    const answers = [];
    for (const role of ['feature m1-f1', 'feature m1-f1', 'feature m1-f2', 'feature m2-f1', 'feature m2-f1']) {
      answers.push((await ask(role)).choices[0]?.message.content);
    }

    expect(answers).toEqual(['queued', 'generic feature', 'generic feature', 'm2 handler for feature m2-f1 #4', 'm2 handler for feature m2-f1 #5']);
    expect(() => server.assertDone()).not.toThrow();
  });

  it('rejects a request whose first user message has no role line, loudly', async () => {
    server.script('plan', [{ content: 'unused' }]);
    const err = await apiError(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'plan something' }] }));
    expect(err.status).toBe(400);
    expect(server.failures).toHaveLength(1);
    expect(server.failures[0]).toMatch(/request #1: the first user message does not start with a "Role: <role>" line/);
    expect(server.requests[0]).toMatchObject({ role: '', status: 400 });
    expect(server.remaining()).toEqual({ plan: 1 });
  });

  it('answers 404 on other paths and 400 to streaming requests, recording both as failures', async () => {
    const notFound = await apiError(client.models.list());
    expect(notFound.status).toBe(404);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);

    server.script('plan', [{ content: 'unused' }]);
    const streaming = await apiError(client.chat.completions.create({ model: 'm', messages: [userTurn('plan')], stream: true }));
    expect(streaming.status).toBe(400);

    expect(server.failures).toEqual([expect.stringMatching(/no route for GET \/v1\/models/), expect.stringMatching(/streaming \(stream: true\) is not supported/)]);
    expect(server.remaining()).toEqual({ plan: 1 });
  });
});

describe('replies', () => {
  it('round-trips tool calls: the client sends the answers back and the transcript is accepted', async () => {
    server.script('feature m1-f1', [
      { toolCalls: [{ name: 'read_file', arguments: { path: 'a.txt' } }, { name: 'list_files', arguments: {}, id: 'my-id' }] },
      { content: 'all done' },
    ]);

    const messages: ChatCompletionMessageParam[] = [userTurn('feature m1-f1', 'do the feature')];
    const turn1 = await client.chat.completions.create({ model: 'm', messages });
    const choice = turn1.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      { id: 'call_1_0', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.txt"}' } },
      { id: 'my-id', type: 'function', function: { name: 'list_files', arguments: '{}' } },
    ]);

    messages.push(choice!.message, { role: 'tool', tool_call_id: 'call_1_0', content: 'A' }, { role: 'tool', tool_call_id: 'my-id', content: 'a.txt' });
    const turn2 = await client.chat.completions.create({ model: 'm', messages });

    expect(turn2.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'all done' } });
    const sent = server.requestsFor('feature m1-f1')[1]?.body.messages ?? [];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
    expect(sent[1]?.tool_calls?.map((c) => c.id)).toEqual(['call_1_0', 'my-id']);
    expect(server.failures).toEqual([]);
  });

  it('sends string arguments raw (malformed JSON included) and honours a scripted finish reason', async () => {
    server.script('feature x', [{ toolCalls: [{ name: 'write_file', arguments: '{"path": "a.txt", ' }], finishReason: 'length' }]);
    const reply = await ask('feature x');
    expect(reply.choices[0]?.finish_reason).toBe('length');
    expect(reply.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { arguments: '{"path": "a.txt", ' } });
  });

  it('records a json_schema response_format, tools and the model', async () => {
    server.script('plan', [{ content: '{"title":"t"}' }]);
    await ask('plan', {
      model: 'gpt-test',
      response_format: { type: 'json_schema', json_schema: { name: 'mission_plan', strict: true, schema: { type: 'object' } } },
      tools: [{ type: 'function', function: { name: 'finish', parameters: { type: 'object' } } }],
    });
    const body = server.requestsFor('plan')[0]?.body;
    expect(body?.model).toBe('gpt-test');
    expect(body?.response_format?.type).toBe('json_schema');
    expect(body?.response_format?.json_schema?.name).toBe('mission_plan');
    expect(body?.tools?.map((t) => t.function?.name)).toEqual(['finish']);
  });

  it('reports scripted usage, or deterministic counts of a token per four characters', async () => {
    server.script('plan', [{ content: 'x', usage: { prompt_tokens: 5, completion_tokens: 7 } }, { content: 'abcde' }, { content: '' }]);
    server.script('feature f', [{ toolCalls: [{ name: 'read_file', arguments: { path: 'x' } }] }]);

    const scripted = await ask('plan');
    const computed = await ask('plan'); // 'You are scripted.' (17) + 'Role: plan\nhello' (16) = 33 chars
    const empty = await ask('plan');
    const tools = await ask('feature f'); // '{"path":"x"}' is 12 chars

    expect(scripted.usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
    expect(computed.usage).toEqual({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 });
    expect(empty.usage).toMatchObject({ completion_tokens: 1 });
    expect(tools.usage).toMatchObject({ completion_tokens: 3 });
    expect(server.requests.map((r) => r.usage?.total_tokens)).toEqual([12, 11, 10, 13]);
  });

  it('passes the recorded request to a function reply and fails loudly when it throws', async () => {
    server.script('plan', [
      (req) => ({ content: `you sent ${req.body.messages.length} messages to ${req.body.model}` }),
      () => Promise.reject(new Error('boom')),
    ]);
    expect((await ask('plan')).choices[0]?.message.content).toBe('you sent 2 messages to test-model');
    expect((await apiError(ask('plan'))).status).toBe(400);
    expect(server.failures).toEqual([expect.stringMatching(/reply function for role "plan" threw \(request #2\): boom/)]);
  });
});

describe('failures', () => {
  it('fails loudly when a script runs out: HTTP 400 script_exhausted, a recorded failure and assertDone throws', async () => {
    server.script('plan', [{ content: 'only one' }]);
    await ask('plan');
    const err = await apiError(ask('plan'));

    expect(err.status).toBe(400);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('script_exhausted');
    expect(err.type).toBe('script_exhausted');
    expect(server.failures).toEqual(['scripted model: no reply left for role "plan" (request #2)']);
    expect(() => server.assertDone()).toThrow(/no reply left for role "plan" \(request #2\)/);
  });

  it('reports replies that were never used', () => {
    server.script('plan', [{ content: 'never asked' }]).script('report', [{ content: 'a' }, { content: 'b' }]);
    expect(server.remaining()).toEqual({ plan: 1, report: 2 });
    expect(() => server.assertDone()).toThrow(/1 scripted reply for role "plan" never used\n- 2 scripted replies for role "report" never used/);
  });

  it('answers a scripted 429 with its retry-after header, which the client sees', async () => {
    server.script('plan', [{ status: 429, message: 'slow down', headers: { 'retry-after': '3' } }]);
    const err = await apiError(ask('plan'));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.headers?.get('retry-after')).toBe('3');
    expect(err.message).toMatch(/slow down/);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(server.requests[0]?.status).toBe(429);
    expect(server.failures).toEqual([]); // a scripted error is not a failure of the script
  });

  it('drops the connection without answering when scripted to', async () => {
    server.script('plan', [{ status: 0, dropConnection: true }, { content: 'still alive' }]);
    const err = await rejection(ask('plan'));
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect((await ask('plan')).choices[0]?.message.content).toBe('still alive');
  });

  it('rejects a transcript with an unanswered tool call, as OpenAI does, without consuming the script', async () => {
    server.script('feature b', [{ content: 'unused' }]);
    const err = await apiError(
      client.chat.completions.create({
        model: 'm',
        messages: [
          userTurn('feature b'),
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'x', arguments: '{}' } }] },
          { role: 'user', content: 'next' },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(server.failures).toEqual([expect.stringMatching(/request #1 \(feature b\): tool call\(s\) c1 have no tool answer before message 2/)]);
    expect(server.remaining()).toEqual({ 'feature b': 1 });
    expect(() => server.assertDone()).toThrow(/c1 have no tool answer/);
  });

  it('rejects a tool message that answers no pending tool call, and a transcript ending on an open tool call', async () => {
    server.script('feature c', [{ content: 'unused' }]);
    const call = { id: 'c1', type: 'function' as const, function: { name: 'x', arguments: '{}' } };
    const stray = await apiError(
      client.chat.completions.create({ model: 'm', messages: [userTurn('feature c'), { role: 'tool', tool_call_id: 'nope', content: 'x' }] }),
    );
    const twice = await apiError(
      client.chat.completions.create({
        model: 'm',
        messages: [userTurn('feature c'), { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'c1', content: 'a' }, { role: 'tool', tool_call_id: 'c1', content: 'b' }],
      }),
    );
    const open = await apiError(client.chat.completions.create({ model: 'm', messages: [userTurn('feature c'), { role: 'assistant', content: null, tool_calls: [call] }] }));

    expect([stray.status, twice.status, open.status]).toEqual([400, 400, 400]);
    expect(server.failures).toEqual([
      expect.stringMatching(/message 1 answers tool call "nope", which is not pending/),
      expect.stringMatching(/message 3 answers tool call "c1", which is already answered/),
      expect.stringMatching(/tool call\(s\) c1 have no tool answer$/),
    ]);
  });
});

describe('latency and lifecycle', () => {
  it('delays replies by the per-reply delay', async () => {
    server.script('plan', [{ content: 'late', delayMs: 200 }, { content: 'prompt' }]);
    const started = Date.now();
    await ask('plan');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const [slow] = server.requests;
    expect(slow!.respondedAt! - slow!.receivedAt).toBeGreaterThanOrEqual(190);

    const again = Date.now();
    await ask('plan');
    expect(Date.now() - again).toBeLessThan(150);
  });

  it('delays every reply by the server-wide latency, errors included, and closes cleanly', async () => {
    const slow = await ScriptedModelServer.start({ latencyMs: 150 });
    const slowClient = new OpenAI({ baseURL: slow.baseURL, apiKey: 'test-key', maxRetries: 0 });
    slow.script('plan', [{ content: 'a' }, { status: 503, message: 'busy' }]);
    try {
      for (const expected of [200, 503]) {
        const started = Date.now();
        await slowClient.chat.completions.create({ model: 'm', messages: [userTurn('plan')] }).catch((err: unknown) => err);
        expect(Date.now() - started).toBeGreaterThanOrEqual(140);
        expect(slow.requests.at(-1)?.status).toBe(expected);
      }
      slow.assertDone();
    } finally {
      await slow.close();
    }
    expect(await rejection(slowClient.chat.completions.create({ model: 'm', messages: [userTurn('plan')] }))).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('reset clears scripts, prefix handlers, requests and failures', async () => {
    server.script('plan', [{ content: 'x' }]).scriptPrefix('feature ', { content: 'y' });
    await apiError(ask('report'));
    expect(server.requests).toHaveLength(1);
    expect(server.failures).toHaveLength(1);

    expect(server.reset()).toBe(server);
    expect([server.requests, server.failures, server.remaining()]).toEqual([[], [], {}]);
    await apiError(ask('feature a'));
    expect(server.failures).toEqual(['scripted model: no reply left for role "feature a" (request #1)']);
  });
});
