import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined when the code runs outside an activity (unit tests). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const HEARTBEAT_EVERY_MS = 5000;

/**
 * Heartbeats while `work` runs, so a worker that dies mid-call is noticed within the activity's
 * heartbeat timeout instead of its (long) start-to-close timeout.
 */
export async function whileHeartbeating<T>(work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  const context = activityContext();
  const timer = context ? setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await work(context?.cancellationSignal);
  } finally {
    if (timer) clearInterval(timer);
  }
}
