import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * A cgroup per command, when the worker may make one: the kernel then holds the process and memory totals
 * itself (a fork fails at pids.max, the OOM killer acts at the memory limit), whoever the worker runs as.
 * RLIMIT_NPROC cannot do that for root: Linux exempts uid 0 outside the user namespace (bwrap's --uid maps
 * back to it), so a root worker needs a cgroup or the watchdog (./guard.ts).
 *
 * Where: cgroup v2 under the worker's own cgroup when its cgroup.subtree_control already delegates `pids` /
 * `memory` (a systemd unit with Delegate=yes); else cgroup v1 under the worker's own cgroup of the `pids` /
 * `memory` hierarchy, when writable (root on a v1 or hybrid host). A container with a read-only /sys/fs/cgroup
 * (Docker's default) has neither: the watchdog alone counts there.
 */

export interface CgroupParent {
  /** The folder new cgroups are made in. */
  dir: string;
  version: 1 | 2;
}

export interface CgroupParents {
  pids?: CgroupParent;
  memory?: CgroupParent;
}

/** The parents this process could use, from /proc/self/cgroup's text and the cgroup mount root (pure apart from reading the layout). */
export function cgroupParents(selfCgroup: string, root = '/sys/fs/cgroup'): CgroupParents {
  const found: CgroupParents = {};
  const lines = selfCgroup.split('\n').map((l) => l.match(/^(\d+):([^:]*):(.*)$/)).filter((m): m is RegExpMatchArray => !!m);
  const unified = lines.find((m) => m[1] === '0' && m[2] === '');
  if (unified) {
    const base = existsSync(path.join(root, 'cgroup.controllers')) ? root : path.join(root, 'unified');
    const dir = under(base, unified[3]!);
    const delegated = readText(path.join(dir, 'cgroup.subtree_control'))?.split(/\s+/) ?? [];
    for (const c of ['pids', 'memory'] as const) if (delegated.includes(c) && writable(dir)) found[c] = { dir, version: 2 };
  }
  for (const c of ['pids', 'memory'] as const) {
    const line = lines.find((m) => m[2]!.split(',').includes(c));
    const dir = line && under(path.join(root, c), line[3]!);
    if (!found[c] && dir && existsSync(path.join(dir, 'cgroup.procs')) && writable(dir)) found[c] = { dir, version: 1 };
  }
  return found;
}

/** `root` joined with a cgroup path (`/` is the root itself). */
const under = (root: string, cgroupPath: string) => path.join(root, cgroupPath).replace(/(.)\/$/, '$1');

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

let probed: CgroupParents | undefined;

/** The parents that really take a new child with limits here: tried once per worker process. */
export function usableParents(): CgroupParents {
  if (probed) return probed;
  const candidates = cgroupParents(readText('/proc/self/cgroup') ?? '');
  probed = {};
  for (const c of ['pids', 'memory'] as const) {
    const parent = candidates[c];
    if (!parent) continue;
    const dir = path.join(parent.dir, `mission-probe-${process.pid}`);
    try {
      mkdirSync(dir);
      rmdirSync(dir);
      probed[c] = parent;
    } catch {
      // not ours to make children in after all
    }
  }
  removeOrphanCgroups(probed);
  return probed;
}

/** A command cgroup's or a probe's name, with the pid of the worker that made it. */
const MISSION_CGROUP = /^mission-(?:probe-(\d+)|(\d+)-\d+)$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process: alive
  }
}

/**
 * Removes the cgroups a killed worker could not remove (its `remove()` never ran): Mission's names whose worker pid
 * is gone. Only empty cgroups go (rmdir refuses one that still holds processes); a live worker's are never touched.
 * Returns the folders removed.
 */
