import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { createAgentActivities } from '../src/activities/agent';
import { MissionPaths } from '../src/activities/paths';
import { Sandbox } from '../src/activities/sandbox';
import { rejectPlanSignal } from '../src/api/messages';
import { historyWaiter } from '../src/cli/progress';
import { newSession, requireSession, saveSession } from '../src/activities/session';
import { useHarness } from './support/harness';
import { git, makeRepo, tempDir, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

/**
 * The steps on a milestone's critical path (issue 16): each is a round trip through the server, so the ones that
 * need no step of their own are folded into their neighbours, and the ones nothing waits for run beside the agents.
 */
const h = useHarness('critical-path');

type Event = temporal.api.history.v1.IHistoryEvent;
const activityTypes = (events: Event[]) => events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);

test("an agent opens its conversation in its first turn and commits with its finish call; validation is looked up while the agents work", async () => {
  const repo = makeRepo({ 'README.md': '# path\n' });
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'only', files: ['a.txt'] }] }]))]);
  h.model.script('feature only', writesFiles({ 'a.txt': 'a' }, 'wrote a.txt'));

  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true, validation: { commands: [{ name: 'check', run: 'test -f a.txt' }] } });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'a.txt': 'a' });

  // The agent: its turns and tool calls only (no step to open the conversation, none to commit).
  const agent = h.client.workflow.getHandle(`${handle.workflowId}/m1/only`);
  expect(activityTypes((await agent.fetchHistory()).events ?? [])).toEqual(['agentTurn', 'runTool', 'agentTurn', 'runTool']);
  // Its work is committed once, with the finish summary and the step trailer, and that commit is the one merged.
  const commit = result.milestones[0]!.features[0]!.commit!;
  expect(git(repo, 'log', '-1', '--format=%B', commit)).toMatch(/^only: .*\n\nwrote a\.txt\n\nMission-Step: .*\/m1\/only\s*$/);
  expect(git(repo, 'rev-list', '--count', `${result.baseCommit}..${commit}`)).toBe('1');

  // The mission: discoverValidation is scheduled before the agent has finished, not after the merge.
  const events = (await handle.fetchHistory()).events ?? [];
  const discover = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'discoverValidation');
  const agentDone = events.find((e) => e.childWorkflowExecutionCompletedEventAttributes);
  expect(Number(discover!.eventId)).toBeLessThan(Number(agentDone!.eventId));
  expect(activityTypes(events).filter((t) => t === 'discoverValidation')).toHaveLength(1);
});

test('a finish call that commits commits once: a retry, recorded or not, returns the same commit', async () => {
  const paths = new MissionPaths(tempDir('mission-home-'));
  const agent = createAgentActivities({ paths, sandbox: new Sandbox({ missionHome: paths.home, env: { PATH: process.env.PATH } }) });
  const repo = makeRepo({ 'README.md': '# finish\n' });
  git(repo, 'checkout', '-q', '-b', 'mission/finish');
  const since = git(repo, 'rev-parse', 'HEAD');
  writeFileSync(path.join(repo, 'b.txt'), 'b');
  const session = { missionKey: 'k', name: 'f' };
  const file = paths.sessionFile('k', 'f');
  await saveSession(file, {
    ...newSession([
      { role: 'user', content: 'Role: feature f' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'finish', arguments: JSON.stringify({ summary: 'wrote b', status: 'done' }) } }] },
    ]),
  });
  const request = { session, callId: 'c1', workdir: repo, repo, commit: { message: 'f: write b', step: 'step-f', since } };

  const first = await agent.runTool(request);
  expect(first.finish).toEqual({ status: 'done', summary: 'wrote b' });
  expect(first.commit).toBe(git(repo, 'rev-parse', 'HEAD'));
  expect(git(repo, 'log', '-1', '--format=%B')).toMatch(/^f: write b\n\nwrote b\n\nMission-Step: step-f\s*$/);
  // Retried after the answer was recorded: the recorded answer.
  expect(await agent.runTool(request)).toEqual(first);
  // Retried after the commit but before the answer was recorded (a crash between the two): found by its trailer.
  const saved = await requireSession(file);
  delete saved.tools.c1;
  saved.messages.pop();
  await saveSession(file, saved);
  expect((await agent.runTool(request)).commit).toBe(first.commit);
  expect(git(repo, 'rev-list', '--count', `${since}..HEAD`)).toBe('1');
});

test('`mission run` waits for the plan on the history: a wait ends as soon as the mission writes an event, else at its bound', async () => {
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'later', files: ['l.txt'] }] }]))]);
  const handle = await h.start({ prompt: 'x', repo: makeRepo(), requirePlanApproval: true });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  const nextEvent = historyWaiter(h.client, handle.workflowId);
  await nextEvent(60_000); // the history so far, at once
  // Nothing happens at the gate: the wait lasts its bound.
  const quiet = Date.now();
  await nextEvent(500);
  expect(Date.now() - quiet).toBeGreaterThanOrEqual(450);
  // A decision is an event: the wait ends with it, long before its bound.
  const started = Date.now();
  const waited = nextEvent(60_000);
  await new Promise((r) => setTimeout(r, 200));
  await handle.signal(rejectPlanSignal, { reason: 'not now' });
  await waited;
  expect(Date.now() - started).toBeLessThan(30_000);
});

test('features that finished together merge in one step, in plan order; a conflict in it still goes to the integration agent', async () => {
  const repo = makeRepo({ 'README.md': '# together\n', 'shared.txt': 'base\n' });
  const features = [
    { id: 'slow', files: ['a.txt'] },
    { id: 'quick', files: ['b.txt'] },
    { id: 'clash', files: ['shared.txt'] },
  ];
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features }]))]);
  // The first feature thinks for seconds: by then the others have finished, and all three are ready to merge.
  h.model.script('feature slow', writesFiles({ 'a.txt': 'a', 'shared.txt': 'slow\n' }).map((reply) => ({ ...reply, delayMs: 3000 })));
  h.model.script('feature quick', writesFiles({ 'b.txt': 'b' }));
  h.model.script('feature clash', writesFiles({ 'shared.txt': 'clash\n' }));
  h.model.script('integration', writesFiles({ 'shared.txt': 'slow and clash\n' }, 'kept both'));

  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false, useWorktrees: true, maxConcurrency: 3 });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(treeAt(repo, result.branch!)).toMatchObject({ 'a.txt': 'a', 'b.txt': 'b', 'shared.txt': 'slow and clash' });
  expect(result.milestones[0]!.features.map((f) => [f.id, f.merge?.state])).toEqual([
    ['slow', 'merged'],
    ['quick', 'merged'],
    ['clash', 'merged'],
  ]);

  const events = (await handle.fetchHistory()).events ?? [];
  const summaries = events.filter((e) => /^merge/.test(e.activityTaskScheduledEventAttributes?.activityType?.name ?? '')).map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString()) as string);
  expect(summaries).toEqual(['git: merge slow, quick, clash']);
  expect(activityTypes(events)).toContain('concludeMerge');
});
