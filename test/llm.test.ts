import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { createLlmActivities } from '../src/activities/llm';
import { ModelClient } from '../src/activities/model';
import { MissionPaths } from '../src/activities/paths';
import { newSession, saveSession } from '../src/activities/session';
import { ScriptedModelServer, type RecordedRequest, type ScriptedMessage } from './support/model-server';
import { tempDir } from './support/repo';
import { call, makePlan, planReply, tools } from './support/scripts';

let server: ScriptedModelServer;
let paths: MissionPaths;
let acts: ReturnType<typeof createLlmActivities>;
const limits = { maxMilestones: 2, maxFeaturesPerMilestone: 2 };

beforeAll(async () => {
  server = await ScriptedModelServer.start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  paths = new MissionPaths(tempDir('mission-home-'));
  const openai = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-live-abcdefghijklmnop', maxRetries: 0 });
  acts = createLlmActivities({ model: new ModelClient(openai, 'test-model'), paths });
});

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('planTurn', () => {
  it('asks for the mission_plan schema, and a retried turn returns the recorded answer without a second model call', async () => {
    const plan = makePlan([{ id: 'm1', features: [{ id: 'a' }] }]);
    server.script('plan', [planReply(plan)]);
    const input = { missionKey: 'k', turn: 1, prompt: 'Build it', limits };
    const first = await acts.planTurn(input);
    const retry = await acts.planTurn(input);
    expect(first.plan).toEqual(plan);
    expect(retry).toEqual(first);
    expect(server.requests).toHaveLength(1);
    const body = server.requests[0]!.body;
    expect(body.model).toBe('test-model');
    expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'mission_plan', strict: true } });
    expect(String(body.messages[1]!.content)).toMatch(/^Role: plan\n/);
  });

  it('sends the validation errors back as the next user message', async () => {
    server.script('plan', [planReply(makePlan([{ id: 'm1', features: [] }])), planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }]))]);
    const bad = await acts.planTurn({ missionKey: 'k', turn: 1, prompt: 'p', limits });
    expect(bad.plan).toBeNull();
    expect(bad.errors).toEqual(['milestone "m1" has no features; add at least one']);
    const good = await acts.planTurn({ missionKey: 'k', turn: 2, prompt: 'p', limits, followUp: { kind: 'invalid', errors: bad.errors } });
    expect(good.plan).not.toBeNull();
    const last = server.requests[1]!.body.messages.at(-1)!;
    expect(last).toMatchObject({ role: 'user', content: expect.stringContaining('milestone "m1" has no features') });
  });
});

/**
 * A small model under a JSON-schema grammar (llama.cpp, node-llama-cpp), as Qwen2.5-Coder-0.5B behaved in
 * `npm run bench:real-model`: it repeats one criterion in every list of text until the grammar closes the list
 * (maxItems), or until its output limit cuts the JSON (finish_reason "length") when nothing bounds the list.
 */
function repeatingGrammarModel(req: RecordedRequest): ScriptedMessage {
  type Node = { maxItems?: number; properties?: Record<string, Node>; items?: Node };
  const schema = req.body.response_format?.json_schema?.schema as Node | undefined;
  const milestone = schema?.properties?.milestones?.items;
  const feature = milestone?.properties?.features?.items;
  const repeat = (node: Node | undefined, text: string) => Array.from({ length: Math.min(node?.maxItems ?? 10_000, 10_000) }, () => text);
  const plan = makePlan([{ id: 'm1', features: [{ id: 'mul', acceptanceCriteria: repeat(feature?.properties?.acceptanceCriteria, 'mul(2, 3) returns 6') }] }]);
  Object.assign(plan, { assumptions: repeat(schema?.properties?.assumptions, 'CommonJS'), risks: repeat(schema?.properties?.risks, 'none') });
  Object.assign(plan.milestones[0]!, { validation: repeat(milestone?.properties?.validation, 'The mul(a, b) function should be defined in src/calc.js.') });
  const text = JSON.stringify(plan, null, 4);
  const limit = 4096; // characters, about the 1024 output tokens a local server allows by default
  return text.length > limit ? { content: text.slice(0, limit), finishReason: 'length' } : { content: text };
}

