import type { NarrativeFlag } from './narrative';
import { unresolvedOf, type Unresolved } from './outcome';
import type { Plan } from './plan';
import type { AnsweredRound } from './questions';
import { formatCost } from './prices';
import type { AgentRole, CriterionCheck, HostMove, MilestoneStatus, MissionStatus, RefusedActions, SandboxInfo, SteeringNote, TokenUsage } from './status';

export type { Unresolved } from './outcome';

export const REPORT_SCHEMA_VERSION = 1;

/** `completed-with-issues`: the mission ran to its end, but some work is unresolved (see `unresolved`). */
export type Outcome = 'completed' | 'completed-with-issues' | 'rejected' | 'cancelled' | 'failed';

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
  /** Written by the model from the facts; never checked against the code, only against the facts (`narrativeFlags`). */
  narrative?: string;
  /** Sentences of the narrative that the facts contradict (empty or absent: none found). */
  narrativeFlags?: NarrativeFlag[];
  reportPath?: string;
  /** Which sandbox the commands ran in; absent for missions from before there was one. */
  sandbox?: SandboxInfo;
  refused?: RefusedActions;
  /** The mission moved to other hosts (status.moves). */
  moves?: HostMove[];
  /** The planner's clarifying questions and their answers (status.clarifications). */
  clarifications?: AnsweredRound[];
  /** Notes people sent the agents while it ran (status.steering). */
  steering?: SteeringNote[];
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
    unresolved: unresolvedOf(status.milestones, status.plan),
    commits: [],
    tokens: status.tokens,
    tokensByRole: status.tokensByRole,
    startedAt: status.startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(status.startedAt),
    ...(status.error ? { error: status.error } : {}),
    ...(status.sandbox ? { sandbox: status.sandbox } : {}),
    ...(status.refused ? { refused: status.refused } : {}),
    ...(status.moves?.length ? { moves: status.moves } : {}),
    ...(status.clarifications?.length ? { clarifications: status.clarifications } : {}),
    ...(status.steering?.length ? { steering: status.steering } : {}),
    ...extra,
  };
}