export function removeOrphanCgroups(parents: CgroupParents): string[] {
  const removed: string[] = [];
  for (const dir of new Set([parents.pids?.dir, parents.memory?.dir].filter((d): d is string => !!d))) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const match = name.match(MISSION_CGROUP);
      const pid = match && Number(match[1] ?? match[2]);
      if (!pid || pid === process.pid || alive(pid)) continue;
      try {
        rmdirSync(path.join(dir, name));
        removed.push(path.join(dir, name));
      } catch {
        // still holds a dying process, or not ours after all: left for the next worker start
      }
    }
  }
  return removed;
}

let serial = 0;

type Made = { [C in 'pids' | 'memory']?: CgroupParent & { child: string } };

/** One command's cgroups (one per controller on v1, possibly one folder on v2). */
export class CommandCgroup {
  private constructor(private readonly dirs: Made) {}

  /** Makes the command's cgroups with their limits; undefined when the worker can make none. */
  static async create(limits: { processes: number; memoryBytes: number }, parents = usableParents()): Promise<CommandCgroup | undefined> {
    const name = `mission-${process.pid}-${++serial}`;
    const made: Made = {};
    for (const c of ['pids', 'memory'] as const) {
      const parent = parents[c];
      if (!parent) continue;
      const child = path.join(parent.dir, name);
      try {
        await fs.mkdir(child);
        made[c] = { ...parent, child };
        if (c === 'pids') await fs.writeFile(path.join(child, 'pids.max'), `${limits.processes}\n`);
        else if (parent.version === 2) {
          await fs.writeFile(path.join(child, 'memory.max'), `${limits.memoryBytes}\n`);
          await fs.writeFile(path.join(child, 'memory.swap.max'), '0\n').catch(() => undefined);
        } else {
          await fs.writeFile(path.join(child, 'memory.limit_in_bytes'), `${limits.memoryBytes}\n`);
          await fs.writeFile(path.join(child, 'memory.memsw.limit_in_bytes'), `${limits.memoryBytes}\n`).catch(() => undefined); // no swap accounting: fine
        }
      } catch {
        delete made[c]; // a controller that will not take limits is left to the watchdog
        await fs.rmdir(child).catch(() => undefined);
      }
    }
    return made.pids || made.memory ? new CommandCgroup(made) : undefined;
  }

  /** Whether the kernel holds each total. */
  get holds(): { processes: boolean; memory: boolean } {
    return { processes: !!this.dirs.pids, memory: !!this.dirs.memory };
  }

  /**
   * The argv prefix that moves the command into its cgroups before it starts anything: a shell that writes its
   * own pid to each cgroup.procs, then execs the command (same pid), so even its first fork is counted.
   */
  joinArgv(): string[] {
    const files = [this.dirs.pids, this.dirs.memory].filter((d) => !!d).map((d) => path.join(d!.child, 'cgroup.procs'));
    return ['/bin/sh', '-c', 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"', 'mission-cgroup', `${files.length}`, ...files];
  }

  /** What the kernel stopped so far: forks refused at pids.max, processes OOM-killed at the memory limit. */
  async events(): Promise<{ forksRefused: number; oomKills: number }> {
    const count = async (file: string | undefined, key: string) => {
      const text = file ? await fs.readFile(file, 'utf8').catch(() => '') : '';
      return Number(text.match(new RegExp(`^${key} (\\d+)$`, 'm'))?.[1] ?? 0);
    };
    const mem = this.dirs.memory;
    return {
      forksRefused: await count(this.dirs.pids && path.join(this.dirs.pids.child, 'pids.events'), 'max'),
      oomKills: await count(mem && path.join(mem.child, mem.version === 2 ? 'memory.events' : 'memory.oom_control'), 'oom_kill'),
    };
  }

  /** Removes the cgroups once their processes are gone (dying processes of a killed namespace hold them a while): tries for about a minute. */
  async remove(): Promise<void> {
    for (const d of [this.dirs.pids, this.dirs.memory]) {
      if (!d) continue;
      for (let attempt = 0; attempt < 30; attempt++) {
        try {
          await fs.rmdir(d.child);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          await new Promise((r) => setTimeout(r, Math.min(5000, 20 * 2 ** attempt)).unref());
        }
      }
    }
  }
}
