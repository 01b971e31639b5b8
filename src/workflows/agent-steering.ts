import { CancellationScope, isCancellation, setHandler } from '@temporalio/workflow';
import { steerAgentSignal, stopAgentSignal, type AgentNote } from '../api/messages';

/**
 * In an agent's workflow: the steering notes it must read and whether a person stopped it.
 * Notes come in its input (those the mission had when it started) and by the `steerAgent` signal; each goes out
 * with the next turn until that turn returns, and the turn activity keeps each note once in the conversation
 * (by index), so a retried turn or a re-sent note never adds it twice. `stopAgent` (skipFeature) cancels the
 * step under way; the agent then ends early and commits what is in its working tree.
 * Handlers add no commands: an agent that receives neither replays as before.
 */
export class AgentSteering {
  private readonly known = new Map<number, AgentNote>();
  private readonly delivered: Set<number>;
  private scope: CancellationScope | undefined;
  stopped: string | undefined;

  constructor(initial: AgentNote[] = [], steered: number[] = []) {
    this.delivered = new Set(steered);
    for (const note of initial) this.known.set(note.index, note);
    setHandler(steerAgentSignal, ({ notes }) => notes.forEach((note) => this.known.set(note.index, note)), {
      description: 'From the mission: steering notes ({ notes: [{ index, at, note, by? }] }) for the next turn',
    });
    setHandler(
      stopAgentSignal,
      ({ reason }) => {
        this.stopped ??= reason;
        this.scope?.cancel();
      },
      { description: 'From the mission (skipFeature): stop now and commit the work so far: { reason }' },
    );
  }

  /** Notes not yet in the conversation, in the order they were given. */
  pending(): AgentNote[] {
    return [...this.known.values()].filter((n) => !this.delivered.has(n.index)).sort((a, b) => a.index - b.index);
  }

  markDelivered(notes: AgentNote[]): void {
    for (const note of notes) this.delivered.add(note.index);
  }

  /** What a continued run must know: every note known, and which are in the conversation already. */
  carry(): { steering: AgentNote[]; steered: number[] } {
    return { steering: [...this.known.values()], steered: [...this.delivered] };
  }

  /** Runs one step so that a stop cancels it; undefined when it was stopped. */
  async step<T>(run: () => Promise<T>): Promise<T | undefined> {
    if (this.stopped !== undefined) return undefined;
    const scope = new CancellationScope();
    this.scope = scope;
    try {
      return await scope.run(run);
    } catch (err) {
      if (this.stopped !== undefined && isCancellation(err)) return undefined;
      throw err;
    } finally {
      this.scope = undefined;
    }
  }
}
