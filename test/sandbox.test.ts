import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { allowedEnv, bwrapArgs, DEFAULT_LIMITS, detectBackend, detectRefusal, gitLayout, Sandbox, seatbeltProfile, type SandboxPolicy } from '../src/activities/sandbox';
import { git, makeRepo, tempDir } from './support/repo';

const policy = (over: Partial<SandboxPolicy> = {}): SandboxPolicy => ({
  cwd: '/work/tree',
  writable: ['/work/tree'],
  readOnly: ['/work/repo/.git'],
  hidden: ['/root', '/work/repo', '/work/mission-home'],
  network: false,
  env: { PATH: '/usr/bin' },
  limits: DEFAULT_LIMITS,
  ...over,
});

/** The value after each occurrence of `flag` (the paths of --bind, --tmpfs, …). */
const after = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe('the environment allowlist', () => {
  const source = { PATH: '/bin', LANG: 'C.UTF-8', LC_ALL: 'C', TERM: 'xterm', TZ: 'UTC', HOME: '/root', DATABASE_URL: 'postgres://x', MYSQL_PWD: 'p', SLACK_WEBHOOK_URL: 'h', GH_PAT: 'g', STRIPE_SK: 's', NODE_OPTIONS: '--max-old-space-size=100', HTTPS_PROXY: 'http://proxy:3128' };

  it('passes PATH, LANG, LC_*, TERM and TZ with a private HOME and TMPDIR, and nothing else', () => {
    expect(allowedEnv(source, { home: '/tmp/home', tmp: '/tmp' })).toEqual({ PATH: '/bin', LANG: 'C.UTF-8', LC_ALL: 'C', TERM: 'xterm', TZ: 'UTC', HOME: '/tmp/home', TMPDIR: '/tmp' });
  });

  it('adds CI for validation, the proxy only with network, and the names the repository lists', () => {
    const env = allowedEnv(source, { home: '/h', tmp: '/t', ci: true, network: true, extra: ['NODE_OPTIONS', 'not a name'] });
    expect(env).toMatchObject({ CI: 'true', HTTPS_PROXY: 'http://proxy:3128', NODE_OPTIONS: '--max-old-space-size=100' });
    expect(Object.keys(env)).not.toEqual(expect.arrayContaining(['DATABASE_URL']));
  });
});

describe('the bubblewrap backend', () => {
  it('shows the system read-only, hides, then binds the working tree writable and the shared .git read-only', () => {
    const args = bwrapArgs(policy(), '/etc/resolv.conf');
    expect(args.slice(0, 3)).toEqual(['--die-with-parent', '--new-session', '--unshare-all']);
    expect(args).not.toContain('--share-net');
    expect(after(args, '--ro-bind')).toEqual(['/', '/work/repo/.git']);
    expect(after(args, '--bind')).toEqual(['/work/tree']);
    expect(after(args, '--tmpfs')).toEqual(['/tmp', '/dev/shm', '/run', '/root', '/work/repo', '/work/mission-home']);
    // Order matters: a later mount covers an earlier one.
    expect(args.indexOf('/work/repo')).toBeLessThan(args.indexOf('/work/repo/.git'));
    expect(args.indexOf('/work/tree')).toBeLessThan(args.indexOf('/work/repo/.git'));
    expect(after(args, '--remount-ro')).toEqual(['/root', '/work/repo', '/work/mission-home']);
    expect(args.indexOf('--remount-ro')).toBeGreaterThan(args.indexOf('/work/repo/.git'));
    expect(args.slice(-4)).toEqual(['--dir', '/tmp/home', '--chdir', '/work/tree']);
  });

  it('shares the network only when the policy has it, with a resolv.conf that lives under /run', () => {
    const args = bwrapArgs(policy({ network: true }), '/run/systemd/resolve/stub-resolv.conf');
    expect(args).toContain('--share-net');
    expect(after(args, '--ro-bind')).toContain('/run/systemd/resolve/stub-resolv.conf');
  });

  it('covers a hidden path again when it lies inside a bound one', () => {
    const args = bwrapArgs(policy({ hidden: ['/work/tree/secret'] }));
    expect(args.lastIndexOf('/work/tree/secret')).toBeGreaterThan(args.indexOf('/work/tree'));
  });
});

