import { existsSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { approvePlanSignal, statusQuery } from '../src/api/messages';
import { useHarness } from './support/harness';
import type { RecordedRequest } from './support/model-server';
import { branches, git, makeRepo, treeAt } from './support/repo';
import { call, finish, makePlan, planReply, tools, writesFiles } from './support/scripts';

const h = useHarness('flow');

/** [first request received, last response sent] of a role. */
function activeWindow(requests: RecordedRequest[]): [number, number] {
  return [Math.min(...requests.map((r) => r.receivedAt)), Math.max(...requests.map((r) => r.respondedAt ?? r.receivedAt))];
}

function maxOverlap(windows: [number, number][]): number {
  const points = windows.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let current = 0;
  let max = 0;
  for (const [, delta] of points) max = Math.max(max, (current += delta!));
  return max;
}

const slow = <T extends object>(replies: T[], delayMs = 250) => replies.map((r) => ({ ...r, delayMs }));

test('two milestones of parallel worktree features end in exactly the tree the agents wrote', async () => {
  const repo = makeRepo({ 'README.md': '# demo\n' });
  const userHead = git(repo, 'rev-parse', 'HEAD');
  const plan = makePlan([
    { id: 'm1', features: [{ id: 'm1-a', files: ['a.txt'] }, { id: 'm1-b', files: ['b.txt'] }] },
    {
      id: 'm2',
      features: [
        { id: 'm2-c', files: ['c.txt'] },
        { id: 'm2-d', files: ['d.txt'] },
        { id: 'm2-e', files: ['e.txt'], dependsOn: ['m2-c'] },
      ],
    },
  ]);
  h.model.script('plan', [planReply(plan)]);
  h.model.script('feature m1-a', slow(writesFiles({ 'a.txt': 'alpha' })));
  h.model.script('feature m1-b', slow(writesFiles({ 'b.txt': 'beta', 'docs/b.md': 'about b' })));
  h.model.script('feature m2-c', slow(writesFiles({ 'c.txt': 'gamma' })));
  h.model.script('feature m2-d', slow(writesFiles({ 'd.txt': 'delta' })));
  // m2-e depends on m2-c: its worktree must already hold c.txt.
  h.model.script('feature m2-e', [tools(call('read_file', { path: 'c.txt' })), ...writesFiles({ 'e.txt': 'epsilon' })]);

  const handle = await h.start({ prompt: 'Write the letters', repo, useWorktrees: true, maxConcurrency: 2 });
  const waiting = await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  expect(waiting.plan).toEqual(plan);
  expect(waiting.milestones.map((m) => m.state)).toEqual(['pending', 'pending']);
  await handle.signal(approvePlanSignal, { approvedBy: 'tester' });
  const result = await handle.result();

  expect(result.outcome).toBe('completed');
  const key = handle.workflowId;
  expect(result.branch).toBe(`mission/${key}`);
  expect(treeAt(repo, result.branch!)).toEqual({
    'README.md': '# demo',
    'a.txt': 'alpha',
    'b.txt': 'beta',
    'docs/b.md': 'about b',
    'c.txt': 'gamma',
    'd.txt': 'delta',
    'e.txt': 'epsilon',
  });
  // The user's checkout and base branch are untouched; merged feature branches are gone.
  expect(git(repo, 'rev-parse', 'HEAD')).toBe(userHead);
  expect(git(repo, 'rev-parse', 'main')).toBe(userHead);
  expect(git(repo, 'status', '--porcelain')).toBe('');
  expect(branches(repo)).toEqual(['main', `mission/${key}`]);
  expect(git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(2);
  expect(result.worktree).toBe(path.join(h.home, 'worktrees', key));

  // Every feature is done, has its own commit, and was merged; each milestone ends with a commit.
  for (const milestone of result.milestones) {
    expect(milestone.state).toBe('done');
    expect(milestone.commit).toMatch(/^[0-9a-f]{40}$/);
    for (const feature of milestone.features) {
      expect(feature).toMatchObject({ state: 'done', branch: `mission/${key}-${feature.id}`, merge: { state: 'merged' } });
      expect(git(repo, 'merge-base', '--is-ancestor', feature.commit!, result.branch!)).toBe('');
    }
  }
  expect(result.finalCommit).toBe(git(repo, 'rev-parse', result.branch!));
  const log = git(repo, 'log', '--format=%s', `main..${result.branch}`);
  expect(log).toContain('m1-a: Feature m1-a');
  expect(log).toContain('Merge m2-e: Feature m2-e');

  // Parallel where safe: m1's two features overlapped; never more than maxConcurrency at once in m2.
  const [a, b] = [activeWindow(h.model.requestsFor('feature m1-a')), activeWindow(h.model.requestsFor('feature m1-b'))];
  expect(a[0] < b[1] && b[0] < a[1]).toBe(true);
  expect(maxOverlap(['m2-c', 'm2-d', 'm2-e'].map((id) => activeWindow(h.model.requestsFor(`feature ${id}`))))).toBeLessThanOrEqual(2);
  // m2-e started after m2-c finished, and saw its file.
  expect(activeWindow(h.model.requestsFor('feature m2-e'))[0]).toBeGreaterThanOrEqual(activeWindow(h.model.requestsFor('feature m2-c'))[1]);
  const eSecond = h.model.requestsFor('feature m2-e')[1]!;
  expect(JSON.stringify(eSecond.body.messages)).toContain('gamma');

  // Tokens in the result are the sum of what the model server reported.
  const usage = h.model.requests.reduce((sum, r) => sum + (r.usage?.total_tokens ?? 0), 0);
  expect(result.tokens.total).toBe(usage);
  expect(result.tokens.total).toBeGreaterThan(0);

  // The model API key never reaches workflow history (the worker's openai client holds it).
  for (const id of [handle.workflowId, `${handle.workflowId}/m1/m1-a`]) {
    const history = await h.client.workflow.getHandle(id).fetchHistory();
    expect(Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1')).not.toContain('sk-test-secret');
  }
});

test('without worktrees the features run one after another on the mission branch', async () => {
  const repo = makeRepo({ 'README.md': '# seq\n' });
  const plan = makePlan([{ id: 'm1', features: [{ id: 'one', files: ['x.txt'] }, { id: 'two', files: ['y.txt'] }] }]);
  h.model.script('plan', [planReply(plan)]);
  h.model.script('feature one', slow(writesFiles({ 'x.txt': 'first' })));
  h.model.script('feature two', [tools(call('read_file', { path: 'x.txt' })), ...writesFiles({ 'y.txt': 'second' })]);

  const handle = await h.start({ prompt: 'Two steps', repo, requirePlanApproval: false, useWorktrees: false, maxConcurrency: 3 });
  const result = await handle.result();

  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toEqual({ 'README.md': '# seq', 'x.txt': 'first', 'y.txt': 'second' });
  expect(branches(repo)).toEqual(['main', `mission/${handle.workflowId}`]);
  const [one, two] = result.milestones[0]!.features;
  expect(one!.branch).toBe(result.branch);
  expect(two!.branch).toBe(result.branch);
  // Sequential: two started after one ended, on top of its commit, and read its file.
  expect(activeWindow(h.model.requestsFor('feature two'))[0]).toBeGreaterThanOrEqual(activeWindow(h.model.requestsFor('feature one'))[1]);
  expect(git(repo, 'rev-parse', `${two!.commit}^`)).toBe(one!.commit);
  expect(JSON.stringify(h.model.requestsFor('feature two')[1]!.body.messages)).toContain('first');
  // No merge commits, and no empty marker commit: the milestone's commit is the last feature's.
  expect(git(repo, 'log', '--merges', '--format=%H', `main..${result.branch}`)).toBe('');
  expect(result.milestones[0]!.commit).toBe(two!.commit);
  expect(git(repo, 'log', '-1', '--format=%(trailers:key=Mission-Step,valueonly)', two!.commit!)).toBe(`${handle.workflowId}/m1/two`);
});

test('a tool call that escapes the working directory is refused and the mission still finishes', async () => {
  const repo = makeRepo({ 'README.md': '# escape\n' });
  const outside = path.join(path.dirname(repo), `escape-${Date.now()}.txt`);
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'sneaky' }] }]))]);
  h.model.script('feature sneaky', [
    tools(call('read_file', { path: '../../../../etc/passwd' }), call('write_file', { path: outside, content: 'pwned' })),
    tools(call('read_file', { path: '.git/config' })),
    ...writesFiles({ 'inside.txt': 'fine' }),
  ]);
  const handle = await h.start({ prompt: 'Try to escape', repo, requirePlanApproval: false });
  const result = await handle.result();

  expect(result.outcome).toBe('completed');
  expect(existsSync(outside)).toBe(false);
  expect(treeAt(repo, result.branch!)).toEqual({ 'README.md': '# escape', 'inside.txt': 'fine' });
  const [, second, third] = h.model.requestsFor('feature sneaky');
  const toolAnswers = (r: RecordedRequest) => r.body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content));
  expect(toolAnswers(second!)).toEqual([expect.stringMatching(/outside the working directory/), expect.stringMatching(/outside the working directory|absolute/)]);
  expect(toolAnswers(third!).at(-1)).toMatch(/\.git/);
  expect(result.milestones[0]!.features[0]!.state).toBe('done');
});

