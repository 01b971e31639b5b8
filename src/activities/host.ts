import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Host affinity (Temporal's "worker-specific task queues"): a mission's repository, worktrees and conversations live
 * on one host, so every worker also polls a task queue of its own host, `mission-host-<hostId>`. A mission asks once,
 * on the shared queue, which host it got (whichHost), and sends its file, git, agent and validation steps there.
 *
 * The host id is stable per MISSION_HOME (a generated id kept in <home>/host-id), so a restarted worker, or a second
 * worker process on the same MISSION_HOME, serves the same missions; MISSION_HOST_ID names it instead.
 */
import { hostQueue } from '../api/ids';

export { HOST_QUEUE_PREFIX, hostQueue } from '../api/ids';

const VALID_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export async function resolveHostId(home: string, configured?: string): Promise<string> {
  if (configured) {
    if (!VALID_ID.test(configured)) throw new Error(`MISSION_HOST_ID "${configured}" must be 1-63 letters, digits, ".", "_" or "-"`);
    return configured;
  }
  const file = path.join(home, 'host-id');
  const existing = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (VALID_ID.test(existing)) return existing;
  await fs.mkdir(home, { recursive: true });
  const id = randomUUID().slice(0, 13);
  // Written aside, then linked into place (atomic, fails if there): two worker processes starting at once on one
  // MISSION_HOME agree on the first id, and neither reads a half-written file.
  const tmp = `${file}.${process.pid}.${id}`;
  await fs.writeFile(tmp, `${id}\n`);
  await fs.link(tmp, file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  await fs.rm(tmp, { force: true });
  return (await fs.readFile(file, 'utf8')).trim();
}

export interface HostAnswer {
  hostId: string;
  taskQueue: string;
  /** How long a step waits for a worker of this host before the mission says it waits for the host. */
  pickupSec?: number;
}

export function createHostActivities(deps: { hostId?: string; pickupSec?: number }) {
  /** Which host took the mission: the worker that picked this task up from the shared queue. */
  async function whichHost(): Promise<HostAnswer> {
    if (!deps.hostId) throw new Error('this worker has no host id (createMissionWorker sets it); the step is retried on another worker');
    return { hostId: deps.hostId, taskQueue: hostQueue(deps.hostId), ...(deps.pickupSec ? { pickupSec: deps.pickupSec } : {}) };
  }
  return { whichHost };
}
