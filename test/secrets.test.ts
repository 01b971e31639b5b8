import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MISSION_WORKFLOW } from '../src/api/constants';
import { statusQuery } from '../src/api/messages';
import { collectHistories } from './support/histories';
import { useHarness } from './support/harness';
import { makeRepo } from './support/repo';
import { call, finish, makePlan, planReply, tools } from './support/scripts';
import { startWorkerProcess } from './support/worker-process';

const h = useHarness('secrets');
const SECRETS = { OPENAI_API_KEY: 'sk-test-secret-key-123456', GITHUB_TOKEN: 'ghp_supersecretvalue987', DB_PASSWORD: 'hunter2-db-password' };

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (name === '.git') return [];
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

test('secrets in the worker environment never reach history, status, reports, conversations, agent commands or logs', async () => {
  const repo = makeRepo({ 'package.json': JSON.stringify({ scripts: { test: 'env | sort' } }) });
  const queue = `${h.taskQueue}-secrets`;
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'snoop', files: ['env.txt'] }] }]))]);
  h.model.script('feature snoop', [
    tools(call('run_command', { command: 'env > env.txt; echo "key=$OPENAI_API_KEY token=$GITHUB_TOKEN pw=$DB_PASSWORD"' })),
    finish('looked around'),
  ]);
  const worker = startWorkerProcess(h, queue, SECRETS);
  try {
    await worker.ready;
    const handle = await h.client.workflow.start(MISSION_WORKFLOW, {
      taskQueue: queue,
      workflowId: `secrets-${Date.now()}`,
      args: [{ prompt: 'Print the environment', repo, requirePlanApproval: false, validation: { commands: [{ name: 'env', run: 'env' }] } }],
    });
    const report = await handle.result();
    expect(report.outcome).toBe('completed');

    // The agent's command ran, without the secrets in its environment.
    const answer = h.model.requestsFor('feature snoop')[1]!.body.messages.find((m) => m.role === 'tool')!;
    expect(String(answer.content)).toMatch(/key= token= pw=/);

    const places: Record<string, string> = {
      history: JSON.stringify(await collectHistories(h.client, handle.workflowId)),
      decodedHistory: (await collectHistories(h.client, handle.workflowId)).map((e) => Buffer.from(e.history, 'base64').toString('latin1')).join('\n'),
      status: JSON.stringify(await handle.query(statusQuery)),
      result: JSON.stringify(report),
      logs: worker.output(),
      modelRequests: JSON.stringify(h.model.requests.map((r) => r.body)),
    };
    for (const file of filesUnder(h.home)) places[file] = readFileSync(file, 'latin1');
    for (const file of filesUnder(repo)) places[file] = readFileSync(file, 'latin1');
    expect(Object.keys(places).some((p) => p.endsWith('.md') && p.includes('reports'))).toBe(true);
    expect(Object.keys(places).some((p) => p.endsWith('env.txt'))).toBe(true);
    const leaks = Object.entries(places).flatMap(([where, text]) => Object.values(SECRETS).filter((s) => text.includes(s)).map((s) => `${s.slice(0, 6)}… in ${where}`));
    expect(leaks).toEqual([]);
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}, 120_000);
