import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { createAgentActivities } from '../src/activities/agent';
import { Sandbox } from '../src/activities/sandbox';
import { saveContext } from '../src/activities/context';
import { createLlmActivities } from '../src/activities/llm';
import { ModelClient } from '../src/activities/model';
import { MissionPaths } from '../src/activities/paths';
import { newSession, requireSession, saveSession } from '../src/activities/session';
import { promptTokens, ScriptedModelServer } from './support/model-server';
import { tempDir } from './support/repo';
import { call, finish, makePlan, planReply, tools } from './support/scripts';

/** Real model quirks and small windows, one activity at a time, through the real openai client. */

let server: ScriptedModelServer;
let paths: MissionPaths;
let llm: ReturnType<typeof createLlmActivities>;
let agent: ReturnType<typeof createAgentActivities>;
let workdir: string;
const session = { missionKey: 'k', name: 'f' };
const limits = { maxMilestones: 1, maxFeaturesPerMilestone: 2 };

beforeAll(async () => {
  server = await ScriptedModelServer.start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  server.reset();
  paths = new MissionPaths(tempDir('mission-home-'));
  workdir = tempDir('mission-work-');
  const openai = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
  llm = createLlmActivities({ model: new ModelClient(openai, 'test-model'), paths });
  agent = createAgentActivities({ paths, sandbox: new Sandbox({ missionHome: paths.home, env: { PATH: process.env.PATH } }) });
  await saveSession(
    paths.sessionFile('k', 'f'),
    newSession([
      { role: 'system', content: 'You are an agent.' },
      { role: 'user', content: 'Role: feature f\nWrite the files.' },
    ]),
  );
});
afterEach(() => {
  server.assertDone();
});

/** One turn and its tool calls, as the feature workflow runs them. */
async function step(turn: number) {
  const reply = await llm.agentTurn({ session, turn });
  const results = [];
  for (const c of reply.toolCalls) results.push(await agent.runTool({ session, callId: c.id, workdir }));
  return { reply, results };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('tool calls written as JSON text', () => {
  it('fenced and bare JSON naming an offered tool are executed, and the transcript records them as tool calls', async () => {
    server.script('feature f', [
      { content: 'I will create the file.\n```json\n{"name": "write_file", "arguments": {"path": "a.txt", "content": "A"}}\n```' },
      { content: '{"tool": "write_file", "parameters": {"path": "b.txt", "content": "B"}}' },
      { content: '[{"name": "finish", "arguments": {"summary": "wrote a and b", "status": "done"}}]' },
    ]);
    const first = await step(1);
    expect(first.reply.toolCalls).toEqual([{ id: 'text_1_0', name: 'write_file', label: 'write_file a.txt' }]);
    await step(2);
    const last = await step(3);
    expect(last.results[0]!.finish).toEqual({ status: 'done', summary: 'wrote a and b' });
    expect(readFileSync(path.join(workdir, 'a.txt'), 'utf8')).toBe('A');
    expect(readFileSync(path.join(workdir, 'b.txt'), 'utf8')).toBe('B');
    // The scripted server checks, like OpenAI, that every tool answer follows its call.
    const sent = server.requests[2]!.body.messages;
    expect(sent[2]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'text_1_0', type: 'function', function: { name: 'write_file' } }] });
    expect(sent[3]).toMatchObject({ role: 'tool', tool_call_id: 'text_1_0', content: expect.stringMatching(/wrote|ok/i) });
  });

  it('arguments written beside the name, and a stray closing fence, as Qwen2.5-Coder-0.5B wrote them in bench:real-model', async () => {
    server.script('feature f', [
      { content: '```json\n{\n  "name": "write_file",\n  "path": "c.txt",\n  "content": "C"\n}\n```' },
      { content: '{"name": "finish", "arguments": {"summary": "wrote c", "status": "done"}}\n```' },
    ]);
    const first = await step(1);
    expect(first.reply.toolCalls).toEqual([{ id: 'text_1_0', name: 'write_file', label: 'write_file c.txt' }]);
    expect(readFileSync(path.join(workdir, 'c.txt'), 'utf8')).toBe('C');
    const last = await step(2);
    expect(last.results[0]!.finish).toEqual({ status: 'done', summary: 'wrote c' });
  });

  it("finish's arguments written alone, without its name, as Qwen2.5-Coder-1.5B wrote them in bench:real-model", async () => {
    server.script('feature f', [
      { content: '{"summary": "looked around"}' },
      { content: '```\n{"summary":"Added mul(a, b) to src/calc.js", "status":"done"}\n```' },
    ]);
    const first = await step(1);
    expect(first.reply.toolCalls).toEqual([]);
    const last = await step(2);
    expect(last.results[0]!.finish).toEqual({ status: 'done', summary: 'Added mul(a, b) to src/calc.js' });
  });

  it('empty or repeated tool call ids (as some servers send) are replaced by unique ones', async () => {
    server.script('feature f', [
      tools({ ...call('write_file', { path: 'one.txt', content: '1' }), id: 'call_0' }),
      tools({ ...call('write_file', { path: 'two.txt', content: '2' }), id: 'call_0' }, { ...call('write_file', { path: 'three.txt', content: '3' }), id: '' }),
      finish(),
    ]);
    await step(1);
    const second = await step(2);
    expect(second.reply.toolCalls.map((c) => c.id)).toEqual(['call_2_0', 'call_2_1']);
    await step(3);
    expect(readFileSync(path.join(workdir, 'two.txt'), 'utf8')).toBe('2');
    expect(readFileSync(path.join(workdir, 'three.txt'), 'utf8')).toBe('3');
  });

  it('prose that is not a call of an offered tool stays text and the agent is nudged', async () => {
    server.script('feature f', [{ content: '{"name": "rm_rf", "arguments": {}}' }]);
    const { reply } = await step(1);
    expect(reply.toolCalls).toEqual([]);
    const saved = await requireSession(paths.sessionFile('k', 'f'));
    expect(saved.messages.at(-1)).toMatchObject({ role: 'user', content: expect.stringMatching(/Continue with the tools/) });
  });
});

