import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MissionPaths } from '../src/activities/paths';
import { executeTool, type ToolContext } from '../src/activities/tools';
import { createValidationActivities } from '../src/activities/validate';
import { processRunning, uniqueSleep } from './support/processes';
import { branches, git, makeRepo, tempDir, writeFiles } from './support/repo';

/**
 * Each property of the sandbox, shown through the product's own entry points (the run_command tool and the
 * validation step runner) on the layout Mission uses: the user's checkout, a worktree of it under MISSION_HOME,
 * a worker HOME holding a key. The machine is checked afterwards from outside the sandbox.
 */

const CANARY = `worker-canary-${process.pid}`;
process.env.MISSION_WORKER_CANARY = CANARY; // in this (worker) process's environ

interface Layout {
  repo: string;
  home: string;
  worktree: string;
  workerHome: string;
  ctx: ToolContext;
}

function layout(files: Record<string, string> = {}): Layout {
  const repo = makeRepo({ 'README.md': 'USER-CHECKOUT-CONTENT\n', ...files });
  const home = tempDir('mission-home-');
  const worktree = new MissionPaths(home).missionWorktree('k');
  mkdirSync(path.dirname(worktree), { recursive: true });
  git(repo, 'worktree', 'add', '-q', '-b', 'mission/k', worktree);
  writeFiles(home, { 'reports/other.md': 'OTHER-MISSION-REPORT\n' });
  const workerHome = tempDir('worker-home-');
  writeFiles(workerHome, { '.ssh/id_rsa': 'PRIVATE-KEY-CANARY\n', '.bashrc': '# bashrc\n' });
  const env = { PATH: process.env.PATH, HOME: workerHome, OPENAI_API_KEY: 'sk-canary-key', DATABASE_URL: 'postgres://db-canary' };
  return { repo, home, worktree, workerHome, ctx: { root: worktree, env } };
}

const runCommand = (ctx: ToolContext, command: string) => executeTool(ctx, 'run_command', JSON.stringify({ command }));

