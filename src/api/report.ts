import type { Plan } from './plan';
import type { AgentRole, MilestoneStatus, MissionStatus, RefusedActions, SandboxInfo, TokenUsage } from './status';

export const REPORT_SCHEMA_VERSION = 1;

export type Outcome = 'completed' | 'rejected' | 'cancelled' | 'failed';

/** What is left for a person to do: failing checks after repair, features that could not be merged. */
export interface Unresolved {
  milestoneId: string;
  kind: 'validation' | 'unmerged' | 'feature';
  name: string;
  detail: string;
}

/** The mission report: the workflow's JSON result and the source of the Markdown rendering. */
export interface MissionReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  missionId: string;
  outcome: Outcome;
  prompt: string;
  repo?: string;
  branch?: string;
  worktree?: string;
  baseCommit?: string;
  finalCommit?: string;
  plan: Plan | null;
  milestones: (MilestoneStatus & { durationMs?: number })[];
  unresolved: Unresolved[];
  commits: { sha: string; subject: string }[];
  tokens: TokenUsage;
  tokensByRole: Partial<Record<AgentRole, TokenUsage>>;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  rejection?: { reason?: string };
  error?: { type?: string; message: string };
  narrative?: string;
  reportPath?: string;
  /** Which sandbox the commands ran in; absent for missions from before there was one. */
  sandbox?: SandboxInfo;
  refused?: RefusedActions;
}

/** The facts of a report, from the mission's status (pure: used inside the workflow). */
export function reportFromStatus(status: MissionStatus, outcome: Outcome, finishedAt: string, extra: Partial<MissionReport> = {}): MissionReport {
  const committed = status.milestones.filter((m) => m.commit);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    missionId: status.missionId,
    outcome,
    prompt: status.prompt,
    repo: status.repo,
    branch: status.branch,
    worktree: status.worktree,
    baseCommit: status.baseCommit,
    finalCommit: committed.length ? committed[committed.length - 1]!.commit : status.baseCommit,
    plan: status.plan,
    milestones: status.milestones.map((m) => ({
      ...m,
      durationMs: m.startedAt && m.finishedAt ? Date.parse(m.finishedAt) - Date.parse(m.startedAt) : undefined,
    })),
    unresolved: unresolvedOf(status.milestones),
    commits: [],
    tokens: status.tokens,
    tokensByRole: status.tokensByRole,
    startedAt: status.startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(status.startedAt),
    ...(status.error ? { error: status.error } : {}),
    ...(status.sandbox ? { sandbox: status.sandbox } : {}),
    ...(status.refused ? { refused: status.refused } : {}),
    ...extra,
  };
}

function unresolvedOf(milestones: MilestoneStatus[]): Unresolved[] {
  const out: Unresolved[] = [];
  for (const m of milestones) {
    for (const f of m.features) {
      if (f.state === 'failed') out.push({ milestoneId: m.id, kind: 'feature', name: f.id, detail: `agent failed: ${f.summary ?? 'unknown error'}` });
      if (f.merge?.state === 'conflict' && f.state !== 'failed') {
        out.push({ milestoneId: m.id, kind: 'unmerged', name: f.id, detail: `not merged (conflict in ${f.merge.conflictFiles?.join(', ') || 'unknown files'}); work kept on ${f.branch}` });
      }
    }
    for (const name of m.validation?.unresolved ?? []) {
      out.push({ milestoneId: m.id, kind: 'validation', name, detail: `\`${name}\` still fails after repair` });
    }
  }
  return out;
}

/** "bwrap, network off", or the loud line of an opted-out worker. */
export function describeSandbox(s: SandboxInfo): string {
  if (s.backend === 'off') return `**OFF** (opted out with MISSION_SANDBOX=off): commands ran with the worker user's full access`;
  return `${s.backend}, network ${s.network ? 'on' : 'off'} for agent commands (dependency installs: on)${s.env.length ? `; extra variables: ${s.env.join(', ')}` : ''}`;
}

const short = (sha?: string | null) => (sha ? sha.slice(0, 8) : '—');
const cell = (text?: string) => (text ?? '').replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim().slice(0, 160);
const n = (x: number) => x.toLocaleString('en-US');

