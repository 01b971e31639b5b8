import { promises as fs, statfsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandCgroup } from './cgroup';
import type { SandboxLimits } from './policy';

/**
 * Holds one sandboxed command to its totals (processes, memory, disk) and says which one it crossed.
 * Every `intervalMs` it looks at the command's PID namespace through the namespace's own /proc, reached from
 * outside as /proc/<namespace init>/root/proc (bwrap's --info-fd names that init): it sees exactly the
 * command's processes, however they detached. When the command has a cgroup the kernel holds processes and
 * memory and the guard only reads what the kernel refused; without one it counts threads and sums resident
 * memory itself. Disk is always the guard's: the free space the working tree's filesystem lost since the
 * command started (confirmed by the sizes of the tree's recently written files, so other writers on that
 * disk do not count) plus what the private /tmp and /dev/shm hold. Over a limit, the whole namespace is killed.
 *
 * Between two looks a command can go past a limit the kernel does not hold (a fork bomb run by root without a
 * cgroup: about one interval's worth of forks); the per-process rlimits and the tmpfs sizes hold meanwhile.
 */
export class ResourceGuard {
  private init?: number;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private hit?: string;
  private readonly started = Date.now();
  private readonly freeAtStart: number | undefined;
  private nextWalk = 0;

  constructor(
    private readonly outerPid: number,
    info: Readable | undefined,
    private readonly opts: { limits: SandboxLimits; workdir: string; cgroup?: CommandCgroup; intervalMs?: number },
  ) {
    this.freeAtStart = freeBytes(opts.workdir);
    readInitPid(info).then((pid) => (this.init = pid), () => undefined);
    this.timer = setInterval(() => void this.tick(), opts.intervalMs ?? 100);
    this.timer.unref();
  }

  /** Stops watching; the limit the command crossed, if any (a last look catches a fork refused at the very end). */
  async stop(): Promise<string | undefined> {
    clearInterval(this.timer);
    if (!this.hit && this.opts.cgroup) this.hit = await this.kernelRefusal();
    return this.hit;
  }

  private async tick(): Promise<void> {
    if (this.busy || this.hit) return;
    this.busy = true;
    try {
      const hit = (await this.kernelRefusal()) ?? (await this.counted());
      if (hit) {
        this.hit = hit;
        this.kill();
      }
    } finally {
      this.busy = false;
    }
  }

  private kill(): void {
    for (const pid of [this.init, this.outerPid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL'); // the namespace's init: every process in it dies with it
      } catch {
        // already gone
      }
    }
  }

  private async kernelRefusal(): Promise<string | undefined> {
    const { cgroup, limits } = this.opts;
    if (!cgroup) return undefined;
    const events = await cgroup.events();
    if (events.forksRefused > 0) return `process limit: a new process was refused at the limit of ${limits.processes} processes and threads for the whole command`;
    if (events.oomKills > 0) return `memory limit: the kernel stopped a process at the limit of ${mib(limits.memoryBytes)} for all the command's processes together`;
    return undefined;
  }

  private async counted(): Promise<string | undefined> {
    if (!this.init) return undefined;
    const { limits, cgroup } = this.opts;
    const root = `/proc/${this.init}/root`;
    if (!cgroup?.holds.processes || !cgroup.holds.memory) {
      const { tasks, rssBytes } = await namespaceUsage(path.join(root, 'proc'));
      if (!cgroup?.holds.processes && tasks > limits.processes) return `process limit: the command had ${tasks} processes and threads at once, over its limit of ${limits.processes}`;
      if (!cgroup?.holds.memory && rssBytes > limits.memoryBytes) return `memory limit: the command's processes used ${mib(rssBytes)} together, over its limit of ${mib(limits.memoryBytes)}`;
    }
    const scratch = (await usedBytes(path.join(root, 'tmp'))) + (await usedBytes(path.join(root, 'dev/shm')));
    const lost = this.freeAtStart === undefined ? 0 : Math.max(0, this.freeAtStart - (freeBytes(this.opts.workdir) ?? this.freeAtStart));
    if (scratch + lost < limits.diskBytes) return undefined;
    // The walk costs time on a large tree: at most a fifth of the guard's time goes to it.
    if (lost > 0 && Date.now() < this.nextWalk) return undefined;
    const walkStart = Date.now();
    const written = lost > 0 ? await recentBytes(this.opts.workdir, this.started - 1000) : 0;
    this.nextWalk = Date.now() + Math.max(200, 4 * (Date.now() - walkStart));
    const total = scratch + written;
    return total >= limits.diskBytes ? `disk limit: the command wrote ${mib(total)} (working tree and its private /tmp), at or over its limit of ${mib(limits.diskBytes)}` : undefined;
  }
}

const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;

/** The namespace init's pid in the worker's PID namespace, from bwrap's --info-fd JSON. */
async function readInitPid(info: Readable | undefined): Promise<number | undefined> {
  if (!info) return undefined;
  let text = '';
  info.setEncoding('utf8');
  for await (const chunk of info) {
    text += chunk as string;
    const pid = text.match(/"child-pid"\s*:\s*(\d+)/)?.[1];
    if (pid && text.includes('}')) {
      info.destroy();
      return Number(pid);
    }
  }
  return undefined;
}

/** Threads and resident bytes of every process a /proc shows (Threads and VmRSS of /proc/<pid>/status). */
async function namespaceUsage(proc: string): Promise<{ tasks: number; rssBytes: number }> {
  const pids = (await fs.readdir(proc).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  let tasks = 0;
  let kib = 0;
  await Promise.all(
    pids.map(async (pid) => {
      const status = await fs.readFile(path.join(proc, pid, 'status'), 'utf8').catch(() => '');
      if (!status) return;
      tasks += Number(status.match(/^Threads:\s+(\d+)/m)?.[1] ?? 1);
      kib += Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
    }),
  );
  return { tasks, rssBytes: kib * 1024 };
}

function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bfree * s.bsize;
  } catch {
    return undefined;
  }
}

async function usedBytes(dir: string): Promise<number> {
  try {
    const s = await fs.statfs(dir);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return 0;
  }
}

/** Allocated bytes of the files under `dir` changed since `since` (what the command wrote there). */
async function recentBytes(dir: string, since: number): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await fs.lstat(p).catch(() => undefined);
        if (st && Math.max(st.mtimeMs, st.ctimeMs) >= since) total += st.blocks * 512;
      }
    }
  };
  await walk(dir);
  return total;
}