describe('real model replies', () => {
  it('finish_reason "length" continues the turn, and the parts make one reply', async () => {
    server.script('feature f', [
      { content: '{"name": "write_file", "arguments": {"path": "long.txt", ', finishReason: 'length' },
      { content: '"content": "the end"}}' },
    ]);
    const { reply } = await step(1);
    expect(reply.toolCalls.map((c) => c.label)).toEqual(['write_file long.txt']);
    expect(readFileSync(path.join(workdir, 'long.txt'), 'utf8')).toBe('the end');
    const continued = server.requests[1]!.body.messages;
    expect(continued.at(-2)).toMatchObject({ role: 'assistant', content: expect.stringContaining('"path": "long.txt"') });
    expect(continued.at(-1)).toMatchObject({ role: 'user', content: expect.stringMatching(/cut off at the output limit/) });
    expect(reply.tokens.total).toBe(server.requests.reduce((n, r) => n + r.usage!.total_tokens, 0));
  });

  it("a reasoning model's reasoning fields are not sent back, and a reply without usage is counted by estimate", async () => {
    server.script('feature f', [
      { ...tools(call('write_file', { path: 'r.txt', content: 'R' })), extra: { reasoning_content: 'Let me think…', reasoning: 'hmm' }, noUsage: true },
      finish(),
    ]);
    const { reply } = await step(1);
    expect(reply.tokens.prompt).toBeGreaterThan(100); // the tool definitions alone are more than that
    expect(reply.tokens.completion).toBeGreaterThan(0);
    const logged = (await requireSession(paths.sessionFile('k', 'f'))).requests;
    expect(logged).toEqual([{ turn: 1, kind: 'turn', prompt: reply.tokens.prompt, completion: reply.tokens.completion, estimated: true }]);
    await step(2);
    const assistant = server.requests[1]!.body.messages.find((m) => m.role === 'assistant')!;
    expect(Object.keys(assistant).sort()).toEqual(['content', 'role', 'tool_calls']);
  });
});

