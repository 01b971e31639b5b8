import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, proxyActivities, proxyLocalActivities, TimeoutFailure, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';

// Our own failures carry nonRetryable themselves (src/api/errors.ts), so no nonRetryableErrorTypes
// list here: it would be repeated in every ActivityTaskScheduled event and grow history per turn.

/** git and file steps: retried a few times; they heartbeat, so a dead worker is noticed in 30 s. */
const STEPS = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
} as const;
export const steps = proxyActivities<Activities>(STEPS);

/** Model calls: transient failures (429, 5xx, timeouts) back off and retry; fatal ones fail at once. */
const MODEL_CALLS = {
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10 },
} as const;

/** Agent tool calls: run_command may take up to 30 minutes. */
const TOOL_CALLS = {
  startToCloseTimeout: '35 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
} as const;

// 20 s, not 30: a call killed before its first heartbeat times out 20 s after it started, and its retry starts 2 s
// later, inside the 30 s a dead worker must be noticed in (bench figure 4). The calls heartbeat every 5 s, which the
// SDK sends on at most every 16 s (0.8 × the timeout).
const CALL_HEARTBEAT_TIMEOUT = '20 seconds';

/**
 * Model calls and tool calls as activities that heartbeat: an agent turn's model call may take minutes (a
 * local model on a CPU, a reasoning model), and as an activity it holds no workflow task meanwhile, so the
 * history grows by the same few events per turn whatever the model's latency, and the SDK has nothing to warn
 * about. The model call heartbeats while it waits (activity-context.ts), so a worker that dies mid-turn is
 * noticed within 20 s and the turn runs again elsewhere, where the conversation on disk returns what was
 * already done (no second paid model call). The cost: one round trip through the server per call, a few ms.
 */
export const model = proxyActivities<Activities>({ ...MODEL_CALLS, heartbeatTimeout: CALL_HEARTBEAT_TIMEOUT });
export const tools = proxyActivities<Activities>({ ...TOOL_CALLS, heartbeatTimeout: CALL_HEARTBEAT_TIMEOUT });

/**
 * Agents recorded between the 'agent-turns-as-local-activities' and 'agent-turns-as-activities' patches ran
 * their turns as local activities (the workflow task held, and heartbeated, for as long as the model took);
 * they still replay that way.
 */
export const localModel = proxyLocalActivities<Activities>(MODEL_CALLS);
export const localTools = proxyLocalActivities<Activities>(TOOL_CALLS);

/** Missions recorded before this patch ran every step on the shared queue; they still replay that way. */
export const HOST_AFFINITY_PATCH = 'host-affinity';

/** The proxies of one mission: every step that touches its files (git, sessions, validation, reports, agent turns). */
export interface MissionProxies {
  steps: ActivityInterfaceFor<Activities>;
  model: ActivityInterfaceFor<Activities>;
  tools: ActivityInterfaceFor<Activities>;
  /** Proxies with other options (a validation step's own timeout), routed the same way. */
  bind(options: ActivityOptions): ActivityInterfaceFor<Activities>;
}

/** The host a mission's files are on: its id and its worker-specific task queue (src/activities/host.ts). */
export interface MissionHost {
  hostId: string;
  taskQueue: string;
  /** The host's MISSION_HOST_PICKUP_TIMEOUT, as its worker answered whichHost (recorded, so replay is unchanged). */
  pickupSec?: number;
}

/** A host-bound step that no worker picked up in this long: the mission says it waits for the host, and asks again. */
const HOST_PICKUP_SEC = 180;

/**
 * The one place that routes a mission's steps. Without a host (missions recorded before HOST_AFFINITY_PATCH) the
 * shared-queue proxies; with one, the same options on the host's own queue, so the repository, worktrees and
 * conversations of a mission are only ever touched on the host that holds them. `onWait` hears the host's id when a
 * step waited the host's pickup timeout without a worker of that host taking it (the host is down, or gone for good), and
 * undefined once one did.
 */
export function missionProxies(host: MissionHost | undefined, onWait?: (hostId: string | undefined) => void): MissionProxies {
  if (!host) return { steps, model, tools, bind: (options) => proxyActivities<Activities>(options) };
  const bound = (options: ActivityOptions) =>
    waitingForHost(proxyActivities<Activities>({ ...options, taskQueue: host.taskQueue, scheduleToStartTimeout: `${host.pickupSec ?? HOST_PICKUP_SEC} seconds` }), host.hostId, onWait);
  return {
    bind: bound,
    steps: bound(STEPS),
    model: bound({ ...MODEL_CALLS, heartbeatTimeout: CALL_HEARTBEAT_TIMEOUT }),
    tools: bound({ ...TOOL_CALLS, heartbeatTimeout: CALL_HEARTBEAT_TIMEOUT }),
  };
}

type AnyActivity = ((...args: unknown[]) => Promise<unknown>) & { executeWithOptions(options: ActivityOptions, args: unknown[]): Promise<unknown> };

/** Proxies whose calls, when the host's worker does not pick them up in time, say so and are scheduled again. */
function waitingForHost(acts: ActivityInterfaceFor<Activities>, hostId: string, onWait?: (hostId: string | undefined) => void): ActivityInterfaceFor<Activities> {
  const patient = async (call: () => Promise<unknown>) => {
    for (let waited = false; ; ) {
      try {
        const result = await call();
        if (waited) onWait?.(undefined);
        return result;
      } catch (err) {
        if (!pickupTimedOut(err)) throw err;
        if (!waited) onWait?.(hostId);
        waited = true;
      }
    }
  };
  return new Proxy({} as ActivityInterfaceFor<Activities>, {
    get(_, name) {
      const fn = (acts as unknown as Record<string | symbol, AnyActivity>)[name]!;
      const wrapped = (...args: unknown[]) => patient(() => fn(...args));
      wrapped.executeWithOptions = (options: ActivityOptions, args: unknown[]) => patient(() => fn.executeWithOptions(options, args));
      return wrapped;
    },
  });
}

const pickupTimedOut = (err: unknown): boolean =>
  err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
