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
