import OpenAI from 'openai';
import { createAgentActivities } from '../src/activities/agent';
import { createLlmActivities } from '../src/activities/llm';
import { ModelClient } from '../src/activities/model';
import { MissionPaths } from '../src/activities/paths';
import { Sandbox } from '../src/activities/sandbox';
import { newSession, requireSession, saveSession } from '../src/activities/session';
import { ScriptedModelServer, type ChatMessage } from './support/model-server';
import { tempDir } from './support/repo';
import { call, finish, tools } from './support/scripts';

/** Steering notes as the agent turn activity keeps them in the conversation, through the real openai client. */
let server: ScriptedModelServer;
beforeAll(async () => {
  server = await ScriptedModelServer.start();
});
afterAll(() => server.close());
afterEach(() => server.assertDone());

const session = { missionKey: 'k', name: 'f' };
const note = { index: 0, at: '2026-01-01T00:00:00.000Z', note: 'Use tabs, not spaces.', by: 'alice' };
const mentions = (messages: ChatMessage[]) => messages.filter((m) => m.role === 'user' && String(m.content).includes(note.note)).length;

test("a note goes in once, marked as a person's, with the turn it came with: not again when that turn is retried or the note is sent again", async () => {
  const paths = new MissionPaths(tempDir('mission-home-'));
  const workdir = tempDir('mission-work-');
  const llm = createLlmActivities({ model: new ModelClient(new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 }), 'test-model'), paths });
  const agent = createAgentActivities({ paths, sandbox: new Sandbox({ missionHome: paths.home, env: { PATH: process.env.PATH } }) });
  const file = paths.sessionFile(session.missionKey, session.name);
  await saveSession(file, newSession([{ role: 'system', content: 'You are an agent.' }, { role: 'user', content: 'Role: feature f\nWrite the files.' }]));
  server.script('feature f', [{ status: 503, message: 'overloaded' }, tools(call('write_file', { path: 'a.txt', content: 'A' })), finish()]);

  const input = { session, turn: 1, steering: [note] };
  await expect(llm.agentTurn(input)).rejects.toMatchObject({ type: 'MODEL_UNAVAILABLE' });
  const reply = await llm.agentTurn(input); // Temporal's retry of the activity
  for (const { body } of server.requests) {
    expect(mentions(body.messages)).toBe(1);
    expect(body.messages[body.messages.length - 1]).toEqual({ role: 'user', content: expect.stringMatching(/^Steering note from a person \(alice\) running this mission, sent 2026-01-01T00:00:00.000Z:\nUse tabs, not spaces\./) });
  }
  await agent.runTool({ session, callId: reply.toolCalls[0]!.id, workdir });
  // A signal that came twice (or an agent continued as new that sends it again) changes nothing.
  await llm.agentTurn({ session, turn: 2, steering: [note] });
  expect(mentions(server.requests[2]!.body.messages)).toBe(1);
  expect((await requireSession(file)).steered).toEqual([0]);
});
