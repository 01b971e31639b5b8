import { readFileSync } from 'node:fs';
import { parseMissionInput } from '../src/api/input';
import { resumeSignal } from '../src/api/messages';
import { costOf, formatCost, parsePriceSetting, priced, priceFor, DEFAULT_PRICES } from '../src/api/prices';
import type { MissionStatus } from '../src/api/status';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import type { RecordedRequest, ScriptedMessage } from './support/model-server';
import { makeRepo, treeAt } from './support/repo';
import { finish, makePlan, planReply, writesFiles } from './support/scripts';

const PRICE = { input: 3, cachedInput: 0.3, output: 15 };
const h = useHarness('money', { prices: { ...DEFAULT_PRICES, 'test-model': PRICE } });

/** What the price table says the server's reported usage of these requests cost. */
const costOfRequests = (requests: RecordedRequest[]) =>
  requests
    .filter((r) => r.status === 200)
    .reduce((usd, r) => usd + costOf({ prompt: r.usage!.prompt_tokens, completion: r.usage!.completion_tokens, cached: r.usage!.prompt_tokens_details?.cached_tokens }, PRICE), 0);
const withUsage = (replies: ScriptedMessage[], prompt: number, completion: number, cached?: number) =>
  replies.map((r) => ({ ...r, usage: { prompt_tokens: prompt, completion_tokens: completion, ...(cached === undefined ? {} : { cached_tokens: cached }) } }));

describe('prices (pure)', () => {
  test('cost is input, cached input and output tokens at the model price; dated snapshots match; unknown models stay unknown, never $0', () => {
    expect(costOf({ prompt: 1_000_000, completion: 1_000_000, cached: 400_000 }, PRICE)).toBeCloseTo(600_000 * 3e-6 + 400_000 * 0.3e-6 + 15, 10);
    expect(priceFor('gpt-4o-2024-08-06', DEFAULT_PRICES)).toEqual(DEFAULT_PRICES['gpt-4o']);
    expect(priced({ prompt: 10, completion: 5, total: 15 }, ['local-model', 'also-unknown'], DEFAULT_PRICES)).toEqual({ prompt: 10, completion: 5, total: 15, unpriced: 15 });
    expect(formatCost({ total: 15, unpriced: 15 })).toBe('unknown (no price for the model)');
    expect(formatCost({ total: 15 })).toBe('unknown (no price for the model)'); // usage from before costs were counted
    expect(formatCost({ total: 30, costUsd: 0.5, unpriced: 15 })).toBe('$0.50 + unknown (15 tokens of unpriced models)');
    expect(formatCost({ total: 0 })).toBe('$0.00');
    expect(formatCost({ total: 15, costUsd: 0 })).toBe('$0.00'); // a model priced at 0 (local) is known to be free
  });

  test('MISSION_PRICES and the models.prices of the input add to and replace the defaults; a wrong field is named', () => {
    const table = parsePriceSetting('{"qwen": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 2}}');
    expect(table.qwen).toEqual({ input: 0, output: 0 });
    expect(table['gpt-4o']).toEqual({ input: 1, output: 2 });
    expect(table['gpt-4.1']).toEqual(DEFAULT_PRICES['gpt-4.1']);
    expect(() => parsePriceSetting('{"qwen": {"input": -1, "output": "x"}}')).toThrow(/^MISSION_PRICES: qwen\.input: must be 0 or more; qwen\.output: must be a number of USD per million tokens$/);
    expect(() => parsePriceSetting('{"qwen": {"input": 1, "outptu": 2}}')).toThrow(/^MISSION_PRICES: qwen\.output: must be a number of USD per million tokens; qwen\.outptu: unknown field$/);
    expect(() => parsePriceSetting('{nope')).toThrow(/^MISSION_PRICES: not valid JSON/);
    // The same table in the mission input (`models.prices`): a wrong entry names its field.
    expect(parseMissionInput({ models: { prices: { qwen: { input: -1, output: 0 } } } })).toEqual({ ok: false, errors: ['models.prices.qwen.input: must be 0 or more'] });
  });
});

