import { ScheduleNotFoundError } from '@temporalio/client';
import type { MissionReport } from '../src/api/report';
import { runCli } from './support/cli';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('schedules');

test('a schedule is created, triggered once (the mission runs), paused, and deleted', async () => {
  const repo = makeRepo();
  const id = `nightly-${Date.now()}`;
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'sched', files: ['sched.txt'] }] }]))]);
  h.model.script('feature sched', writesFiles({ 'sched.txt': 'from a schedule' }));

  const created = await runCli(h, ['schedule', 'create', '--id', id, '--cron', '0 3 1 1 *', '--prompt', 'Scheduled work', '--repo', repo, '--input', '{"requirePlanApproval": false}']);
  expect(created).toMatchObject({ code: 0, err: [''] });
  expect(created.out[0]).toBe(`created schedule ${id}\n`);
  const listed = await runCli(h, ['schedule', 'list', '--json']);
  const mine = (JSON.parse(listed.out[0]!) as { scheduleId: string; paused: boolean; nextRuns: string[] }[]).find((s) => s.scheduleId === id);
  expect(mine).toMatchObject({ paused: false });
  expect(mine!.nextRuns[0]).toMatch(/-01-01T03:00:00/);

  expect((await runCli(h, ['schedule', 'trigger', id])).code).toBe(0);
  const handle = h.client.schedule.getHandle(id);
  let workflowId = '';
  for (let i = 0; i < 100 && !workflowId; i++) {
    const recent = (await handle.describe()).info.recentActions[0]?.action;
    workflowId = recent?.type === 'startWorkflow' ? recent.workflow.workflowId : '';
    if (!workflowId) await new Promise((r) => setTimeout(r, 100));
  }
  expect(workflowId).toMatch(new RegExp(`^mission-${id}-`));
  const report = (await h.client.workflow.getHandle(workflowId).result()) as MissionReport;
  expect(report).toMatchObject({ outcome: 'completed', prompt: 'Scheduled work' });
  expect(treeAt(repo, report.branch!)).toMatchObject({ 'sched.txt': 'from a schedule' });
  expect(await (await h.client.workflow.getHandle(workflowId).describe()).staticSummary()).toBe('scheduled mission: Scheduled work');

  expect((await runCli(h, ['schedule', 'pause', id, '--note', 'holiday'])).code).toBe(0);
  expect((await handle.describe()).state).toMatchObject({ paused: true, note: 'holiday' });
  expect((await runCli(h, ['schedule', 'unpause', id])).code).toBe(0);
  expect((await handle.describe()).state.paused).toBe(false);
  expect((await runCli(h, ['schedule', 'delete', id])).code).toBe(0);
  await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
});

test('bad schedule requests fail before anything is created, with a clear message and exit code 2', async () => {
  const repo = makeRepo();
  const noCron = await runCli(h, ['schedule', 'create', '--id', 'no-cron', '--repo', repo]);
  expect(noCron.code).toBe(2);
  expect(noCron.err.join('\n')).toMatch(/cron: give at least one cron expression/);
  const badInput = await runCli(h, ['schedule', 'create', '--id', 'bad', '--cron', '0 3 * * *', '--repo', repo, '--input', '{"maxConcurency": 2}']);
  expect(badInput.code).toBe(2);
  expect(badInput.err.join('\n')).toMatch(/maxConcurency: unknown field \(did you mean "maxConcurrency"\?\)/);
  const badOverlap = await runCli(h, ['schedule', 'create', '--id', 'bad', '--cron', '0 3 * * *', '--overlap', 'sometimes']);
  expect(badOverlap.code).toBe(2);
  expect(badOverlap.err.join('\n')).toMatch(/--overlap must be one of skip, buffer-one/);
  const unknown = await runCli(h, ['schedule', 'explode']);
  expect(unknown.code).toBe(2);
  for (const id of ['no-cron', 'bad']) await expect(h.client.schedule.getHandle(id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
});
