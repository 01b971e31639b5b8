import { approvePlan, getStatus, MissionInputError, startMission, waitForReport } from '../src/client';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { makePlan, planReply, writesFiles } from './support/scripts';

const h = useHarness('client');

test('the typed client API starts, approves, watches and collects a mission; a second start with the same id returns the running one', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'api', files: ['api.txt'] }] }]))]);
  h.model.script('feature api', writesFiles({ 'api.txt': 'from code' }));
  const missionId = `api-${Date.now()}`;
  const first = await startMission(h.client, { prompt: 'From code', repo }, { missionId, taskQueue: h.taskQueue });
  const again = await startMission(h.client, { prompt: 'From code', repo }, { missionId, taskQueue: h.taskQueue });
  expect(again.firstExecutionRunId).toBe(first.firstExecutionRunId);

  await h.waitFor(first, (s) => s.phase === 'awaiting-approval');
  await approvePlan(h.client, missionId, { approvedBy: 'api' });
  const report = await waitForReport(h.client, missionId);
  expect(report.outcome).toBe('completed');
  expect(treeAt(repo, report.branch!)).toMatchObject({ 'api.txt': 'from code' });
  expect((await getStatus(h.client, missionId)).events.map((e) => e.message)).toContain('plan approved by api');
  expect(await (await first.describe()).staticSummary()).toBe('mission: From code');
});

test('startMission checks the input before starting anything', async () => {
  const err = await startMission(h.client, { prompt: 'x', maxMilestones: 0 }, { missionId: 'never-started', taskQueue: h.taskQueue }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MissionInputError);
  expect((err as MissionInputError).errors).toEqual(['maxMilestones: must be at least 1']);
  await expect(h.client.workflow.getHandle('never-started').describe()).rejects.toThrow(/not found/i);
});