test('the report costs what the price table and the usage the server reported say, cached tokens included, per role and in total; an unpriced model is shown as unknown; the prices of the input apply', async () => {
  const repo = makeRepo();
  h.model.script('plan', withUsage([planReply(makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }] }]))], 2000, 300, 1500));
  h.model.script('feature a', withUsage(writesFiles({ 'a.txt': 'A' }), 1200, 80, 1000));
  const handle = await h.start({ prompt: 'Count the money', repo, requirePlanApproval: false });
  const report = await handle.result();
  expect(report.outcome).toBe('completed');

  const planCost = costOfRequests(h.model.requestsFor('plan'));
  const featureCost = costOfRequests(h.model.requestsFor('feature a'));
  const total = costOfRequests(h.model.requests);
  expect(planCost).toBeCloseTo((500 * 3 + 1500 * 0.3 + 300 * 15) / 1e6, 12);
  expect(report.tokensByRole.plan).toMatchObject({ cached: 1500 });
  expect(report.tokensByRole.plan!.costUsd).toBeCloseTo(planCost, 12);
  expect(report.tokensByRole.feature).toMatchObject({ cached: 2000 });
  expect(report.tokensByRole.feature!.costUsd).toBeCloseTo(featureCost, 12);
  expect(report.tokens.costUsd).toBeCloseTo(total, 12); // the report narrative's call included
  expect(report.tokens.unpriced).toBeUndefined();
  const markdown = readFileSync(report.reportPath!, 'utf8');
  expect(markdown).toContain(`- **Cost:** ${formatCost(report.tokens)} (plan ${formatCost(report.tokensByRole.plan!)}`);

  const status = (await runCli(h, ['status', handle.workflowId])).out.join('\n');
  expect(status).toContain(formatCost(report.tokens));
  let listed: { missionId: string; costUsd?: number }[] = [];
  for (let i = 0; i < 50 && listed[0]?.costUsd === undefined; i++) {
    listed = JSON.parse((await runCli(h, ['list', '--json', '--query', `WorkflowId = '${handle.workflowId}'`])).out[0]!) as typeof listed;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(listed[0]!.costUsd).toBeCloseTo(total, 12);

  // A worker model without a price: its tokens are counted, its cost is unknown (never $0).
  h.model.reset().scriptPrefix('report', { content: 'Summary.' });
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'b', files: ['b.txt'] }] }]))]);
  h.model.script('feature b', writesFiles({ 'b.txt': 'B' }));
  const unpriced = await (await h.start({ prompt: 'Local worker', repo: makeRepo(), requirePlanApproval: false, models: { worker: 'local-coder' } })).result();
  expect(unpriced.tokensByRole.feature).toMatchObject({ unpriced: unpriced.tokensByRole.feature!.total });
  expect(unpriced.tokensByRole.feature!.costUsd).toBeUndefined();
  expect(readFileSync(unpriced.reportPath!, 'utf8')).toMatch(/- \*\*Cost:\*\* \$[\d.]+ \+ unknown \(\d+ tokens of unpriced models\) \(.*feature unknown \(no price for the model\)/);

  // The mission's own prices (input `models.prices`) price it, over the worker's table.
  h.model.reset().scriptPrefix('report', { content: 'Summary.' });
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'c', files: ['c.txt'] }] }]))]);
  h.model.script('feature c', withUsage(writesFiles({ 'c.txt': 'C' }), 700, 50, 300));
  const local = { input: 1, cachedInput: 0.5, output: 2 };
  const own = await (await h.start({ prompt: 'Priced by the mission', repo: makeRepo(), requirePlanApproval: false, models: { worker: 'local-coder', prices: { 'local-coder': local } } })).result();
  expect(own.tokensByRole.feature!.costUsd).toBeCloseTo((2 * (400 * 1 + 300 * 0.5 + 50 * 2)) / 1e6, 12);
  expect(own.tokens.unpriced).toBeUndefined();
});