/** "bwrap, network off", or the loud line of an opted-out worker. */
export function describeSandbox(s: SandboxInfo): string {
  if (s.backend === 'off') return `**OFF** (opted out with MISSION_SANDBOX=off): commands ran with the worker user's full access`;
  return `${s.backend}, network ${s.network ? 'on' : 'off'} for agent commands (dependency installs: on)${s.env.length ? `; extra variables: ${s.env.join(', ')}` : ''}${s.layers?.length ? `; ${s.layers.join('; ')}` : ''}`;
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
  const costs = Object.entries(r.tokensByRole).map(([role, t]) => `${role} ${formatCost(t!)}`).join(' · ');
  const lines = [
    `# Mission report: ${r.plan?.title ?? r.prompt.split('\n')[0]}`,
    '',
    `- **Outcome:** ${r.outcome}${r.unresolved.length ? ` (${r.unresolved.length} unresolved: see below)` : ''}${r.rejection ? ` (${r.rejection.reason ?? 'no reason given'})` : ''}${r.error ? ` — ${r.error.type ?? 'error'}: ${r.error.message}` : ''}`,
    `- **Mission:** \`${r.missionId}\``,
    `- **Branch:** ${r.branch ? `\`${r.branch}\`` : '—'} (base ${short(r.baseCommit)} → final ${short(r.finalCommit)})`,
    `- **Repository:** ${r.repo ?? '—'}`,
    `- **Duration:** ${formatDuration(r.durationMs)} (${r.startedAt} → ${r.finishedAt})`,
    `- **Tokens:** ${n(r.tokens.total)}${roles ? ` (${roles})` : ''}`,
    `- **Cost:** ${formatCost(r.tokens)}${costs ? ` (${costs})` : ''}`,
    ...(r.sandbox ? [`- **Sandbox:** ${describeSandbox(r.sandbox)}`] : []),
    `- **Refused actions:** ${r.refused?.count ?? 0}`,
    ...(r.moves ?? []).map((m) => `- **Moved** from host ${m.from} to ${m.to} at ${m.at}, from ${short(m.fromCommit)} as pushed${m.redone ? `; the unfinished work of ${m.redone} on ${m.from} was lost and redone` : ''}`),
    '',
    '## Goal',
    '',
    r.prompt,
    '',
  ];
  // Facts first: what is left to do, then what happened; the model's narrative only after them.
  lines.push('## Unresolved', '');
  lines.push(...(r.unresolved.length ? r.unresolved.flatMap(unresolvedLines) : ['Nothing unresolved.']), '');
  if (r.refused?.count) {
    lines.push('## Refused actions', '', `Agents attempted ${r.refused.count} action(s) that were refused; the last ${r.refused.last.length}:`, '');
    lines.push(...r.refused.last.map((x) => `- ${x.taskId}: ${x.action.replace(/\s+/g, ' ')}`), '');
  }
  if (r.clarifications?.length) lines.push(...clarificationLines(r.clarifications));
  if (r.steering?.length) {
    lines.push('## Steering notes', '', 'Sent to every agent running then (at its next turn) and every later one:', '');
    lines.push(...r.steering.map((x) => `- ${x.at}${x.by ? ` (${x.by})` : ''}: ${x.note.replace(/\s+/g, ' ')}`), '');
  }
  if (r.milestones.length) lines.push('## Milestones', '');
  for (const m of r.milestones) lines.push(...milestoneSection(m));
  if (r.commits.length) lines.push('## Commits', '', ...r.commits.map((c) => `- ${short(c.sha)} ${c.subject}`), '');
  if (r.narrative) lines.push(...narrativeSection(r.narrative, r.narrativeFlags ?? []));
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
  const skills = m.features.filter((f) => f.skills?.length || f.skillsRead?.length);
  if (skills.length) {
    out.push('Skills:', ...skills.map((f) => `- ${f.id}: assigned ${f.skills?.join(', ') || 'none'}; read ${f.skillsRead?.join(', ') || 'none'}`), '');
  }
  const v = m.validation;
  if (!v) return out;
  out.push(`**Validation:** ${v.status} (commands: ${v.source}; ${v.notes.join('; ')})`, '');
  if (v.criteria.length) out.push('Criteria from the plan:', ...criteriaLines(v.criteria, v.checks), '');
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

/** Each round of the planner's questions: who answered, and which answers were the defaults. */
function clarificationLines(rounds: AnsweredRound[]): string[] {
  const out = ['## Clarifying questions', ''];
  for (const r of rounds) {
    out.push(`Plan revision ${r.forRevision}, round ${r.round}, answered ${r.by.startsWith('defaults') ? `with ${r.by}` : `by ${r.by}`}:`, '');
    out.push(...r.answers.map((a) => `- ${a.id}: ${a.question} — **${a.answer}**${a.byDefault ? ' (default)' : ''}`), '');
  }
  return out;
}

/** One line per unresolved item; a feature's files on a line of their own. */
function unresolvedLines(u: MissionReport['unresolved'][number]): string[] {
  const line = `- ${u.milestoneId} ${u.kind} **${u.name}**: ${u.detail}`;
  return u.files?.length ? [line, `  - files its commit changed: ${u.files.map((f) => `\`${f}\``).join(', ')}`] : [line];
}

function criteriaLines(criteria: string[], checks: CriterionCheck[] | undefined): string[] {
  return criteria.map((c, i) => {
    const check = checks?.[i];
    if (!check) return `- ${c}`;
    return `- ${c} — **${check.verdict}**${check.by === 'none' ? '' : ` (${check.by})`}: ${check.reason}`;
  });
}

/** The model's text, labelled as such, with the sentences the facts contradict flagged above it. */
function narrativeSection(narrative: string, flags: NarrativeFlag[]): string[] {
  const out = ['## Narrative (written by the model, not checked)', ''];
  if (flags.length) {
    out.push('> **Warning: this narrative contradicts the facts above; trust the facts.**');
    for (const f of flags) out.push(`> - ${f.sentence ? `"${cell(f.sentence)}" ` : 'The narrative '}${f.reason}`);
    out.push('');
  }
  return [...out, narrative, ''];
}
