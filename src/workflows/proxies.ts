import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

// Our own failures carry nonRetryable themselves (src/api/errors.ts), so no nonRetryableErrorTypes
// list here: it would be repeated in every ActivityTaskScheduled event and grow history per turn.

/** git and file steps: retried a few times; they heartbeat, so a dead worker is noticed in 30 s. */
export const steps = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

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

/** As activities (planning, reports, and agents recorded before LOCAL_TURNS_PATCH) they heartbeat, so a dead worker is noticed in 30 s. */
export const model = proxyActivities<Activities>({ ...MODEL_CALLS, heartbeatTimeout: '30 seconds' });
export const tools = proxyActivities<Activities>({ ...TOOL_CALLS, heartbeatTimeout: '30 seconds' });

/**
 * An agent's turns, run as local activities on the worker that runs the agent's workflow: a model call
 * and the tool calls it asks for follow one another without a round trip through the Temporal server
 * (figure 1 in bench/results.md), and are still recorded in history, as markers, once done. A worker that dies
 * mid-turn is noticed when its workflow task times out (10 s); the turn runs again on another worker,
 * where the conversation on disk returns what was already done (no second paid model call).
 */
export const localModel = proxyLocalActivities<Activities>(MODEL_CALLS);
export const localTools = proxyLocalActivities<Activities>(TOOL_CALLS);
