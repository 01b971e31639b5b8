import type { Client, WorkflowHandle } from '@temporalio/client';
import { statusOf, type DecisionResult } from './decision';
import type { MissionEvent, MissionStatus } from '../api/status';

/**
 * A decision that is only a signal (moveHost: it must reach a mission whose host is gone, so no update
 * handler could answer for it at once). Signals are fire-and-forget, so the command checks the phase before
 * it sends, then waits briefly for the mission to say whether it applied or ignored the signal, and reports
 * exactly that instead of "sent". The other decisions are updates (decision.ts).
 */
export interface SignalDecision {
  /** The signal's name, as the mission records it in its events. */
  signal: string;
  /** Why the mission cannot take this decision now (checked before sending), or undefined when it can. */
  unfit?: (status: MissionStatus) => string | undefined;
  send(handle: WorkflowHandle): Promise<void>;
}


const ACK_WAIT_MS = 10_000;

export async function decideBySignal(client: Client, missionId: string, decision: SignalDecision): Promise<DecisionResult> {
  const handle = client.workflow.getHandle(missionId);
  const { status: run } = await handle.describe();
  if (run.name !== 'RUNNING') throw new Error(`mission ${missionId} has already ended (${run.name.toLowerCase()}); ${decision.signal} was not sent`);
  const before = await statusOf(client, handle);
  const unfit = before && decision.unfit?.(before);
  if (unfit) throw new Error(`${decision.signal} not sent: ${unfit}`);

  await decision.send(handle);
  const answer = before ? await acknowledgement(client, handle, decision.signal, before.events.at(-1)) : undefined;
  if (answer?.ignored) throw new Error(`${decision.signal} was sent but the mission ignored it: ${answer.ignored}`);
  const applied = answer?.applied === true;
  const text = applied
    ? `${decision.signal} applied to ${missionId}`
    : `${decision.signal} sent to ${missionId}; the mission has not taken it up yet (is a worker running? "mission status ${missionId}" shows when it does)`;
  return { value: { missionId, signal: decision.signal, sent: true, applied }, text };
}

/** Looks for the mission's own record of the signal among the events that came after `last`. */
async function acknowledgement(client: Client, handle: WorkflowHandle, signal: string, last: MissionEvent | undefined): Promise<{ applied?: true; ignored?: string } | undefined> {
  const deadline = Date.now() + ACK_WAIT_MS;
  while (Date.now() < deadline) {
    const status = await statusOf(client, handle);
    for (const event of status ? eventsAfter(status.events, last) : []) {
      if (event.type === 'signal-ignored' && event.message.startsWith(`${signal} ignored: `)) return { ignored: event.message.slice(signal.length + 10) };
      if (event.type === 'signal-ignored') continue;
      if (event.message.startsWith(`${signal} received`) || event.type === signal || (signal === 'resume' && event.type === 'budget')) return { applied: true };
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return undefined;
}

function eventsAfter(events: MissionEvent[], last: MissionEvent | undefined): MissionEvent[] {
  if (!last) return events;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.at === last.at && e.type === last.type && e.message === last.message) return events.slice(i + 1);
  }
  return events;
}