describe('conversations that fit', () => {
  const bigFile = Array.from({ length: 120 }, (_, i) => `${String(i + 1).padStart(4, '0')} ${'x'.repeat(60)}`).join('\n'); // ~7.8 KB

  it('a large tool output is cut with a note, and the agent pages through the full text', async () => {
    writeFileSync(path.join(workdir, 'big.txt'), bigFile);
    server.contextWindow = 6000;
    server.script('feature f', [
      tools(call('read_file', { path: 'big.txt' })),
      (req) => {
        const note = String(req.body.messages.at(-1)!.content);
        const saved = /"path": "(@output\/[^"]+)"/.exec(note)?.[1];
        if (!saved) throw new Error(`no saved output in: ${note.slice(0, 200)}`);
        return tools(call('read_file', { path: saved, offset: 60, limit: 2 }));
      },
      finish(),
    ]);
    const first = await step(1);
    expect(first.results[0]!.ok).toBe(true);
    const cut = String((await requireSession(paths.sessionFile('k', 'f'))).messages.at(-1)!.content);
    expect(bigFile.length).toBeGreaterThan(7000);
    expect(cut.length).toBeLessThan(3800); // a tenth of the assumed 8k window, and a note
    expect(cut).toMatch(/output cut: \d+ characters/);
    await step(2);
    await step(3);
    const paged = String(server.requests[2]!.body.messages.at(-1)!.content);
    expect(paged).toMatch(/0060 x+/);
    expect(paged).toMatch(/0061 x+/);
    expect(paged).not.toMatch(/0062/);
  });

  it('context_length_exceeded compacts older turns with a model-written summary and retries the turn', async () => {
    writeFileSync(path.join(workdir, 'big.txt'), bigFile.slice(0, 2200));
    server.contextWindow = 1400;
    server.script('feature f', [
      tools(call('write_file', { path: 'notes.txt', content: 'n' })),
      tools(call('read_file', { path: 'big.txt' })),
      tools(call('read_file', { path: 'big.txt' })),
      tools(call('read_file', { path: 'big.txt' })),
      tools(call('read_file', { path: 'big.txt' })),
      finish(),
    ]);
    server.scriptPrefix('compact', { content: 'Done: wrote notes.txt, read big.txt. Left: finish.' });
    for (let turn = 1; turn <= 6; turn++) await step(turn);
    const overflowed = server.requests.filter((r) => r.status === 400);
    expect(overflowed.length).toBeGreaterThanOrEqual(1);
    const compactions = server.requestsFor('compact f');
    expect(compactions.length).toBeGreaterThanOrEqual(1);
    expect(String(compactions[0]!.body.messages[1]!.content)).toMatch(/^Role: compact f\n[\s\S]*called write_file/);
    const last = server.requestsFor('feature f').at(-1)!.body.messages;
    expect(last[1]).toMatchObject({ role: 'user', content: 'Role: feature f\nWrite the files.' });
    expect(String(last[2]!.content)).toMatch(/^\[Mission compacted this conversation[\s\S]*Done: wrote notes.txt[\s\S]*Files you have written or edited: notes.txt/);
    const saved = await requireSession(paths.sessionFile('k', 'f'));
    // Learned from the server's message, in Mission's estimate units (which count the tool definitions this server does not).
    expect(saved.window).toBeGreaterThanOrEqual(1400);
    expect(saved.window).toBeLessThan(2500);
    expect(saved.compactions).toBe(compactions.length);
  });

  it('a turn retried after its compaction was saved does not summarise again, and counts the summary once', async () => {
    const file = paths.sessionFile('k', 'f');
    const long = await requireSession(file);
    for (let i = 0; i < 6; i++) {
      long.messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `c${i}`, type: 'function', function: { name: 'read_file', arguments: '{"path":"big.txt"}' } }] });
      long.messages.push({ role: 'tool', tool_call_id: `c${i}`, content: 'y'.repeat(1600) });
    }
    await saveSession(file, long);
    server.scriptPrefix('compact', { content: 'Done: read big.txt six times.' });
    server.script('feature f', [{ status: 503, message: 'overloaded' }, finish()]);
    const input = { session, turn: 1, contextWindows: { 'test-model': 3000 } };
    await expect(llm.agentTurn(input)).rejects.toMatchObject({ type: 'MODEL_UNAVAILABLE' });
    const result = await llm.agentTurn(input); // Temporal's retry of the activity
    expect(result.toolCalls.map((c) => c.name)).toEqual(['finish']);
    expect(server.requestsFor('compact f')).toHaveLength(1);
    const paid = server.requests.filter((r) => r.status === 200).reduce((n, r) => n + r.usage!.total_tokens, 0);
    expect(result.tokens.total).toBe(paid);
    const saved = await requireSession(file);
    expect(saved.compactions).toBe(1);
    expect(saved.pendingTokens).toBeUndefined();
    expect(saved.requests?.map((r) => r.kind)).toEqual(['compact', 'turn']);
  });

  it('an agent whose task alone does not fit ends with MODEL_CONTEXT_EXCEEDED (not mission-fatal), after no compaction was possible', async () => {
    server.contextWindow = 5;
    const f = await failureOf(llm.agentTurn({ session, turn: 1 }));
    expect(f).toMatchObject({ type: 'MODEL_CONTEXT_EXCEEDED', nonRetryable: true });
    expect(f.message).toMatch(/agent f cannot continue.*This agent ends failed; the mission goes on/);
    expect(server.requests.every((r) => r.status === 400)).toBe(true);
  });
});

