import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { cgroupParents, removeOrphanCgroups, usableParents } from '../src/activities/sandbox/cgroup';
import { Sandbox, type SandboxLimits } from '../src/activities/sandbox';
import { executeTool } from '../src/activities/tools';
import { processRunning, uniqueSleep } from './support/processes';
import { makeRepo, tempDir, writeFiles } from './support/repo';

/**
 * The totals of one sandboxed command (issue 12: processes, memory and disk for everything a command starts,
 * not per process), on a worker that runs as root here: Linux does not apply RLIMIT_NPROC to root, so only a
 * cgroup or the resource guard stops a fork bomb. Each case runs twice: with a cgroup per command (the kernel
 * holds processes and memory) where this worker may make one, and with the guard alone (Docker's read-only
 * /sys/fs/cgroup). Every case is bounded so that a version without the limits does not hurt the machine.
 */

const MiB = 1024 ** 2;

function fsyncPath(file: string): void {
  const fd = openSync(file, 'r');
  fsyncSync(fd);
  closeSync(fd);
}
const limits: SandboxLimits = { processes: 64, memoryBytes: 300 * MiB, diskBytes: 40 * MiB, dataBytes: 256 * MiB, fileBytes: 16 * MiB };

describe.each([
  ['with a cgroup per command where the worker may make one', true],
  ['with the resource guard alone (no cgroup)', false],
])('totals of one command, %s', (_name, cgroups) => {
  const sandbox = new Sandbox({ env: { PATH: process.env.PATH }, limits, cgroups });
  const run = (command: string, workdir = makeRepo(), timeoutSec = 40) => sandbox.run({ command, workdir, network: false, timeoutSec });

  it('stops a fork bomb at the process limit, and the next command runs normally', async () => {
    const sleep = uniqueSleep();
    // 400 sleeps at once, six times the limit; unstopped, the command waits for them for 30 s.
    const result = await run(`for i in $(seq 400); do ${sleep.replace('300', '30')} & done 2>/dev/null; wait; echo ALL-STARTED`);
    expect(result.output).not.toContain('ALL-STARTED');
    // Which layer stopped it: the kernel (a fork refused at pids.max) or the guard (it counted them).
    expect(result.refused).toMatch(cgroups && usableParents().pids ? /^process limit: a new process was refused at the limit of 64 / : /^process limit: the command had \d+ processes and threads at once, over its limit of 64$/);
    expect(result.output).toMatch(/\[sandbox\] stopped: process limit/);
    expect(result.timedOut).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(processRunning(sleep.replace('300', '30'))).toBe(false);
    const next = await run('echo healthy');
    expect(next.output).toBe('healthy\n');
    expect(next.refused).toBeUndefined();
  });

  it('stops processes that together exceed the memory limit, each under the per-process one', async () => {
    // Ten processes of ~50 MiB each (under RLIMIT_DATA of 256 MiB): 500 MiB together against a 300 MiB total.
    const hog = `python3 -c "import time; b = b'x' * (40 * 2 ** 20); time.sleep(20)"`;
    const result = await run(`for i in $(seq 10); do ${hog} & done; wait; echo ALL-DONE`);
    expect(result.output).not.toContain('ALL-DONE');
    expect(result.refused).toMatch(cgroups && usableParents().memory ? /^memory limit: the kernel stopped a process at the limit of 300 MiB / : /^memory limit: the command's processes used \d+ MiB together, over its limit of 300 MiB$/);
    expect(result.timedOut).toBe(false);
  });

  it('stops a command whose files together exceed the disk limit, each under the file-size one', async () => {
    const repo = makeRepo();
    // Eight files of 8 MB (under RLIMIT_FSIZE of 16 MiB): 64 MB against a 40 MiB total.
    const result = await run('for i in $(seq 8); do head -c 8000000 /dev/zero > part$i.bin; sleep 0.4; done; echo ALL-WRITTEN', repo);
    expect(result.output).not.toContain('ALL-WRITTEN');
    expect(result.refused).toMatch(/^disk limit: .*40 MiB/);
    const written = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => path.join(repo, `part${i}.bin`)).filter((f) => existsSync(f));
    expect(written.reduce((sum, f) => sum + statSync(f).size, 0)).toBeLessThan(64 * 1000 * 1000);
  });

  it('counts the private /tmp toward the disk limit: it cannot hold more than the limit', async () => {
    const result = await run('for i in $(seq 8); do head -c 8000000 /dev/zero > /tmp/part$i.bin || echo REFUSED; done; du -sm /tmp; echo END');
    expect(result.output).not.toMatch(/^6[0-9]\s+\/tmp$/m);
    expect(result.refused).toMatch(/^disk limit/);
  });

  it('does not count what others write on the same disk meanwhile', async () => {
    const repo = makeRepo();
    const elsewhere = path.join(tempDir('other-writer-'), 'big.bin');
    const running = run('sleep 2; echo quiet', repo);
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(elsewhere, Buffer.alloc(64 * MiB, 1)); // the same filesystem as the tree: 64 MiB against a 40 MiB limit
    fsyncPath(elsewhere);
    const result = await running;
    rmSync(elsewhere);
    expect(result.output).toBe('quiet\n');
    expect(result.refused).toBeUndefined();
  });

  it('leaves ordinary commands alone: several processes, files and /tmp well under the totals', async () => {
    const result = await run('for i in 1 2 3; do head -c 2000000 /dev/zero > f$i; sleep 0.2 & done; wait; head -c 1000000 /dev/zero > /tmp/x; echo fine');
    expect(result.output).toBe('fine\n');
    expect(result.refused).toBeUndefined();
  });
});

