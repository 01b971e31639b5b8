import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { buildHelper, bwrapArgv, landlockHelper, Sandbox } from '../src/activities/sandbox';
import { makeRepo, tempDir } from './support/repo';

/**
 * Landlock as the second layer inside bubblewrap (issue 12). Its helper is compiled here with the machine's
 * C compiler into the user's cache; this machine (Linux 6.18, gcc) has both, so the layer must be on.
 */

const helper = landlockHelper();
const env = { PATH: process.env.PATH };

describe('the Landlock layer', () => {
  it('is built and on here, and the status says so', () => {
    expect(helper).toMatchObject({ ok: true, abi: expect.any(Number) });
    expect(new Sandbox({ env }).require({ network: false, env: [] }).layers?.[0]).toMatch(/^Landlock ABI \d+: writes only in the working tree/);
  });

  it('refuses, by itself, a write that bubblewrap\'s mounts would allow', () => {
    if (!helper.ok) throw new Error(helper.reason);
    const repo = makeRepo();
    // Outside the tree and outside /tmp (paths bound below the private /tmp fall under its rule).
    const outside = mkdtempSync('/var/tmp/mission-landlock-');
    try {
      // A test-only policy: bubblewrap binds `outside` writable; Landlock is told only of the tree.
      const policy = new Sandbox({ env }).policy({ workdir: repo, network: false });
      const loose = { ...policy, writable: [...policy.writable, outside] };
      const write = `echo x > ${outside}/bwrap-allowed; echo in > inside.txt; echo "rc=$?"`;
      const run = (landlock?: { helper: string; writable: string[] }) => {
        const [file, ...args] = bwrapArgv('bwrap', loose, write, { landlock });
        return spawnSync(file!, args, { cwd: repo, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'], timeout: 30_000 });
      };
      const confined = run({ helper: helper.path, writable: [repo, '/tmp', '/dev'] });
      expect(confined.stderr).toContain(`${outside}/bwrap-allowed: Permission denied`);
      expect(existsSync(path.join(outside, 'bwrap-allowed'))).toBe(false);
      expect(confined.stdout).toBe('rc=0\n'); // the tree stays writable
      // The same without Landlock: the write lands, so the refusal above was Landlock's alone.
      const plain = run();
      expect(plain.status).toBe(0);
      expect(existsSync(path.join(outside, 'bwrap-allowed'))).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("keeps a command with network from the host's abstract unix sockets (they belong to the network namespace)", async () => {
    const name = `mission-landlock-test-${process.pid}`;
    let connections = 0;
    const server = net.createServer((socket) => {
      connections += 1;
      socket.end('host-abstract-socket\n');
    });
    await new Promise<void>((resolve) => server.listen({ path: `\0${name}` }, resolve));
    try {
      // A node client: node pads abstract names to the whole sun_path, as the listener above did.
      const connect = `node -e "const s = require('net').connect({ path: '\\0${name}' }); s.on('data', (d) => process.stdout.write(d)); s.on('error', (e) => console.log(e.code))"`;
      const run = (landlock: boolean) => new Sandbox({ env, landlock }).run({ command: connect, workdir: makeRepo(), network: true, timeoutSec: 30 });
      const confined = await run(true);
      expect(confined.output).toBe('EPERM\n');
      expect(connections).toBe(0);
      const plain = await run(false);
      expect(plain.output).toBe('host-abstract-socket\n');
      expect(connections).toBe(1);
    } finally {
      server.close();
    }
  });

  it('is skipped, and the status says why, without a C compiler or when turned off', () => {
    expect(buildHelper(tempDir('landlock-cache-'), '/nonexistent/cc')).toEqual({ ok: false, reason: expect.stringMatching(/no C compiler .*install gcc/) });
    expect(new Sandbox({ env, landlock: false }).require({ network: false, env: [] }).layers?.[0]).toBe('Landlock: not used (turned off for this worker)');
  });

  it('lets ordinary work run under it: a build in the tree, /tmp, /dev/null, git, node', async () => {
    const result = await new Sandbox({ env }).run({ command: 'mkdir -p out && echo ok > out/x && echo t > /tmp/t && cat out/x /tmp/t > /dev/null && git log --format=%s -1 && node -e "console.log(6*7)"', workdir: makeRepo(), network: false, timeoutSec: 60 });
    expect(result.output).toBe('initial\n42\n');
  });
});
