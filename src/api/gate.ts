import type { NewSkill, Plan } from './plan';
import type { PendingQuestions } from './questions';
import type { MissionStatus } from './status';

/** The plan in Markdown, as the Web UI's current details and `mission status` show it at the approval gate. */
export function planMarkdown(plan: Plan, revision: number): string {
  const lines = [`## Plan (revision ${revision}): ${plan.title}`, ''];
  if (plan.summary) lines.push(plan.summary, '');
  for (const m of plan.milestones) {
    lines.push(`### ${m.id}: ${m.title}`, '', m.goal, '');
    for (const f of m.features) {
      const deps = f.dependsOn.length ? ` (after ${f.dependsOn.join(', ')})` : '';
      const files = f.files.length ? ` — ${f.files.map((x) => `\`${x}\``).join(', ')}` : '';
      const skills = f.skills?.length ? ` — skills: ${f.skills.join(', ')}` : '';
      lines.push(`- **${f.id}** ${f.title}${deps}${files}${skills}`);
    }
    lines.push('');
  }
  if (plan.assumptions.length) lines.push('**Assumptions:**', ...plan.assumptions.map((a) => `- ${a}`), '');
  if (plan.risks.length) lines.push('**Risks:**', ...plan.risks.map((r) => `- ${r}`), '');
  if (plan.newSkills?.length) lines.push(...newSkillsMarkdown(plan.newSkills), '');
  return lines.join('\n').trimEnd();
}

/** Of a new skill's content, the gate shows this much (the rest is in `mission status --json`). */
const SHOWN_SKILL_CHARS = 1500;

/** Skills the planner wrote: approved with the plan, so shown with it. */
function newSkillsMarkdown(skills: NewSkill[]): string[] {
  const lines = ['**New skills for this mission** (kept with the mission; committed under .agents/skills/ only when the input sets skills.commit):', ''];
  for (const skill of skills) {
    const cut = skill.content.length > SHOWN_SKILL_CHARS;
    const shown = cut ? `${skill.content.slice(0, SHOWN_SKILL_CHARS)}\n…(${skill.content.length - SHOWN_SKILL_CHARS} more characters)` : skill.content;
    // A fence longer than any run of backticks in the content, so the content cannot close it.
    const fence = '`'.repeat(Math.max(3, ...[...skill.content.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    lines.push(`- **${skill.name}**: ${skill.description}`, '', `${fence}markdown`, shown, fence, '');
  }
  return lines;
}

/**
 * The exact commands that decide this revision of the plan: the mission CLI, and the Temporal CLI's update
 * (answers whether it was taken) or signal (the Web UI's "Send a signal" takes the same name and input).
 */
export function decisionCommandsMarkdown(missionId: string, revision: number): string {
  const input = JSON.stringify({ revision });
  return [
    '## Decide',
    '',
    '```sh',
    `mission approve ${missionId} --revision ${revision}`,
    `mission reject ${missionId} --reason "..."`,
    `mission revise ${missionId} --feedback "..."`,
    `temporal workflow update execute --workflow-id ${missionId} --name approvePlan --input '${input}'`,
    `temporal workflow signal --workflow-id ${missionId} --name approvePlan --input '${input}'`,
    '```',
  ].join('\n');
}

/** What the approval gate shows, or undefined when the mission is not waiting there. */
export function approvalGate(status: Pick<MissionStatus, 'missionId' | 'phase' | 'plan' | 'planRevision'>): string | undefined {
  if (status.phase !== 'awaiting-approval' || !status.plan) return undefined;
  return `${planMarkdown(status.plan, status.planRevision)}\n\n${decisionCommandsMarkdown(status.missionId, status.planRevision)}`;
}

/**
 * The planner's questions in Markdown, then the answers as a file the person edits (`- q1: answer` lines, the defaults
 * filled in) and the exact commands that send them: what the current details and `mission status` show while the
 * mission is `awaiting-answers`.
 */
export function questionsMarkdown(missionId: string, pending: PendingQuestions): string {
  const { round, maxRounds, questions } = pending;
  const lines = [`## Questions from the planner (round ${round} of at most ${maxRounds})`, ''];
  for (const q of questions) lines.push(`### ${q.id}: ${q.question}`, '', `Why: ${q.why}`, '', `Default: ${q.default}`, '');
  const first = questions[0]?.id ?? 'q1';
  const answers = JSON.stringify({ round, answers: { [first]: '...' } });
  lines.push(
    '## Answer',
    '',
    'Unanswered questions take their default. In a file (answers.md), one line per question:',
    '',
    // Continuation lines indented: parseAnswersMarkdown reads them as part of the answer.
    ...questions.map((q) => `- ${q.id}: ${q.default.replace(/\n/g, '\n  ')}`),
    '',
    '```sh',
    `mission answer ${missionId} --round ${round} --file answers.md`,
    `mission answer ${missionId} --round ${round} --answer ${first}="..."`,
    `mission answer ${missionId} --round ${round} --defaults`,
    `mission reject ${missionId} --reason "..."   # stop here: nothing was planned or changed`,
    `temporal workflow update execute --workflow-id ${missionId} --name answerQuestions --input '${answers}'`,
    `temporal workflow signal --workflow-id ${missionId} --name answerQuestions --input '${JSON.stringify({ round, useDefaults: true })}'`,
    '```',
  );
  return lines.join('\n');
}

/** What the mission waits on a person for, in Markdown: the plan to decide or the questions to answer; undefined otherwise. */
export function decisionGate(status: Pick<MissionStatus, 'missionId' | 'phase' | 'plan' | 'planRevision' | 'questions'>): string | undefined {
  if (status.phase === 'awaiting-answers' && status.questions) return questionsMarkdown(status.missionId, status.questions);
  return approvalGate(status);
}
