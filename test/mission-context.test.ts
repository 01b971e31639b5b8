import { promptTokens, type ScriptedMessage } from './support/model-server';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';

/** Issue 13, items 3 and 4: conversations that fit a small window, and the quirks of real (local) models. */

const h = useHarness('context');

/** 4 KB of text: each read_file of it is a 4 KB tool output. */
const BIG = Array.from({ length: 64 }, (_, i) => `${String(i + 1).padStart(3, '0')} ${'lorem ipsum '.repeat(5)}`).join('\n').slice(0, 4096);

// Mission assumes 8k for an unknown model and compacts before the server refuses; told 32k (wrongly), it learns
// the real window from the server's first context_length_exceeded, compacts and retries.
test.each([
  ['the assumed 8k window', undefined, 0],
  ['a configured window too large for the server', { 'test-model': 32_000 }, 1],
])('a 60-turn feature with 4 KB tool outputs completes through compaction within a 6,000-token window (%s), and the mission completes', async (_name, contextWindow, minRefused) => {
  const repo = makeRepo({ 'README.md': '# demo\n', 'big.txt': BIG });
  h.model.contextWindow = 6000;
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['notes.txt'] }] }]))]);
  let turn = 0;
  h.model.scriptPrefix('feature f', (): ScriptedMessage => {
    turn += 1;
    if (turn === 1) return tools(call('write_file', { path: 'notes.txt', content: 'notes' }));
    if (turn < 60) return tools(call('read_file', { path: 'big.txt' }));
    return finish('read big.txt 58 times');
  });
  let summaries = 0;
  h.model.scriptPrefix('compact f', () => ({ content: `Summary ${++summaries}: wrote notes.txt, then read big.txt again and again. Left: finish.` }));

  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, budget: { maxTurnsPerFeature: 60 }, models: { contextWindow } });
  const result = await handle.result();

  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'notes.txt': 'notes' });
  const status = await h.waitFor(handle, (s) => s.phase === 'completed');
  expect(status.milestones[0]!.features[0]).toMatchObject({ id: 'f', state: 'done' });
  expect(turn).toBe(60);

  const feature = h.model.requestsFor('feature f');
  const refused = feature.filter((r) => r.status === 400);
  expect(refused.length).toBeGreaterThanOrEqual(minRefused);
  expect(refused.length).toBeLessThanOrEqual(minRefused + 1);
  const answered = feature.filter((r) => r.status === 200);
  expect(answered).toHaveLength(60);
  for (const r of answered) expect(promptTokens(r.body.messages)).toBeLessThanOrEqual(6000);
  // Tool outputs were cut with a note naming the saved full text.
  expect(answered.some((r) => r.body.messages.some((m) => m.role === 'tool' && /output cut: 4\d{3} characters/.test(String(m.content))))).toBe(true);

  const compactions = h.model.requestsFor('compact f');
  expect(compactions.length).toBeGreaterThanOrEqual(3);
  // Every answered turn and summary counted once: the turns under `feature`, the summaries under `compact`.
  const paid = (requests: typeof answered) => requests.reduce((n, r) => n + r.usage!.total_tokens, 0);
  expect(status.tokensByRole.feature?.total).toBe(paid(answered));
  expect(status.tokensByRole.compact?.total).toBe(paid(compactions));
  for (const c of compactions) expect(c.status).toBe(200);
  // What the last request kept: the task verbatim, the summary with the files touched, the latest turns.
  const last = answered.at(-1)!.body.messages;
  expect(last[0]!.role).toBe('system');
  expect(String(last[1]!.content)).toMatch(/^Role: feature f\n/);
  expect(String(last[2]!.content)).toMatch(/^\[Mission compacted this conversation \(\d+ times\)[\s\S]*Summary \d+: wrote notes.txt[\s\S]*Files you have written or edited: notes.txt/);
  expect(last.at(-1)).toMatchObject({ role: 'tool' });
}, 240_000);

test('an agent that cannot continue within the window ends failed, and the mission goes on', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'g', files: ['g.txt'] }, { id: 'k', files: ['k.txt'] }] }]))]);
  h.model.script('feature g', [
    { status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 50 tokens. However, your messages resulted in 900 tokens." },
  ]);
  h.model.script('feature k', writesFiles({ 'k.txt': 'k' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).not.toBe('failed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'k.txt': 'k' });
  expect(result.outcome).toBe('completed-with-issues');
  const status = await h.waitFor(handle, (s) => s.phase === 'completed-with-issues');
  const [g, k] = status.milestones[0]!.features;
  expect(g).toMatchObject({ id: 'g', state: 'failed', summary: expect.stringMatching(/agent g cannot continue.*context window/) });
  expect(k).toMatchObject({ id: 'k', state: 'done' });
}, 120_000);

test('tool calls written as JSON in the text (fenced and bare) are executed', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['a.txt', 'b.txt'] }] }]))]);
  h.model.script('feature f', [
    { content: 'Creating the file now.\n```json\n{"name": "write_file", "arguments": {"path": "a.txt", "content": "fenced"}}\n```' },
    { content: '{"tool": "write_file", "parameters": {"path": "b.txt", "content": "bare"}}' },
    { content: '{"name": "finish", "arguments": {"summary": "wrote a and b", "status": "done"}}' },
  ]);
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'a.txt': 'fenced', 'b.txt': 'bare' });
  const status = await h.waitFor(handle, (s) => s.phase === 'completed');
  expect(status.milestones[0]!.features[0]).toMatchObject({ state: 'done', summary: 'wrote a and b' });
}, 120_000);

test('a server without json_schema support still plans (json_object), and the plan limits go into the schema', async () => {
  const repo = makeRepo();
  h.model.rejectJsonSchema = true;
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'] }] }]))]);
  h.model.script('feature f', writesFiles({ 'f.txt': 'planned without json_schema' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, maxMilestones: 1, maxFeaturesPerMilestone: 2 });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'f.txt': 'planned without json_schema' });
  const plans = h.model.requestsFor('plan');
  expect(plans.map((r) => [r.body.response_format?.type, r.status])).toEqual([
    ['json_schema', 400],
    ['json_object', 200],
  ]);
  // While the planner may still ask, the plan is the `plan` of { questions, plan }.
  const wrapper = plans[0]!.body.response_format!.json_schema!.schema as { properties: { plan: { anyOf: unknown[] } } };
  const schema = wrapper.properties.plan.anyOf[0] as { properties: { milestones: { maxItems: number; items: { properties: { features: { maxItems: number } } } } } };
  expect(schema.properties.milestones.maxItems).toBe(1);
  expect(schema.properties.milestones.items.properties.features.maxItems).toBe(2);
}, 120_000);