describe('planning within a small window', () => {
  it('a repository listing too long for the window is clipped, also after the server says it did not fit', async () => {
    const files = Array.from({ length: 2000 }, (_, i) => `src/module-${i}/index.ts`);
    await saveContext(paths.contextFile('k'), { repoName: 'big', baseBranch: 'main', baseCommit: 'abc', skills: [], files, fileCount: files.length });
    server.contextWindow = 1500;
    const plan = makePlan([{ id: 'm1', features: [{ id: 'a' }] }]);
    server.script('plan', [planReply(plan)]);
    const result = await llm.planTurn({ missionKey: 'k', turn: 1, prompt: 'Build it', limits });
    expect(result.plan).toEqual(plan);
    expect(server.requests.map((r) => r.status)).toEqual([400, 200]);
    const sent = server.requests[1]!.body.messages;
    expect(promptTokens(sent)).toBeLessThanOrEqual(1500);
    expect(String(sent[1]!.content)).toMatch(/^Role: plan\nGoal:\nBuild it\n[\s\S]*characters left out to fit the model's context window/);
  });
});

describe('planning without json_schema', () => {
  it('asks for the limits as maxItems', async () => {
    server.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'a' }] }]))]);
    await llm.planTurn({ missionKey: 'k', turn: 1, prompt: 'p', limits });
    const schema = server.requests[0]!.body.response_format!.json_schema!.schema as { properties: { milestones: { maxItems: number } } };
    expect(schema.properties.milestones.maxItems).toBe(1);
  });

  it('a server that rejects json_schema gets json_object with the schema in the prompt, and later plans skip the failing call', async () => {
    server.rejectJsonSchema = true;
    const plan = makePlan([{ id: 'm1', features: [{ id: 'a' }] }]);
    server.script('plan', [planReply(plan), planReply(plan)]);
    const first = await llm.planTurn({ missionKey: 'k', turn: 1, prompt: 'p', limits });
    expect(first.plan).toEqual(plan);
    expect(server.requests.map((r) => [r.body.response_format?.type, r.status])).toEqual([
      ['json_schema', 400],
      ['json_object', 200],
    ]);
    expect(String(server.requests[1]!.body.messages[0]!.content)).toMatch(/matches this JSON schema:\n\{/);
    expect(existsSync(paths.capabilitiesFile())).toBe(true);
    // Another mission on the same endpoint and model: straight to json_object.
    const second = await llm.planTurn({ missionKey: 'other', turn: 1, prompt: 'p', limits });
    expect(second.plan).toEqual(plan);
    expect(server.requests.slice(2).map((r) => r.body.response_format?.type)).toEqual(['json_object']);
  });
});
