import { patched, type ChildWorkflowHandle } from '@temporalio/workflow';
import { steerAgentSignal, stopAgentSignal, type AgentNote } from '../api/messages';
import type { feature } from './feature';
import type { MissionState } from './state';

/** Missions recorded before steering sent no signals to their agents; only a steer or a skip sends any. */
export const STEERING_PATCH = 'mission-steering';

interface Running {
  handle: ChildWorkflowHandle<typeof feature>;
  /** The plan feature it works on (feature agents and their retries). */
  featureId?: string;
  /** How many of the mission's notes it has (in its input or by signal). */
  sent: number;
}

/**
 * The mission's running agents (child workflows), so that a steering note reaches each at its next turn and a
 * skipped feature's agent can be stopped. Agents that start later get the notes in their input.
 */
export class RunningAgents {
  private readonly running = new Map<string, Running>();
  /** Skips of features whose agent has not started yet: it is stopped as soon as it does. */
  private readonly stops = new Map<string, string>();

  constructor(private readonly state: Pick<MissionState, 'status'>) {}

  /** Every note so far, numbered: the number is how an agent keeps each note once. */
  notes(): AgentNote[] {
    return (this.state.status.steering ?? []).map((n, index) => ({ index, ...n }));
  }

  /** An agent started with the first `sent` notes in its input: notes that came meanwhile follow by signal. */
  attach(handle: ChildWorkflowHandle<typeof feature>, featureId: string | undefined, sent: number): void {
    const running: Running = { handle, sent, ...(featureId ? { featureId } : {}) };
    this.running.set(handle.workflowId, running);
    if (sent < this.notes().length) this.send(running);
    const stop = featureId === undefined ? undefined : this.stops.get(featureId);
    if (stop !== undefined) this.stopRunning(running, stop);
  }

  detach(workflowId: string): void {
    this.running.delete(workflowId);
  }

  /** A retried feature's new agent must not inherit the stop of the skip before it. */
  unstop(featureId: string): void {
    this.stops.delete(featureId);
  }

  /** A new note: every running agent gets what it has not had yet. */
  broadcast(): void {
    for (const running of this.running.values()) this.send(running);
  }

  /** Stops the agent of a feature now, or as soon as it starts. */
  stop(featureId: string, reason: string): void {
    this.stops.set(featureId, reason);
    for (const running of this.running.values()) if (running.featureId === featureId) this.stopRunning(running, reason);
  }

  private send(running: Running): void {
    const notes = this.notes().slice(running.sent);
    if (!notes.length || !patched(STEERING_PATCH)) return;
    running.sent += notes.length;
    // An agent that ended meanwhile has nothing to read them with; the next agents get them in their input.
    running.handle.signal(steerAgentSignal, { notes }).catch(() => undefined);
  }

  private stopRunning(running: Running, reason: string): void {
    if (!patched(STEERING_PATCH)) return;
    running.handle.signal(stopAgentSignal, { reason }).catch(() => undefined);
  }
}