describe('planTurn with a grammar-constrained small model', () => {
  it('bounds every list in the plan schema, so a model repeating one item ends the list instead of its output', async () => {
    server.script('plan', [repeatingGrammarModel]);
    const result = await acts.planTurn({ missionKey: 'k', turn: 1, prompt: 'Add mul', limits: { maxMilestones: 1, maxFeaturesPerMilestone: 2 } });
    expect(result.errors).toEqual([]);
    expect(result.plan!.milestones[0]!.validation.length).toBeLessThanOrEqual(8);
  });

  it('a plan cut at the output limit goes back to the planner as too long, not as broken JSON', async () => {
    const cut = JSON.stringify(makePlan([{ id: 'm1', features: [{ id: 'mul' }] }]), null, 4).slice(0, 300);
    server.script('plan', [{ content: cut, finishReason: 'length', usage: { prompt_tokens: 288, completion_tokens: 1024 } }]);
    const result = await acts.planTurn({ missionKey: 'k', turn: 1, prompt: 'Add mul', limits });
    expect(result.plan).toBeNull();
    expect(result.errors).toEqual([expect.stringMatching(/cut off at the output limit \(1024 tokens\).*shorter plan/)]);
  });
});

describe('agentTurn', () => {
  it('records the turn so a retry does not pay for the model call again', async () => {
    const session = { missionKey: 'k', name: 'feature-a' };
    await saveSession(paths.sessionFile('k', 'feature-a'), newSession([{ role: 'user', content: 'Role: feature a\nDo a' }]));
    server.script('feature a', [tools(call('write_file', { path: 'a.txt', content: 'A' }))]);
    const first = await acts.agentTurn({ session, turn: 1 });
    const retry = await acts.agentTurn({ session, turn: 1 });
    expect(retry).toEqual(first);
    expect(first.toolCalls).toEqual([{ id: expect.any(String), name: 'write_file', label: 'write_file a.txt' }]);
    expect(first.tokens.total).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.body.tools?.map((t) => (t as { function: { name: string } }).function.name).sort()).toEqual(
      ['edit_file', 'finish', 'list_files', 'read_file', 'read_skill', 'run_command', 'search', 'write_file'],
    );
  });
});

describe('model errors map onto the taxonomy', () => {
  const turn = () => acts.planTurn({ missionKey: 'k', turn: 1, prompt: 'p', limits });

  it('401 is a non-retryable MODEL_AUTH failure that does not leak the key', async () => {
    server.script('plan', [{ status: 401, message: 'Incorrect API key provided: sk-live-abcdefghijklmnop' }]);
    const f = await failureOf(turn());
    expect(f.type).toBe('MODEL_AUTH');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(/OPENAI_API_KEY/);
    expect(f.message).not.toContain('abcdefghijklmnop');
  });

  it('404 is MODEL_NOT_FOUND and 400 is MODEL_BAD_REQUEST, both non-retryable', async () => {
    server.script('plan', [{ status: 404, message: 'model not found' }, { status: 400, message: 'bad schema' }]);
    expect(await failureOf(turn())).toMatchObject({ type: 'MODEL_NOT_FOUND', nonRetryable: true });
    expect(await failureOf(turn())).toMatchObject({ type: 'MODEL_BAD_REQUEST', nonRetryable: true });
  });

  it('429 is MODEL_RATE_LIMITED, retryable and honours Retry-After; 503 and a dropped connection are retryable', async () => {
    server.script('plan', [{ status: 429, message: 'slow down', headers: { 'retry-after': '7' } }, { status: 503 }, { status: 0, dropConnection: true }]);
    const limited = await failureOf(turn());
    expect(limited).toMatchObject({ type: 'MODEL_RATE_LIMITED', nonRetryable: false });
    expect(limited.nextRetryDelay).toBe(7000);
    expect(await failureOf(turn())).toMatchObject({ type: 'MODEL_UNAVAILABLE', nonRetryable: false });
    expect(await failureOf(turn())).toMatchObject({ type: 'MODEL_UNAVAILABLE', nonRetryable: false });
    expect(server.requests).toHaveLength(3);
  });

  it('403 is MODEL_AUTH too; a request that times out is retryable', async () => {
    server.script('plan', [{ status: 403, message: 'not allowed for this project' }]);
    expect(await failureOf(turn())).toMatchObject({ type: 'MODEL_AUTH', nonRetryable: true });
    server.script('plan', [{ ...planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }])), delayMs: 1500 }]);
    const impatient = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0, timeout: 200 });
    const slow = createLlmActivities({ model: new ModelClient(impatient, 'test-model'), paths });
    const timedOut = await failureOf(slow.planTurn({ missionKey: 'k', turn: 1, prompt: 'p', limits }));
    expect(timedOut).toMatchObject({ type: 'MODEL_UNAVAILABLE', nonRetryable: false });
    await new Promise((r) => setTimeout(r, 1500)); // let the scripted reply finish before the next test resets the server
  });
});
