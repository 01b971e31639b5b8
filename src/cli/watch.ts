import type { Client } from '@temporalio/client';
import { statusQuery } from '../api/messages';
import { FINAL_PHASES, type MissionStatus } from '../api/status';

/** One line per milestone and feature: what `mission watch` prints when something changed. */
export function progressLines(status: MissionStatus): string[] {
  const lines = [`${status.missionId}: ${status.phase}${status.paused ? ' (paused)' : ''} · ${status.tokens.total} tokens`];
  for (const m of status.milestones) {
    lines.push(`  ${m.id} ${m.state}${m.validation ? ` · validation ${m.validation.status}` : ''}  ${m.title}`);
    for (const f of m.features) lines.push(`    ${f.id} ${f.state}${f.merge ? ` · ${f.merge.state}` : ''}${f.turns ? ` · ${f.turns} turns` : ''}`);
  }
  return lines;
}

/** Prints progress whenever it changes until the mission ends; exit code 0 when it completed. */
export async function watchMission(client: Client, id: string, opts: { intervalMs?: number; json?: boolean } = {}): Promise<number> {
  const handle = client.workflow.getHandle(id);
  let last = '';
  for (;;) {
    const status = await handle.query(statusQuery);
    const text = opts.json ? JSON.stringify({ phase: status.phase, milestones: status.milestones.map((m) => ({ id: m.id, state: m.state })) }) : progressLines(status).join('\n');
    if (text !== last) console.log(text);
    last = text;
    if (FINAL_PHASES.includes(status.phase)) return status.phase === 'completed' ? 0 : 1;
    const { status: run } = await handle.describe();
    if (run.name !== 'RUNNING') return run.name === 'COMPLETED' ? 0 : 1;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}
