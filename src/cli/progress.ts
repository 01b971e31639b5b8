import type { Client } from '@temporalio/client';
import { agentProgressQuery, statusQuery } from '../api/messages';
import { featureWorkflowId } from '../api/ids';
import { formatCost } from '../api/prices';
import type { MissionReport } from '../api/report';
import { FINAL_PHASES, type AgentProgress, type MissionStatus, type Phase } from '../api/status';
import { queryWithin } from './common';

/**
 * The exit code of `mission run` and `mission watch` for a mission's final phase: 0 only when it completed;
 * 3 when it ran to its end with unresolved work (so a script can tell it from a failure); 1 otherwise.
 */
export function exitCodeFor(phase: Phase): number {
  return phase === 'completed' ? 0 : phase === 'completed-with-issues' ? 3 : 1;
}

/** Live progress of the running agents, by `milestone/feature`. */
export type AgentsProgress = Record<string, AgentProgress>;

/** One line per milestone and feature (a running feature with its agent's turn, tokens and last tool): what `mission watch` prints when something changed. */
export function progressLines(status: MissionStatus, agents: AgentsProgress = {}): string[] {
  const lines = [`${status.missionId}: ${status.phase}${status.paused ? ' (paused)' : ''} · ${status.tokens.total} tokens · ${formatCost(status.tokens)}${status.parked ? ` · parked: ${status.parked}` : ''}`];
  for (const m of status.milestones) {
    lines.push(`  ${m.id} ${m.state}${m.validation ? ` · validation ${m.validation.status}` : ''}${m.notRun ? ` · not run: ${m.notRun}` : ''}  ${m.title}`);
    for (const f of m.features) {
      const live = agents[`${m.id}/${f.id}`];
      const stalled = status.stalled?.find((s) => s.taskId === f.id);
      const decided = f.retry ? ' · retry asked' : f.skipped && f.state === 'running' ? ' · being skipped' : '';
      const state = (stalled ? `${f.state} · stalled (waiting on ${stalled.waitingOn} since ${stalled.since})` : f.state) + decided;
      const skills = f.skills?.length || f.skillsRead?.length ? ` · skills ${f.skills?.join(', ') || 'none'} (read: ${f.skillsRead?.join(', ') || 'none'})` : '';
      lines.push(`    ${f.id} ${state}${f.merge ? ` · ${f.merge.state}` : ''}${live ? ` · ${describeProgress(live)}` : f.turns ? ` · ${f.turns} turns` : ''}${skills}`);
    }
  }
  const notes = status.steering ?? [];
  if (notes.length) lines.push(`  steering: ${notes.length} note(s); last: ${notes[notes.length - 1]!.note.replace(/\s+/g, ' ').slice(0, 120)}`);
  if (status.replan) lines.push(`  re-plan asked: ${status.replan.feedback.replace(/\s+/g, ' ').slice(0, 120)}`);
  // Agents that are not features (merge conflicts, repairs) show their stall here.
  const features = new Set(status.milestones.flatMap((m) => m.features.map((f) => f.id)));
  for (const s of status.stalled ?? []) if (!features.has(s.taskId)) lines.push(`  ${s.taskId} stalled (waiting on ${s.waitingOn} since ${s.since})`);
  return lines;
}

/** `turn 3 of 20 · 5120 tokens · $0.0123 · last: run_command npm test` (the cost as the mission's: unknown where the model has no price). */
export function describeProgress(p: AgentProgress): string {
  const parts = [p.turn ? `turn ${p.turn} of ${p.maxTurns}` : 'starting', `${p.tokens.total} tokens`, formatCost(p.tokens)];
  if (p.lastTool) parts.push(`last: ${p.lastTool}`);
  return parts.join(' · ');
}

/** The compact progress record `--json` prints, one JSON line per change. */
export function progressRecord(status: MissionStatus, agents: AgentsProgress = {}) {
  return {
    missionId: status.missionId,
    phase: status.phase,
    paused: status.paused,
    tokens: status.tokens.total,
    costUsd: status.tokens.costUsd,
    milestones: status.milestones.map((m) => ({
      id: m.id,
      state: m.state,
      validation: m.validation?.status,
      features: m.features.map((f) => {
        const live = agents[`${m.id}/${f.id}`];
        return { id: f.id, state: f.state, turns: f.turns, merge: f.merge?.state, ...(live ? { progress: live } : {}) };
      }),
    })),
  };
}

/** A running agent answers within this; one that cannot (starting, ending, no worker) is shown without its progress. */
const AGENT_QUERY_MS = 2000;