describe('the limit in the run_command result the model is sent', () => {
  it('names the limit that stopped the command', async () => {
    const repo = makeRepo();
    const sandbox = new Sandbox({ env: { PATH: process.env.PATH }, limits });
    const outcome = await executeTool({ root: repo, env: { PATH: process.env.PATH }, sandbox }, 'run_command', JSON.stringify({ command: 'for i in $(seq 8); do head -c 8000000 /dev/zero > p$i; sleep 0.4; done' }));
    expect(outcome.output).toMatch(/\[sandbox\] stopped: disk limit: .* 40 MiB/);
    expect(outcome.refused).toMatch(/^run_command: disk limit/);
  });
});

describe('where a command cgroup can be made', () => {
  it('uses a delegated cgroup v2 (pids and memory in subtree_control), else writable v1 hierarchies, else none', () => {
    const root = tempDir('cgroups-');
    writeFiles(root, {
      'cgroup.controllers': 'cpu memory pids\n',
      'user.slice/worker.service/cgroup.subtree_control': 'memory pids\n',
      'user.slice/worker.service/cgroup.procs': '',
    });
    expect(cgroupParents('0::/user.slice/worker.service\n', root)).toEqual({
      pids: { dir: path.join(root, 'user.slice/worker.service'), version: 2 },
      memory: { dir: path.join(root, 'user.slice/worker.service'), version: 2 },
    });
    const hybrid = tempDir('cgroups-');
    writeFiles(hybrid, { 'unified/cgroup.subtree_control': '', 'pids/cgroup.procs': '', 'memory/job/cgroup.procs': '' });
    expect(cgroupParents('8:pids:/\n4:memory:/job\n0::/\n', hybrid)).toEqual({
      pids: { dir: path.join(hybrid, 'pids'), version: 1 },
      memory: { dir: path.join(hybrid, 'memory/job'), version: 1 },
    });
    // Docker's private v2 namespace: the root cgroup holds the processes and delegates nothing.
    const docker = tempDir('cgroups-');
    writeFiles(docker, { 'cgroup.controllers': 'memory pids\n', 'cgroup.subtree_control': '' });
    expect(cgroupParents('0::/\n', docker)).toEqual({});
  });
});

describe('cgroups a killed worker left behind', () => {
  /** The pid of a process that has exited (and been reaped): no process has it now. */
  function deadPid(): number {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    return Number(child.stdout);
  }

  it('removes the command cgroups of workers that are gone, keeps those of live workers and anything not Mission\'s', () => {
    const parent = tempDir('cgroups-');
    const dead = deadPid();
    const names = [`mission-${dead}-1`, `mission-${dead}-17`, `mission-probe-${dead}`, `mission-${process.pid}-3`, `mission-${dead}-x`, 'system.slice'];
    for (const name of names) mkdirSync(path.join(parent, name));
    const removed = removeOrphanCgroups({ pids: { dir: parent, version: 1 }, memory: { dir: parent, version: 1 } });
    expect(removed.map((d) => path.basename(d)).sort()).toEqual([`mission-${dead}-1`, `mission-${dead}-17`, `mission-probe-${dead}`].sort());
    expect(readdirSync(parent).sort()).toEqual([`mission-${process.pid}-3`, `mission-${dead}-x`, 'system.slice'].sort());
  });

  it('removes a real cgroup of a dead worker from the hierarchy this worker uses (where it may make one)', () => {
    const parents = usableParents();
    const where = [parents.pids, parents.memory].filter((p) => !!p);
    const left = where.map((p) => path.join(p!.dir, `mission-${deadPid()}-1`));
    for (const dir of left) mkdirSync(dir); // the kernel fills it with control files: a plain rmdir of a folder with files would fail
    expect(removeOrphanCgroups(parents).sort()).toEqual(left.sort());
    for (const dir of left) expect(existsSync(dir)).toBe(false);
  });
});
