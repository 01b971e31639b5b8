import { ApplicationFailure } from '@temporalio/common';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { renderReport, type MissionReport } from '../api/report';
import { addTokens, ZERO_TOKENS, type TokenUsage } from '../api/status';
import { Git, exists } from './gitcore';
import type { ModelClient } from './model';
import type { MissionPaths } from './paths';
import { loadSession, newSession, saveSession } from './session';

export interface WriteReportInput {
  missionKey: string;
  report: MissionReport;
  /** Ask the model for a short narrative (completed missions); otherwise the facts speak alone. */
  narrate: boolean;
  model?: string;
}

export interface WriteReportResult {
  /** The report as written: commits, narrative and its tokens included. */
  report: MissionReport;
  /** Tokens the narrative cost (already counted in the report). */
  tokens: TokenUsage;
}

const REPORT_SYSTEM = `You write the short summary at the top of a coding mission's report, for the engineer who will review the branch.
Four to eight sentences, plain prose: what was built, what was verified, what is left to do (unresolved items first if any).
Use only the facts given; do not invent.`;

export function createReportActivities(deps: { model: ModelClient; paths: MissionPaths }) {
  /** Adds the commits and (once, recorded) the narrative, writes <home>/reports/<key>.md and .json. */
  async function writeReport(input: WriteReportInput): Promise<WriteReportResult> {
    const commits = await missionCommits(input.report);
    const facts: MissionReport = { ...input.report, commits };
    const { narrative, tokens } = input.narrate ? await narrate(input, facts) : { narrative: undefined, tokens: ZERO_TOKENS };
    const reportPath = deps.paths.report(input.missionKey);
    const report: MissionReport = {
      ...facts,
      ...(narrative ? { narrative } : {}),
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
      { role: 'user', content: `Role: report\n\nMission facts (JSON):\n${JSON.stringify(summary).slice(0, 60_000)}` },
    ]);
    try {
      const reply = await deps.model.complete({ model: input.model, messages: session.messages });
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