describe('the macOS sandbox-exec backend (profile text only: not run on Linux)', () => {
  const profile = seatbeltProfile(policy({ hidden: ['/Users/me', '/work/mission-home'], writable: ['/work/mission-home/worktrees/k'], readOnly: ['/Users/me/repo/.git'] }), '/private/tmp/s');

  it('denies by default and allows writes only in the working tree, the scratch folder and /dev/null', () => {
    expect(profile.startsWith('(version 1)\n(deny default)\n')).toBe(true);
    expect(profile).toContain('(allow file-write* (subpath "/work/mission-home/worktrees/k") (subpath "/private/tmp/s") (literal "/dev/null")');
    expect(profile.match(/allow file-write\*/g)).toHaveLength(1);
  });

  it('reads everything outside the hidden paths, plus the roots inside them; no deny rules to order', () => {
    expect(profile).toContain('(allow file-read* (require-all (require-not (subpath "/Users/me")) (require-not (subpath "/work/mission-home"))))');
    expect(profile).toContain('(allow file-read* (subpath "/Users/me/repo/.git") (subpath "/work/mission-home/worktrees/k") (subpath "/private/tmp/s"))');
    expect(profile).not.toMatch(/\(deny (?!default)/);
  });

  it('has network rules only when the policy has network, and quotes paths', () => {
    expect(profile).not.toContain('network');
    expect(seatbeltProfile(policy({ network: true }), '/s')).toContain('(allow network-outbound)');
    expect(seatbeltProfile(policy({ writable: ['/a "b"\\c'] }), '/s')).toContain('(subpath "/a \\"b\\"\\\\c")');
  });
});

describe('the policy for a working tree', () => {
  it('makes the worktree writable, its shared .git read-only, and hides the checkout, MISSION_HOME and HOME', () => {
    const repo = makeRepo();
    const home = tempDir('mission-home-');
    const worktree = path.join(home, 'worktrees', 'k');
    git(repo, 'worktree', 'add', '-q', '-b', 'mission/k', worktree);
    const workerHome = tempDir('worker-home-');
    const p = new Sandbox({ missionHome: home, env: { PATH: '/bin', HOME: workerHome } }).policy({ workdir: worktree, network: false });
    expect(gitLayout(worktree)).toEqual({ gitDir: path.join(repo, '.git/worktrees/k'), commonDir: path.join(repo, '.git'), checkout: repo });
    expect(p.writable).toEqual([worktree]);
    expect(p.readOnly).toEqual([path.join(repo, '.git'), path.join(repo, '.git/worktrees/k')]);
    expect(p.hidden).toEqual(expect.arrayContaining([workerHome, home, repo]));
    expect(p.env).toEqual({ PATH: '/bin', HOME: '/tmp/home', TMPDIR: '/tmp' });
  });

  it('keeps a repository\'s own .git read-only when the agent works in the checkout itself', () => {
    const repo = makeRepo();
    const p = new Sandbox({ env: {} }).policy({ workdir: repo, network: false });
    expect(p.writable).toEqual([repo]);
    expect(p.readOnly).toEqual([path.join(repo, '.git')]);
    expect(p.hidden).not.toContain(repo);
  });
});

describe('finding a backend', () => {
  it('says why when bwrap is missing, and prepare says how to install one or opt out', () => {
    expect(detectBackend('bwrap', '/nonexistent/bwrap')).toEqual({ kind: 'unavailable', reason: '/nonexistent/bwrap not found' });
    let thrown: unknown;
    try {
      new Sandbox({ mode: 'bwrap', bwrapPath: '/nonexistent/bwrap' }).require({ network: false, env: [] });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    expect(thrown).toMatchObject({ type: 'SANDBOX_UNAVAILABLE', nonRetryable: true, message: expect.stringMatching(/apt-get install bubblewrap.*MISSION_SANDBOX=off/) });
  });

  it('finds bubblewrap here, and the opt-out says what it means', () => {
    expect(detectBackend('auto').kind).toBe('bwrap');
    expect(new Sandbox({ mode: 'off' }).require({ network: true, env: [] })).toMatchObject({ backend: 'off', network: true, note: expect.stringMatching(/full access/) });
  });

  it('refuses a mission that asks for more network than the worker allows', () => {
    expect(() => new Sandbox({ allowNetwork: false }).require({ network: true, env: [] })).toThrow(/MISSION_SANDBOX_NETWORK=deny/);
  });
});

describe('limits', () => {
  const limits = { processes: 64, memoryBytes: 1024 ** 3, diskBytes: 1024 ** 3, dataBytes: 256 * 1024 ** 2, fileBytes: 1024 ** 2 };
  const run = (command: string) => new Sandbox({ env: { PATH: process.env.PATH }, limits }).run({ command, workdir: makeRepo(), network: false, timeoutSec: 60 });

  it('stops a file at the file size limit', async () => {
    const result = await run('head -c 3000000 /dev/zero > big; echo "exit=$?"; stat -c %s big');
    expect(result.output).toMatch(/exit=153\n1048576\n$/); // 128 + SIGXFSZ
  });

  it('stops a process that allocates beyond the memory limit (RLIMIT_DATA; node still starts under it)', async () => {
    const result = await run('node -e "const a = []; for (let i = 0; i < 32; i++) a.push(Buffer.alloc(16 * 1024 * 1024, 1)); console.log([\'big\', \'done\'].join(\'-\'))"; echo "exit=$?"; node -e "console.log(\'small ok\')"');
    expect(result.output).not.toContain('big-done');
    expect(result.output).toMatch(/exit=(?!0)\d+/);
    expect(result.output).toContain('small ok');
  });

  it('sets RLIMIT_NPROC too (for a non-root worker; the total for root is in sandbox-limits.test.ts)', async () => {
    const result = await run('ulimit -u; ulimit -H -u');
    expect(result.output).toBe('64\n64\n');
  });

  it('keeps the working tree where the command may write, and removes nothing there', async () => {
    const repo = makeRepo();
    const result = await new Sandbox({ env: { PATH: process.env.PATH } }).run({ command: 'mkdir -p out && echo built > out/x && cat out/x', workdir: repo, network: false, timeoutSec: 60 });
    expect(result.output).toBe('built\n');
    expect(existsSync(path.join(repo, 'out/x')) && statSync(path.join(repo, 'out/x')).size).toBe(6);
  });
});

describe('refusals', () => {
  it('counts writes outside the tree and, with network off, network errors; not ordinary failures', () => {
    expect(detectRefusal("touch: cannot touch '/x': Read-only file system", false)).toBe("write outside the working tree: touch: cannot touch '/x': Read-only file system");
    expect(detectRefusal('curl: (6) Could not resolve host: example.com', false)).toMatch(/^network access/);
    expect(detectRefusal('curl: (6) Could not resolve host: example.com', true)).toBeUndefined();
    expect(detectRefusal('bash: ./x.sh: Permission denied', false)).toBeUndefined();
    expect(detectRefusal('1 test failed', false)).toBeUndefined();
  });
});