test('over budget.maxCostUsd the mission pauses before the next feature; resume with a raised cost limit finishes it', async () => {
  const repo = makeRepo();
  // plan $0.003; feature a 2 × $0.0018: over $0.004 after a, before b.
  h.model.script('plan', withUsage([planReply(makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }, { id: 'b', files: ['b.txt'] }] }]))], 1000, 0));
  h.model.script('feature a', withUsage(writesFiles({ 'a.txt': 'A' }), 600, 0));
  h.model.script('feature b', writesFiles({ 'b.txt': 'B' }));
  const handle = await h.start({ prompt: 'Spend little', repo, requirePlanApproval: false, budget: { maxCostUsd: 0.004 } });

  const paused = await h.waitFor(handle, (s) => s.phase === 'paused-budget');
  expect(paused.budget).toMatchObject({ maxCostUsd: 0.004, exceeded: 'cost budget reached: $0.0066 of $0.004 spent' });
  expect(paused.milestones[0]!.features.map((f) => [f.id, f.state])).toEqual([['a', 'done'], ['b', 'pending']]);
  expect(h.model.requestsFor('feature b')).toHaveLength(0);

  expect((await runCli(h, ['resume', handle.workflowId, '--budget.max-cost-usd', 'lots'])).code).toBe(2);
  expect((await runCli(h, ['resume', handle.workflowId, '--budget.max-cost-usd', '1'])).code).toBe(0);
  const report = await handle.result();
  expect(report.outcome).toBe('completed');
  expect(treeAt(repo, report.branch!)).toMatchObject({ 'a.txt': 'A', 'b.txt': 'B' });
  expect(h.model.requestsFor('feature a')).toHaveLength(2); // not paid again
});

test('a 429 storm that outlasts the retries parks the mission in paused-quota (planner and agent alike); resume continues where it stopped and finishes', async () => {
  const repo = makeRepo();
  const storm = { plan: true, agent: true };
  const limited = () => ({ status: 429, code: 'rate_limit_exceeded', message: 'Rate limit reached for requests', headers: { 'retry-after-ms': '5' } });
  const plan = planReply(makePlan([{ id: 'm1', features: [{ id: 'a', files: ['a.txt'] }] }]));
  h.model.scriptPrefix('plan', () => (storm.plan ? limited() : plan));
  h.model.script('feature a', writesFiles({ 'a.txt': 'A' }).slice(0, 1)); // one turn, then the storm
  h.model.scriptPrefix('feature a', () => (storm.agent ? limited() : finish('wrote a')));
  const handle = await h.start({ prompt: 'Survive the storm', repo, requirePlanApproval: false });

  const parkedAt = (s: MissionStatus) => s.phase === 'paused-quota';
  const plannerParked = await h.waitFor(handle, parkedAt);
  expect(plannerParked.parked).toMatch(/^the planner: .*HTTP 429.*Rate limit reached/);
  expect(h.model.requestsFor('plan').length).toBeGreaterThanOrEqual(10); // every retry was used first
  storm.plan = false;
  await handle.signal(resumeSignal, {});
  // The agent's first turn is answered; its second meets the storm.
  const agentParked = await h.waitFor(handle, (s) => parkedAt(s) && s.parked?.startsWith('agent') === true);
  expect(agentParked.parked).toMatch(/^agent a: .*HTTP 429/);
  expect(agentParked.milestones[0]!.features[0]!.state).toBe('running');
  const stormRequests = h.model.requestsFor('feature a').length;
  await new Promise((r) => setTimeout(r, 500));
  expect(h.model.requestsFor('feature a')).toHaveLength(stormRequests); // parked: nothing is asked

  storm.agent = false;
  expect((await runCli(h, ['resume', handle.workflowId])).code).toBe(0);
  const report = await handle.result();
  expect(report.outcome).toBe('completed');
  expect(treeAt(repo, report.branch!)).toMatchObject({ 'a.txt': 'A' });
  const answered = h.model.requestsFor('feature a').filter((r) => r.status === 200);
  expect(answered).toHaveLength(2); // the first turn was not asked again
  expect(report.tokensByRole.feature!.total).toBe(answered.reduce((n, r) => n + r.usage!.total_tokens, 0));
});