test('an agent that never finishes stops at its turn budget and its work is still committed', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'endless' }] }]))]);
  h.model.script('feature endless', [
    tools(call('write_file', { path: 'one.txt', content: '1' })),
    { content: 'Thinking out loud without tools.' },
    tools(call('write_file', { path: 'three.txt', content: '3' })),
  ]);
  const handle = await h.start({ prompt: 'Never finish', repo, requirePlanApproval: false, budget: { maxTurnsPerFeature: 3 } });
  const result = await handle.result();

  const feature = result.milestones[0]!.features[0]!;
  expect(feature).toMatchObject({ state: 'incomplete', turns: 3 });
  expect(feature.summary).toMatch(/turn budget \(3 turns\)/);
  expect(treeAt(repo, feature.commit!)).toMatchObject({ 'one.txt': '1', 'three.txt': '3' });
  // Unfinished work is not a completed mission: it is unresolved, with what the agent did and where that is.
  expect(result.outcome).toBe('completed-with-issues');
  expect((await handle.query(statusQuery)).phase).toBe('completed-with-issues');
  expect(result.unresolved).toEqual([
    expect.objectContaining({ milestoneId: 'm1', kind: 'feature', name: 'endless', state: 'incomplete', commit: feature.commit, branch: result.branch, merged: true, files: ['one.txt', 'three.txt'] }),
  ]);
  // A reply without tool calls is answered with a nudge, so the next request is still a valid transcript.
  const third = h.model.requestsFor('feature endless')[2]!;
  expect(third.body.messages.at(-1)).toMatchObject({ role: 'user', content: expect.stringMatching(/call finish/) });
});

