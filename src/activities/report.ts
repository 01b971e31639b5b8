import { ApplicationFailure } from '@temporalio/common';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkNarrative } from '../api/narrative';
import { renderReport, type MissionReport } from '../api/report';
import { addTokens, ZERO_TOKENS, type TokenUsage } from '../api/status';
import type { PriceTable } from '../api/prices';
import { Git, exists } from './gitcore';
import type { ModelClient } from './model';
import type { MissionPaths } from './paths';
import { loadSession, newSession, saveSession } from './session';

export interface WriteReportInput {
  missionKey: string;
  report: MissionReport;
  /** Ask the model for a short narrative (missions that ran work); otherwise the facts speak alone. */
  narrate: boolean;
  model?: string;
  /** The input's `models.prices`, over the worker's table. */
  prices?: PriceTable;
}

export interface WriteReportResult {
  /** The report as written: commits, narrative and its tokens included. */
  report: MissionReport;
  /** Tokens the narrative cost (already counted in the report). */
  tokens: TokenUsage;
}

const REPORT_SYSTEM = `You write the short narrative of a coding mission's report, for the engineer who will review the branch.
Four to eight sentences, plain prose. Start with the outcome and every unresolved item (what it is and why), then what was built.
Use only the facts given; do not invent. Never call work done, verified or passing unless the facts say so:
an incomplete, blocked or failed feature did not do its task, and a criterion is verified only when the facts say "met".`;

export function createReportActivities(deps: { model: ModelClient; paths: MissionPaths }) {
  /** Adds the commits and (once, recorded) the narrative, writes <home>/reports/<key>.md and .json. */
  async function writeReport(input: WriteReportInput): Promise<WriteReportResult> {
    const commits = await missionCommits(input.report);
    const unresolved = await withFiles(input.report);
    const facts: MissionReport = { ...input.report, commits, unresolved };
    const { narrative, tokens } = input.narrate ? await narrate(input, facts) : { narrative: undefined, tokens: ZERO_TOKENS };
    const reportPath = deps.paths.report(input.missionKey);
    const titles = Object.fromEntries((facts.plan?.milestones ?? []).flatMap((m) => m.features.map((f) => [f.id, f.title])));
    const report: MissionReport = {
      ...facts,
      ...(narrative ? { narrative, narrativeFlags: checkNarrative(narrative, facts.unresolved, titles) } : {}),
      reportPath,
      tokens: addTokens(facts.tokens, tokens),
      tokensByRole: input.narrate ? { ...facts.tokensByRole, report: addTokens(facts.tokensByRole.report ?? ZERO_TOKENS, tokens) } : facts.tokensByRole,
    };
    await fs.mkdir(path.dirname(reportPath), { recursive: true });
    await fs.writeFile(reportPath, renderReport(report));
    await fs.writeFile(reportPath.replace(/\.md$/, '.json'), JSON.stringify(report, null, 2));
    return { report, tokens };
  }

  async function narrate(input: WriteReportInput, facts: MissionReport): Promise<{ narrative?: string; tokens: TokenUsage }> {
    const file = deps.paths.sessionFile(input.missionKey, 'report');
    const recorded = (await loadSession<{ narrative: string; tokens: TokenUsage }>(file))?.turns['1'];
    if (recorded) return recorded;
    const summary = { ...facts, milestones: facts.milestones.map(({ validation, ...m }) => ({ ...m, validation: validation && { ...validation, runs: undefined } })) };
    const session = newSession<{ narrative: string; tokens: TokenUsage }>([
      { role: 'system', content: REPORT_SYSTEM },
      { role: 'user', content: `Role: report\n\n${factsBrief(facts)}\n\nAll facts (JSON):\n${JSON.stringify(summary).slice(0, 60_000)}` },
    ]);
    try {
      const reply = await deps.model.complete({ model: input.model, messages: session.messages }, input.prices);
      const result = { narrative: (reply.message.content ?? '').trim(), tokens: reply.tokens };
      session.turns['1'] = result;
      await saveSession(file, session);
      return result;
    } catch (err) {
      // Transient errors retry; a fatal one must not cost the mission its report: the facts stand alone.
      if (err instanceof ApplicationFailure && err.nonRetryable) return { narrative: `(No summary: ${err.message})`, tokens: ZERO_TOKENS };
      throw err;
    }
  }

  return { writeReport };
}

/**
 * The facts the narrative must not contradict, as short lines ahead of the JSON: small models read
 * these; the JSON alone let one call an incomplete feature "verified".
 */
export function factsBrief(r: MissionReport): string {
  const lines = [`Outcome: ${r.outcome}${r.error ? ` (${r.error.message})` : ''}`];
  for (const m of r.milestones) {
    lines.push(`Milestone ${m.id} "${m.title}": ${m.state}; validation ${m.validation?.status ?? 'not run'}`);
    for (const f of m.features) lines.push(`- feature ${f.id} "${f.title}": ${f.state}${f.merge ? `, ${f.merge.state}` : ''}${f.summary ? ` — ${f.summary.slice(0, 200)}` : ''}`);
    for (const c of m.validation?.checks ?? []) lines.push(`- criterion "${c.criterion}": ${c.verdict} (${c.reason.slice(0, 200)})`);
  }
  lines.push(r.unresolved.length ? `Unresolved (${r.unresolved.length}):` : 'Unresolved: nothing.');
  for (const u of r.unresolved) lines.push(`- ${u.milestoneId} ${u.kind} ${u.name}: ${u.detail.slice(0, 300)}`);
  return lines.join('\n');
}

/** The files each unresolved feature's commit changed: "what it did", from git rather than from the agent. */
async function withFiles(report: MissionReport): Promise<MissionReport['unresolved']> {
  if (!report.repo || !(await exists(report.repo))) return report.unresolved;
  const git = new Git(report.repo);
  return Promise.all(
    report.unresolved.map(async (u) => {
      if (!u.commit) return u;
      const files = await git.run(['diff-tree', '--no-commit-id', '--name-only', '-r', '--root', u.commit]).catch(() => '');
      const list = files.split('\n').filter(Boolean);
      return list.length ? { ...u, files: list.slice(0, 50) } : u;
    }),
  );
}

async function missionCommits(report: MissionReport): Promise<MissionReport['commits']> {
  if (!report.worktree || !report.baseCommit || !(await exists(report.worktree))) return [];
  const log = await new Git(report.worktree).run(['log', '--format=%H%x09%s', `${report.baseCommit}..HEAD`]).catch(() => '');
  return log
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [sha, ...subject] = line.split('\t');
      return { sha: sha!, subject: subject.join('\t') };
    });
}
