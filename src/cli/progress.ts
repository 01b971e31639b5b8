import type { Client } from '@temporalio/client';
import { statusQuery } from '../api/messages';
import type { MissionReport } from '../api/report';
import { FINAL_PHASES, type MissionStatus, type Phase } from '../api/status';

/**
 * The exit code of `mission run` and `mission watch` for a mission's final phase: 0 only when it completed;
 * 3 when it ran to its end with unresolved work (so a script can tell it from a failure); 1 otherwise.
 */
export function exitCodeFor(phase: Phase): number {
  return phase === 'completed' ? 0 : phase === 'completed-with-issues' ? 3 : 1;
}

/** One line per milestone and feature: what `mission watch` prints when something changed. */
export function progressLines(status: MissionStatus): string[] {
  const lines = [`${status.missionId}: ${status.phase}${status.paused ? ' (paused)' : ''} · ${status.tokens.total} tokens`];
  for (const m of status.milestones) {
    lines.push(`  ${m.id} ${m.state}${m.validation ? ` · validation ${m.validation.status}` : ''}  ${m.title}`);
    for (const f of m.features) lines.push(`    ${f.id} ${f.state}${f.merge ? ` · ${f.merge.state}` : ''}${f.turns ? ` · ${f.turns} turns` : ''}`);
  }
  return lines;
}

/** The compact progress record `--json` prints, one JSON line per change. */
export function progressRecord(status: MissionStatus) {
  return {
    missionId: status.missionId,
    phase: status.phase,
    paused: status.paused,
    tokens: status.tokens.total,
    milestones: status.milestones.map((m) => ({
      id: m.id,
      state: m.state,
      validation: m.validation?.status,
      features: m.features.map((f) => ({ id: f.id, state: f.state, turns: f.turns, merge: f.merge?.state })),
    })),
  };
}

export interface WatchOptions {
  /** Between polls; a function of the last status lets a caller poll faster while it waits for something. */
  intervalMs?: number | ((status: MissionStatus | undefined) => number);
  json?: boolean;
  /** Called on every poll (for example to ask for approval); the watch goes on meanwhile. */
  onStatus?: (status: MissionStatus) => void;
  signal?: AbortSignal;
}

/** Prints progress whenever it changes until the mission ends; returns the final phase ('failed' when the run ended otherwise). */
export async function watchMission(client: Client, id: string, opts: WatchOptions = {}): Promise<Phase> {
  const handle = client.workflow.getHandle(id);
  let last = '';
  for (;;) {
    const { status: run } = await handle.describe();
    let status: MissionStatus | undefined;
    try {
      status = await handle.query(statusQuery);
    } catch (err) {
      if (run.name === 'RUNNING') throw err; // a closed run without a worker cannot answer; its state is final anyway
    }
    if (status) {
      const text = opts.json ? JSON.stringify(progressRecord(status)) : progressLines(status).join('\n');
      if (text !== last) console.log(text);
      last = text;
      opts.onStatus?.(status);
      if (FINAL_PHASES.includes(status.phase)) return status.phase;
    }
    // A closed run that no worker can query: a completed workflow's result says how it ended (rejected, with issues...).
    if (run.name === 'COMPLETED') return ((await handle.result()) as MissionReport).outcome;
    if (run.name !== 'RUNNING') return run.name === 'CANCELLED' ? 'cancelled' : 'failed';
    if (opts.signal?.aborted) return status?.phase ?? 'failed';
    const interval = typeof opts.intervalMs === 'function' ? opts.intervalMs(status) : opts.intervalMs;
    await new Promise((r) => setTimeout(r, interval ?? 1000));
  }
}