test('history bytes per agent turn do not grow with the conversation', async () => {
  const repo = makeRepo();
  const turns = { short: 6, medium: 18, long: 30 };
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: Object.keys(turns).map((id) => ({ id })) }]))]);
  for (const [id, n] of Object.entries(turns)) {
    // Each turn writes 4 KB, so the conversation grows by 4 KB a turn.
    const replies = Array.from({ length: n - 1 }, (_, i) => tools(call('write_file', { path: `${id}-${i}.txt`, content: 'x'.repeat(4096) })));
    h.model.script(`feature ${id}`, [...replies, finish()]);
  }
  // The conversations outgrow the 8k window assumed for an unknown model: compaction (inside the turn) keeps them in.
  h.model.scriptPrefix('compact', { content: 'Summary: wrote files.' });
  const handle = await h.start({ prompt: 'Grow', repo, requirePlanApproval: false });
  await handle.result();

  const bytes: Record<string, number> = {};
  for (const id of Object.keys(turns)) {
    const history = await h.client.workflow.getHandle(`${handle.workflowId}/m1/${id}`).fetchHistory();
    bytes[id] = temporal.api.history.v1.History.encode(history).finish().length;
  }
  const early = (bytes.medium! - bytes.short!) / (turns.medium - turns.short);
  const late = (bytes.long! - bytes.medium!) / (turns.long - turns.medium);
  expect(late / early).toBeLessThan(1.1);
  // ~2 activities of fixed Temporal overhead per turn, far less than the 4 KB each turn added to the conversation.
  expect(late).toBeLessThan(2500);
});

test('workflows, child workflows and activities carry readable summaries for the Web UI and CLI', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'docs', title: 'Write docs', files: ['docs.md'] }] }]))]);
  h.model.script('feature docs', writesFiles({ 'docs.md': 'hello' }));
  const handle = await h.start({ prompt: 'Summaries', repo, requirePlanApproval: false });
  await handle.result();

  const child = h.client.workflow.getHandle(`${handle.workflowId}/m1/docs`);
  const description = await child.describe();
  expect(await description.staticSummary()).toBe('feature docs: Write docs');
  expect(await description.staticDetails()).toMatch(/^Mission .*, milestone m1: Milestone m1\nWorking in .* on mission\//);
  // Activities carry theirs on ActivityTaskScheduled; an agent's turns are local activities, theirs are on their markers.
  const summaries = async (id: string) =>
    ((await h.client.workflow.getHandle(id).fetchHistory()).events ?? [])
      .filter((e) => (e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes) && e.userMetadata?.summary?.data)
      .map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString()) as string);
  expect(await summaries(child.workflowId)).toEqual(['llm: docs turn 1', 'tool: write_file docs.md', 'llm: docs turn 2', 'tool: finish done + commit']);
  expect(await summaries(handle.workflowId)).toEqual(expect.arrayContaining(['llm: plan turn 1', 'report: completed']));
  // The built-in metadata query carries the current details and the handler descriptions.
  const meta = (await handle.query('__temporal_workflow_metadata')) as {
    currentDetails: string;
    definition: { signalDefinitions: { name: string; description?: string }[]; updateDefinitions: { name: string; description?: string }[] };
  };
  expect(meta.currentDetails).toMatch(/^completed: mission completed on mission\/\S+; report at .* · milestones 1\/1 · \d+ tokens$/);
  expect(meta.definition.signalDefinitions.find((d) => d.name === 'approvePlan')?.description).toMatch(/^Approve the plan: \{ comment\?, approvedBy\?, revision\? \}/);
  // The same decision as an update answers back; the Web UI lists both.
  expect(meta.definition.updateDefinitions.find((d) => d.name === 'approvePlan')?.description).toMatch(/Answers at once: refused with the reason/);

  // Search attributes let people filter missions in the Web UI and with `temporal workflow list --query`.
  const query = `WorkflowId = '${handle.workflowId}' AND MissionStatus = 'completed' AND MissionRepo = '${git(repo, 'rev-parse', '--show-toplevel')}'`;
  let found: string[] = [];
  for (let i = 0; i < 50 && !found.length; i++) {
    found = [];
    for await (const w of h.client.workflow.list({ query })) found.push(w.workflowId);
    if (!found.length) await new Promise((r) => setTimeout(r, 200));
  }
  expect(found).toEqual([handle.workflowId]);
});
