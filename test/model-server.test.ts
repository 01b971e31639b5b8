import OpenAI from 'openai';
import { ScriptedModelServer } from './support/model-server';

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

const ask = (role: string, extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `Role: ${role}\nhello` }], ...extra });

it('routes by role, returns tool calls and usage, and records the request', async () => {
  server.script('feature a', [{ toolCalls: [{ name: 'read_file', arguments: { path: 'x' } }] }]);
  server.script('plan', [{ content: '{"ok":true}', usage: { prompt_tokens: 5, completion_tokens: 7 } }]);
  const plan = await ask('plan', { response_format: { type: 'json_schema', json_schema: { name: 'mission_plan', schema: {} } } });
  const feature = await ask('feature a');
  expect(plan.choices[0]!.message.content).toBe('{"ok":true}');
  expect(plan.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  expect(feature.choices[0]!.finish_reason).toBe('tool_calls');
  expect(feature.choices[0]!.message.tool_calls).toEqual([{ id: 'call_2_0', type: 'function', function: { name: 'read_file', arguments: '{"path":"x"}' } }]);
  expect(feature.usage!.total_tokens).toBeGreaterThan(0);
  expect(server.requests.map((r) => r.role)).toEqual(['plan', 'feature a']);
  expect(server.requestsFor('plan')[0]!.body.response_format).toMatchObject({ json_schema: { name: 'mission_plan' } });
  server.assertDone();
});

it('fails loudly when a script runs out', async () => {
  const err = await ask('report').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.APIError);
  expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
  expect(server.failures).toEqual(['scripted model: no reply left for role "report" (request #1)']);
  expect(() => server.assertDone()).toThrow(/no reply left for role "report"/);
});

it('reports unused replies', () => {
  server.script('plan', [{ content: 'never asked' }]);
  expect(() => server.assertDone()).toThrow(/1 scripted reply for role "plan" never used/);
});

it('answers scripted HTTP errors with their headers, and can drop the connection', async () => {
  server.script('plan', [{ status: 429, message: 'slow down', headers: { 'retry-after': '3' } }, { status: 0, dropConnection: true }]);
  const limited = (await ask('plan').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  expect(limited.status).toBe(429);
  expect(limited.headers?.get('retry-after')).toBe('3');
  expect(await ask('plan').catch((e: unknown) => e)).toBeInstanceOf(OpenAI.APIConnectionError);
});

it('rejects a transcript with an unanswered tool call, as OpenAI does', async () => {
  server.script('feature b', [{ content: 'unused' }]);
  const err = await client.chat.completions
    .create({
      model: 'm',
      messages: [
        { role: 'user', content: 'Role: feature b' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'x', arguments: '{}' } }] },
        { role: 'user', content: 'next' },
      ],
    })
    .catch((e: unknown) => e);
  expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
  expect(server.failures[0]).toMatch(/tool call\(s\) c1 have no tool answer/);
});

it('delays replies by the scripted latency', async () => {
  server.script('plan', [{ content: 'late', delayMs: 200 }]);
  const started = Date.now();
  await ask('plan');
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
});