/** Asks each running feature's agent workflow (`MISSION/MILESTONE/FEATURE`) for its progress. */
export async function agentsProgress(client: Client, status: MissionStatus): Promise<AgentsProgress> {
  const running = status.milestones.flatMap((m) => m.features.filter((f) => f.state === 'running').map((f) => ({ key: `${m.id}/${f.id}`, workflowId: featureWorkflowId(status.missionId, m.id, f.id) })));
  const answers = await Promise.all(
    running.map(async ({ key, workflowId }) => {
      try {
        return [[key, await queryWithin(client, client.workflow.getHandle(workflowId), agentProgressQuery, AGENT_QUERY_MS)] as const];
      } catch {
        return []; // not started yet, just ended, or recorded before agents answered this query
      }
    }),
  );
  return Object.fromEntries(answers.flat());
}

export interface WatchOptions {
  /** Between polls; a function of the last status lets a caller poll faster while it waits for something. */
  intervalMs?: number | ((status: MissionStatus | undefined) => number);
  json?: boolean;
  /**
   * While this says so (for the last status), the next poll comes as soon as the mission's history grows (a long
   * poll on the server: every change of the status is a new event), not after a fixed interval; the interval
   * still bounds the wait.
   */
  wake?: (status: MissionStatus | undefined) => boolean;
  /** Called on every poll (for example to ask for approval); the watch goes on meanwhile. */
  onStatus?: (status: MissionStatus) => void;
  signal?: AbortSignal;
}

/** Prints progress whenever it changes until the mission ends; returns the final phase ('failed' when the run ended otherwise). */
export async function watchMission(client: Client, id: string, opts: WatchOptions = {}): Promise<Phase> {
  const handle = client.workflow.getHandle(id);
  const nextEvent = historyWaiter(client, id);
  let last = '';
  for (;;) {
    // Asked together: one round trip's wait, not two.
    const [described, queried] = await Promise.allSettled([handle.describe(), handle.query(statusQuery)]);
    if (described.status === 'rejected') throw described.reason;
    const run = described.value.status;
    let status: MissionStatus | undefined;
    if (queried.status === 'fulfilled') status = queried.value;
    else if (run.name === 'RUNNING') throw queried.reason; // a closed run without a worker cannot answer; its state is final anyway
    if (status) {
      const agents = FINAL_PHASES.includes(status.phase) ? {} : await agentsProgress(client, status);
      const text = opts.json ? JSON.stringify(progressRecord(status, agents)) : progressLines(status, agents).join('\n');
      if (text !== last) console.log(text);
      last = text;
      opts.onStatus?.(status);
      // A failed, cancelled or rejected mission says so before it writes its report: done when the run has closed.
      if (FINAL_PHASES.includes(status.phase) && run.name !== 'RUNNING') return status.phase;
    }
    // A closed run that no worker can query: a completed workflow's result says how it ended (rejected, with issues...).
    if (run.name === 'COMPLETED') return ((await handle.result()) as MissionReport).outcome;
    if (run.name !== 'RUNNING') return run.name === 'CANCELLED' ? 'cancelled' : 'failed';
    if (opts.signal?.aborted) return status?.phase ?? 'failed';
    const interval = (typeof opts.intervalMs === 'function' ? opts.intervalMs(status) : opts.intervalMs) ?? 1000;
    if (opts.wake?.(status)) await nextEvent(interval, opts.signal);
    else await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Waits, at most `maxMs`, until the workflow's history has events the waiter has not returned yet: the server holds
 * the request (waitNewEvent) and answers as soon as one is written. The first wait returns the history so far at once.
 */
export function historyWaiter(client: Client, workflowId: string): (maxMs: number, signal?: AbortSignal) => Promise<void> {
  let token: Uint8Array | undefined;
  return async (maxMs, signal) => {
    const timeout = AbortSignal.timeout(maxMs);
    try {
      await client.withAbortSignal(signal ? AbortSignal.any([signal, timeout]) : timeout, async () => {
        for (;;) {
          const page = await client.workflowService.getWorkflowExecutionHistory({
            namespace: client.options.namespace,
            execution: { workflowId },
            nextPageToken: token,
            waitNewEvent: true,
            skipArchival: true,
          });
          token = page.nextPageToken?.length ? page.nextPageToken : undefined;
          // No token: the run closed (the caller's describe says so). An empty page: the server's own long-poll ended.
          if (page.history?.events?.length || !token) return;
        }
      });
    } catch {
      // Nothing new in time, an interrupt, or a server that could not answer: the caller polls as before.
    }
  };
}
