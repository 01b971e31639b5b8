import { recordFigure, type Row } from './figures';
import { completed, createBench, fetchHistories, historyStats, round, scriptAgents, type Bench } from './support';
import { makeRepo } from '../test/support/repo';
import { makePlan, planReply } from '../test/support/scripts';

const TURNS = [10, 40, 160];
/** Each turn writes this much, so the conversation (kept on the worker's disk) grows by it every turn. */
const BYTES_PER_WRITE = 2048;
const RATIO_TARGET = 1.25;
const WARNING_BYTES = 10 * 1024 * 1024;
/** "Well under" the 10 MB warning: a tenth of it. */
const SIZE_TARGET = WARNING_BYTES / 10;

let b: Bench;
afterAll(() => b?.close());

test('3. history growth: bytes and events per agent turn for features of 10, 40 and 160 turns', async () => {
  const began = Date.now();
  b = await createBench('history', { latencyMs: 0 });
  const ids = TURNS.map((n) => `turns-${n}`);
  b.model.scriptPrefix('plan', planReply(makePlan([{ id: 'm1', features: ids.map((id) => ({ id })) }], 'History growth')));
  scriptAgents(b.model, (id) => Number(id.split('-')[1]), BYTES_PER_WRITE);

  // A window the 160-turn conversation (~80k tokens) fits in: this figure is about history, not compaction (which
  // would restart the scripted agents' turn count, as they count the assistant messages they are sent).
  const handle = await b.start({
    prompt: 'History growth',
    repo: makeRepo(),
    requirePlanApproval: false,
    useWorktrees: false,
    budget: { maxTurnsPerFeature: 200 },
    models: { contextWindow: { 'bench-model': 1_000_000 } },
  });
  const report = await completed(handle);
  expect(report.milestones[0]!.features.map((f) => f.turns)).toEqual(TURNS);
  expect(b.model.failures).toEqual([]);

  const features = [];
  for (const [i, id] of ids.entries()) {
    const runs = await fetchHistories(b.client, `${handle.workflowId}/m1/${id}`);
    const stats = historyStats(runs);
    const turns = TURNS[i]!;
    features.push({
      turns,
      runs: stats.runs,
      events: stats.events,
      bytes: stats.bytes,
      largestRunBytes: Math.max(...runs.map((r) => r.bytes)),
      bytesPerTurn: stats.bytes / turns,
      eventsPerTurn: stats.events / turns,
      conversationBytes: turns * BYTES_PER_WRITE,
    });
  }
  const [f10, f40, f160] = features as [(typeof features)[0], (typeof features)[0], (typeof features)[0]];
  const ratio = f160.bytesPerTurn / f10.bytesPerTurn;
  // Marginal cost: what each extra turn adds, without the fixed cost of starting and ending a feature.
  const early = (f40.bytes - f10.bytes) / (f40.turns - f10.turns);
  const late = (f160.bytes - f40.bytes) / (f160.turns - f40.turns);

  const rows: Row[] = features.map((f) => ({
    name: `${f.turns}-turn feature`,
    value:
      `${round(f.bytesPerTurn)} bytes and ${round(f.eventsPerTurn, 1)} events per turn (${round(f.bytes / 1024, 1)} KiB, ${f.events} events` +
      `${f.runs > 1 ? `, ${f.runs} runs (continue-as-new)` : ''}; the conversation itself grew to ${round(f.conversationBytes / 1024)} KiB)`,
  }));
  rows.push(
    { name: 'bytes per turn, 160 ÷ 10 turns', value: `${round(ratio, 2)}×`, target: `≤ ${RATIO_TARGET}×`, pass: ratio <= RATIO_TARGET },
    {
      name: 'marginal bytes per turn, turns 41–160 ÷ turns 11–40',
      value: `${round(late / early, 2)}× (${round(early)} → ${round(late)} bytes)`,
      target: `≤ ${RATIO_TARGET}×`,
      pass: late / early <= RATIO_TARGET,
    },
    {
      name: '160-turn feature history',
      value: `${round(f160.largestRunBytes / 1024, 1)} KiB in its largest run (${round((f160.largestRunBytes / WARNING_BYTES) * 100, 2)}% of Temporal's 10 MB warning)`,
      target: `< ${SIZE_TARGET / 1024 / 1024} MiB`,
      pass: f160.largestRunBytes < SIZE_TARGET,
    },
  );

  recordFigure('history', {
    n: 3,
    title: 'History growth',
    how:
      `one mission with three features of ${TURNS.join(', ')} turns, each turn a write_file of ${BYTES_PER_WRITE} bytes (so the conversation grows by ~${BYTES_PER_WRITE / 1024} KiB a turn), ` +
      'then finish; zero-latency model. History bytes = temporal.api.history.v1.History.encode(history).length of each feature child workflow ' +
      '(every run, if it continued as new); per turn = total ÷ turns, marginal = difference between features ÷ difference in turns.',
    rows,
    data: { features, marginalBytesPerTurn: { turns11to40: early, turns41to160: late } },
    durationMs: Date.now() - began,
  });
});
