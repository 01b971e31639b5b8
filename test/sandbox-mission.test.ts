import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { statusQuery } from '../src/api/messages';
import type { MissionReport } from '../src/api/report';
import { useHarness } from './support/harness';
import { branches, makeRepo } from './support/repo';
import { call, finish, makePlan, planReply, tools } from './support/scripts';

/** The tool answers the model was sent in a conversation (what the agent saw of its commands). */
const toolAnswers = (h: ReturnType<typeof useHarness>, role: string) =>
  h.model.requestsFor(role).flatMap((r) => r.body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content)));

const onePlan = (features: string[]) => planReply(makePlan([{ id: 'm1', features: features.map((id) => ({ id })) }]));

describe('with bubblewrap (the default)', () => {
  const h = useHarness('sandbox');

  it('status and report say which sandbox ran and list what the agent tried that was refused', async () => {
    const repo = makeRepo({ 'README.md': '# mine\n' });
    h.model.script('plan', [onePlan(['escape'])]);
    h.model.script('feature escape', [
      tools(call('run_command', { command: `echo planted > ${repo}/planted.txt` })),
      tools(call('run_command', { command: 'echo work > work.txt' })),
      finish('tried'),
    ]);
    const handle = await h.start({ prompt: 'Try to escape', repo, requirePlanApproval: false });
    const result = await handle.result();

    expect(existsSync(path.join(repo, 'planted.txt'))).toBe(false);
    // This machine has gcc, Landlock and writable cgroup v1 hierarchies (root): both layers show.
    expect(result.sandbox).toEqual({
      backend: 'bwrap',
      network: false,
      env: [],
      layers: [expect.stringMatching(/^Landlock ABI \d+: writes only in the working tree, \/tmp and \/dev$/), 'limits: processes and memory held by a cgroup per command, the rest by the resource guard'],
    });
    expect(result.refused).toEqual({ count: 1, last: [{ taskId: 'escape', action: expect.stringMatching(/^run_command: write outside the working tree: .*Read-only file system/) }] });
    const md = readFileSync(result.reportPath!, 'utf8');
    expect(md).toMatch(/- \*\*Sandbox:\*\* bwrap, network off for agent commands \(dependency installs: on\); Landlock ABI \d+: .*; limits: processes and memory held by a cgroup/);
    expect(md).toContain('- **Refused actions:** 1');
    expect(md).toMatch(/## Refused actions\n\n.*\n\n- escape: run_command: write outside the working tree/);
    const status = await handle.query(statusQuery);
    expect(status).toMatchObject({ sandbox: { backend: 'bwrap', network: false }, refused: { count: 1 } });
  });

  it('a dequal-style repository validates with npm install (reaching the registry) and npm test, while the agent has no network', async () => {
    const repo = makeRepo({
      '.gitignore': 'node_modules\n',
      'package.json': JSON.stringify({ name: 'uses-dequal', version: '1.0.0', dependencies: { dequal: '2.0.3' }, scripts: { test: 'node test.js' } }),
      'test.js': "const { dequal } = require('dequal');\nif (!dequal({ a: [1] }, { a: [1] })) process.exit(1);\nconsole.log('dequal works');\n",
    });
    h.model.script('plan', [onePlan(['net'])]);
    h.model.script('feature net', [tools(call('run_command', { command: 'npm view dequal version --fetch-retries=0' })), finish('no network')]);
    const handle = await h.start({ prompt: 'Use dequal', repo, requirePlanApproval: false });
    const result = await handle.result();

    const [answer] = toolAnswers(h, 'feature net');
    expect(answer).toMatch(/^exit code: [1-9]/);
    expect(answer).toMatch(/EAI_AGAIN|ENOTFOUND|ENETUNREACH/);
    expect(result.refused?.last[0]?.action).toMatch(/^run_command: network access/);
    const validation = result.milestones[0]!.validation!;
    expect(validation.status).toBe('passed');
    expect(validation.runs[0]!.results.map((r) => [r.name, r.exitCode])).toEqual([
      ['npm install', 0],
      ['npm test', 0],
    ]);
    expect(validation.runs[0]!.results[1]!.outputTail).toContain('dequal works');
  }, 120_000);
});

describe('on a worker whose bubblewrap cannot be found', () => {
  const h = useHarness('sandbox-missing', { sandbox: { mode: 'bwrap', bwrapPath: '/nonexistent/bwrap' } });

  it('the mission fails at prepare, before any branch or model call, saying how to install one', async () => {
    const repo = makeRepo();
    const handle = await h.start({ prompt: 'Never starts', repo, requirePlanApproval: false });
    await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'SANDBOX_UNAVAILABLE', message: expect.stringMatching(/\/nonexistent\/bwrap not found.*apt-get install bubblewrap.*MISSION_SANDBOX=off/) } });
    expect(branches(repo)).toEqual(['main']);
    expect(h.model.requests).toEqual([]);
  });
});

describe('on a worker with MISSION_SANDBOX=off', () => {
  const h = useHarness('sandbox-off', { sandbox: { mode: 'off' } });

  it('status and report say loudly that commands ran unsandboxed', async () => {
    const repo = makeRepo();
    h.model.script('plan', [onePlan(['plain'])]);
    h.model.script('feature plain', [tools(call('run_command', { command: 'echo hi' })), finish('ran')]);
    const handle = await h.start({ prompt: 'Unsandboxed', repo, requirePlanApproval: false });
    const result: MissionReport = await handle.result();
    expect(result.sandbox).toMatchObject({ backend: 'off', note: expect.stringMatching(/opted out with MISSION_SANDBOX=off/) });
    const status = await handle.query(statusQuery);
    expect(status.events.some((e) => e.type === 'warning' && /sandbox off \(opted out/.test(e.message))).toBe(true);
    expect(readFileSync(result.reportPath!, 'utf8')).toContain("- **Sandbox:** **OFF** (opted out with MISSION_SANDBOX=off): commands ran with the worker user's full access");
  });
});
