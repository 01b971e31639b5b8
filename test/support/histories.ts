import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const History = temporal.api.history.v1.History;

export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');

export interface RecordedHistory {
  workflowId: string;
  history: temporal.api.history.v1.IHistory;
}

/** Every run (continue-as-new chains included) of the closed mission and of its child workflows (agents), as base64 of the history protobuf (what `temporal workflow show --output json` holds, in binary). */
export async function collectHistories(client: Client, missionId: string): Promise<{ workflowId: string; history: string }[]> {
  const out: { workflowId: string; history: string }[] = [];
  const seen = new Set<string>();
  const visit = async (workflowId: string) => {
    if (seen.has(workflowId)) return;
    seen.add(workflowId);
    const runIds: string[] = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(run.runId);
    for (const runId of runIds.reverse()) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      out.push({ workflowId, history: Buffer.from(History.encode(history).finish()).toString('base64') });
      for (const e of history.events ?? []) {
        const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
        if (child) await visit(child);
      }
    }
  };
  await visit(missionId);
  return out;
}

/**
 * With MISSION_RECORD_HISTORIES=1, a test's closed missions are written to test/histories/<file>--<test>.json
 * for the replay test (`npm run histories` records the chosen scenarios).
 */
export async function recordHistories(client: Client, missionIds: string[], testName: string): Promise<void> {
  if (process.env.MISSION_RECORD_HISTORIES !== '1' || missionIds.length === 0) return;
  const entries = [];
  for (const id of missionIds) {
    const { status } = await client.workflow.getHandle(id).describe();
    if (status.name !== 'RUNNING') entries.push(...(await collectHistories(client, id)));
  }
  if (entries.length === 0) return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const slug = testName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
  writeFileSync(path.join(HISTORIES_DIR, `${slug}.json`), `${JSON.stringify(entries, null, 1)}\n`);
}

/**
 * Every recorded history: test/histories/*.json from the current workflow code, and the folders beside them
 * keeping histories recorded by earlier versions (e.g. before-local-turns/), which must replay too: that
 * is what `patched()` in the workflows is for.
 */
export function loadHistories(): (RecordedHistory & { file: string })[] {
  const files = readdirSync(HISTORIES_DIR, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? readdirSync(path.join(HISTORIES_DIR, entry.name))
          .filter((f) => f.endsWith('.json'))
          .map((f) => path.join(entry.name, f))
      : entry.name.endsWith('.json')
        ? [entry.name]
        : [],
  );
  return files
    .sort()
    .flatMap((file) =>
      (JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as { workflowId: string; history: string }[]).map((e) => ({
        file,
        workflowId: e.workflowId,
        history: History.decode(Buffer.from(e.history, 'base64')),
      })),
    );
}
