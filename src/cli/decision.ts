import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { statusQuery, type DecisionAck } from '../api/messages';
import { DecisionRefusedError, sendDecision } from '../client';
import { queryWithin } from './common';
import type { MissionStatus } from '../api/status';

/**
 * A decision goes as an Update: the mission's validator accepts it or refuses it at once with the reason
 * ("the mission is planning, not awaiting approval"), which the command prints before exiting non-zero.
 * Only when no worker answers (an update would wait for one) does it go as the signal of the same name,
 * which the mission takes up when a worker is back.
 */
export interface Decision<P> {
  /** The update's and the signal's name, as the mission records it in its events. */
  name: string;
  update: UpdateDefinition<DecisionAck, [P]>;
  signal: SignalDefinition<[P] | [P?]>;
  payload: P;
}

export interface DecisionResult {
  value: { missionId: string; signal: string; sent: true; applied: boolean };
  text: string;
}

const QUERY_DEADLINE_MS = 5_000;

export async function decide<P>(client: Client, missionId: string, decision: Decision<P>): Promise<DecisionResult> {
  const handle = client.workflow.getHandle(missionId);
  const { status: run } = await handle.describe();
  if (run.name !== 'RUNNING') throw new Error(`mission ${missionId} has already ended (${run.name.toLowerCase()}); ${decision.name} was not sent`);
  if (!(await statusOf(client, handle))) {
    await handle.signal(decision.signal as SignalDefinition<[P]>, decision.payload);
    const text = `${decision.name} sent to ${missionId} as a signal: no worker answers now, so the mission takes it up (or records why not) when one is back; "mission status ${missionId}" shows which`;
    return { value: { missionId, signal: decision.name, sent: true, applied: false }, text };
  }
  try {
    await sendDecision(handle, decision.update, decision.payload);
    return { value: { missionId, signal: decision.name, sent: true, applied: true }, text: `${decision.name} applied to ${missionId}` };
  } catch (err) {
    // The reason already names the decision: "approvePlan refused: the mission is planning, not awaiting approval".
    if (err instanceof DecisionRefusedError) throw new Error(err.message, { cause: err });
    // It ended between the look above and the update: the server takes no update for a closed run ("not found").
    if (err instanceof WorkflowNotFoundError) {
      const { status: now } = await handle.describe();
      if (now.name !== 'RUNNING') throw new Error(`mission ${missionId} has already ended (${now.name.toLowerCase()}); ${decision.name} was not sent`, { cause: err });
    }
    throw err;
  }
}

/** The mission's status, or undefined when no worker answers the query in time. */
export async function statusOf(client: Client, handle: WorkflowHandle): Promise<MissionStatus | undefined> {
  try {
    return await queryWithin(client, handle, statusQuery, QUERY_DEADLINE_MS);
  } catch {
    return undefined;
  }
}
