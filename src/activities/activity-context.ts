import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined when the code runs outside an activity (unit tests). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * Heartbeats the running activity. Local activities (agents' turns in histories recorded under the
 * 'agent-turns-as-local-activities' patch) cannot heartbeat: the worker that runs them holds their workflow
 * task, and a dead worker is noticed when that task times out. So this is a no-op for them, and outside an activity.
 */
export function heartbeat(context: Context | undefined = activityContext()): void {
  if (canHeartbeat(context)) context.heartbeat();
}

const canHeartbeat = (context: Context | undefined): context is Context => Boolean(context && !context.info.isLocal);

const HEARTBEAT_EVERY_MS = 5000;

/**
 * Heartbeats while `work` runs, so a worker that dies mid-call is noticed within the activity's
 * heartbeat timeout instead of its (long) start-to-close timeout.
 */
export async function whileHeartbeating<T>(work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  const context = activityContext();
  const timer = canHeartbeat(context) ? setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await work(context?.cancellationSignal);
  } finally {
    if (timer) clearInterval(timer);
  }
}