/** A loopback HTTP server on the host that counts the requests reaching it. */
async function listener(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits += 1;
    res.end('reached\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

const fetchWith = (port: number) => `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`;

describe('an agent command (run_command)', () => {
  it('writes in its working tree and nowhere else: not the user checkout, its .git hooks, HOME, MISSION_HOME or the disk', async () => {
    const { repo, home, workerHome, worktree, ctx } = layout();
    const stray = `/var/tmp/mission-planted-${process.pid}`;
    const result = await runCommand(
      ctx,
      [
        'echo ok > inside.txt',
        `echo x > ${repo}/planted.txt`,
        `echo 'touch /tmp/pwned' > ${repo}/.git/hooks/post-commit`,
        `echo x >> ${workerHome}/.bashrc`,
        `echo x > ${home}/reports/planted.md`,
        `echo x > ${stray}`,
        'true',
      ].join('; '),
    );
    expect(readFileSync(path.join(worktree, 'inside.txt'), 'utf8')).toBe('ok\n');
    expect(existsSync(path.join(repo, 'planted.txt'))).toBe(false);
    expect(existsSync(path.join(repo, '.git/hooks/post-commit'))).toBe(false);
    expect(readFileSync(path.join(workerHome, '.bashrc'), 'utf8')).toBe('# bashrc\n');
    expect(existsSync(path.join(home, 'reports/planted.md'))).toBe(false);
    expect(existsSync(stray)).toBe(false);
    expect(result.refused).toMatch(/^run_command: write outside the working tree/);
  });

  it('runs git on the shared .git read-only: log works, new branches, ref updates and config do not', async () => {
    const { repo, ctx } = layout();
    const before = git(repo, 'rev-parse', 'main');
    const result = await runCommand(ctx, 'git log --format=%s -1; git branch planted; git update-ref refs/heads/main HEAD~0 0000000000000000000000000000000000000000; git config core.fsmonitor "touch /tmp/x"; true');
    expect(result.output).toContain('initial');
    expect(branches(repo)).not.toContain('planted');
    expect(git(repo, 'rev-parse', 'main')).toBe(before);
    expect(readFileSync(path.join(repo, '.git/config'), 'utf8')).not.toContain('fsmonitor');
  });

  it('cannot read the worker HOME, the user checkout, other missions or any process\'s environment', async () => {
    const { repo, home, workerHome, ctx } = layout();
    const result = await runCommand(
      ctx,
      [
        `cat ${workerHome}/.ssh/id_rsa`,
        `cat ${repo}/README.md`,
        `cat ${home}/reports/other.md`,
        `cat /proc/${process.pid}/environ`,
        'cat /proc/*/environ',
        'env',
        `kill -0 ${process.pid} && echo CAN-SIGNAL-WORKER`,
        'true',
      ].join('; '),
    );
    for (const secret of ['PRIVATE-KEY-CANARY', 'USER-CHECKOUT-CONTENT', 'OTHER-MISSION-REPORT', CANARY, 'sk-canary-key', 'db-canary', 'CAN-SIGNAL-WORKER']) {
      expect(result.output).not.toContain(secret);
    }
  });

  it('has a private, empty HOME and /tmp that vanish with the command', async () => {
    const { ctx } = layout();
    const hostFile = path.join('/tmp', `host-canary-${process.pid}`);
    writeFileSync(hostFile, 'HOST-TMP-CANARY');
    const mine = `/tmp/sandbox-file-${process.pid}`;
    const result = await runCommand(ctx, `echo "home=$HOME files=$(ls -A "$HOME" | wc -l)"; cat ${hostFile}; echo t > ${mine}; echo h > "$HOME/mine"; true`);
    expect(result.output).toContain('home=/tmp/home files=0');
    expect(result.output).not.toContain('HOST-TMP-CANARY');
    expect(existsSync(mine)).toBe(false);
  });

  it('has no network unless the mission allows it', async () => {
    const server = await listener();
    try {
      const { ctx } = layout();
      const refused = await runCommand(ctx, fetchWith(server.port));
      expect(server.hits()).toBe(0);
      expect(refused.refused).toMatch(/^run_command: network access/);
      const allowed = await runCommand({ ...ctx, network: true } as ToolContext, fetchWith(server.port));
      expect(server.hits()).toBe(1);
      expect(allowed.output).toContain('reached');
    } finally {
      await server.close();
    }
  });

  it('leaves nothing running when it returns, not even a setsid daemon', async () => {
    const { ctx } = layout();
    const sleep = uniqueSleep();
    const result = await runCommand(ctx, `setsid nohup ${sleep} > /dev/null 2>&1 & disown; echo started`);
    expect(result.output).toContain('started');
    await new Promise((r) => setTimeout(r, 300));
    expect(processRunning(sleep)).toBe(false);
  });

  it('runs under limits on processes, memory and file size', async () => {
    const { ctx } = layout();
    const result = await runCommand(ctx, 'echo "u=$(ulimit -u) d=$(ulimit -d) f=$(ulimit -f)"');
    expect(result.output).not.toContain('unlimited');
    expect(result.output).toMatch(/u=\d+ d=\d+ f=\d+/);
  });
});

describe('a validation step', () => {
  it('reaches the network when it installs dependencies, and not otherwise', async () => {
    const server = await listener();
    try {
      const { home, worktree } = layout();
      const acts = createValidationActivities({ paths: new MissionPaths(home), env: { PATH: process.env.PATH } });
      const step = { name: 'fetch', run: fetchWith(server.port), timeoutSec: 30 };
      const install = await acts.runValidationCommand({ missionKey: 'k', worktree, step, install: true } as Parameters<typeof acts.runValidationCommand>[0]);
      expect(install.outputTail).toContain('reached');
      expect(server.hits()).toBe(1);
      const check = await acts.runValidationCommand({ missionKey: 'k', worktree, step });
      expect(check.exitCode).not.toBe(0);
      expect(server.hits()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('cannot read or write MISSION_HOME beyond its working tree', async () => {
    const { home, worktree } = layout();
    const acts = createValidationActivities({ paths: new MissionPaths(home), env: { PATH: process.env.PATH } });
    const step = { name: 'peek', run: `cat ${home}/reports/other.md; echo x > ${home}/reports/planted.md; echo fine > built.txt`, timeoutSec: 30 };
    const result = await acts.runValidationCommand({ missionKey: 'k', worktree, step });
    expect(result.outputTail).not.toContain('OTHER-MISSION-REPORT');
    expect(existsSync(path.join(home, 'reports/planted.md'))).toBe(false);
    expect(readFileSync(path.join(worktree, 'built.txt'), 'utf8')).toBe('fine\n');
  });
});