export function formatDuration(ms?: number): string {
  if (ms === undefined || Number.isNaN(ms)) return '—';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

/** The Markdown rendering of a report (a person reads this; tools read the JSON). */
export function renderReport(r: MissionReport): string {
  const roles = Object.entries(r.tokensByRole).map(([role, t]) => `${role} ${n(t!.total)}`).join(' · ');
  const lines = [
    `# Mission report: ${r.plan?.title ?? r.prompt.split('\n')[0]}`,
    '',
    `- **Outcome:** ${r.outcome}${r.rejection ? ` (${r.rejection.reason ?? 'no reason given'})` : ''}${r.error ? ` — ${r.error.type ?? 'error'}: ${r.error.message}` : ''}`,
    `- **Mission:** \`${r.missionId}\``,
    `- **Branch:** ${r.branch ? `\`${r.branch}\`` : '—'} (base ${short(r.baseCommit)} → final ${short(r.finalCommit)})`,
    `- **Repository:** ${r.repo ?? '—'}`,
    `- **Duration:** ${formatDuration(r.durationMs)} (${r.startedAt} → ${r.finishedAt})`,
    `- **Tokens:** ${n(r.tokens.total)}${roles ? ` (${roles})` : ''}`,
    ...(r.sandbox ? [`- **Sandbox:** ${describeSandbox(r.sandbox)}`] : []),
    `- **Refused actions:** ${r.refused?.count ?? 0}`,
    '',
    '## Goal',
    '',
    r.prompt,
    '',
  ];
  if (r.narrative) lines.push('## Summary', '', r.narrative, '');
  lines.push('## Unresolved', '');
  lines.push(...(r.unresolved.length ? r.unresolved.map((u) => `- ${u.milestoneId} ${u.kind} **${u.name}**: ${u.detail}`) : ['Nothing unresolved.']), '');
  if (r.refused?.count) {
    lines.push('## Refused actions', '', `Agents attempted ${r.refused.count} action(s) that were refused; the last ${r.refused.last.length}:`, '');
    lines.push(...r.refused.last.map((x) => `- ${x.taskId}: ${x.action.replace(/\s+/g, ' ')}`), '');
  }
  if (r.milestones.length) lines.push('## Milestones', '');
  for (const m of r.milestones) lines.push(...milestoneSection(m));
  if (r.commits.length) lines.push('## Commits', '', ...r.commits.map((c) => `- ${short(c.sha)} ${c.subject}`), '');
  if (r.plan && (r.plan.assumptions.length || r.plan.risks.length)) {
    lines.push('## Plan notes', '', ...r.plan.assumptions.map((a) => `- Assumption: ${a}`), ...r.plan.risks.map((x) => `- Risk: ${x}`), '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function milestoneSection(m: MissionReport['milestones'][number]): string[] {
  const out = [`### ${m.id}: ${m.title} (${m.state}, ${formatDuration(m.durationMs)})`, ''];
  out.push('| feature | state | merge | commit | summary |', '|---|---|---|---|---|');
  for (const f of m.features) {
    const merge = f.merge ? `${f.merge.state}${f.merge.resolvedBy ? ' (integration agent)' : ''}` : '—';
    out.push(`| ${f.id} | ${f.state} | ${merge} | ${short(f.commit)} | ${cell(f.summary)} |`);
  }
  out.push('');
  const v = m.validation;
  if (!v) return out;
  out.push(`**Validation:** ${v.status} (commands: ${v.source}; ${v.notes.join('; ')})`, '');
  if (v.criteria.length) out.push('Criteria from the plan:', ...v.criteria.map((c) => `- ${c}`), '');
  for (const run of v.runs) {
    out.push(`${run.attempt === 'initial' ? 'Validation' : 'After repair'}: ${run.passed ? 'passed' : 'failed'}`, '', '| command | result | duration |', '|---|---|---|');
    for (const c of run.results) {
      const result = c.skipped ? `skipped (${c.skipped})` : c.timedOut ? 'timed out' : `exit ${c.exitCode}`;
      out.push(`| \`${cell(c.command)}\` | ${result} | ${formatDuration(c.durationMs)} |`);
    }
    out.push('');
  }
  if (v.repair) out.push(`Repair: ${v.repair.state}: ${v.repair.summary}${v.repair.commit ? ` (commit ${short(v.repair.commit)})` : ''}`, '');
  return out;
}
