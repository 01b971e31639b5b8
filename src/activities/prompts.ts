import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { FeatureInput } from '../api/agent';
import { MAX_NEW_SKILLS, MAX_NEW_SKILL_CHARS, type PlanLimits } from '../api/plan';
import { MAX_QUESTIONS } from '../api/questions';
import { contextSection, type RepoContext } from './context';
import { skillLines, type SkillInfo } from './skills';

const PLANNER_SYSTEM = `You are the planner of Mission, which runs long coding work as serial milestones of features.
Each feature is done by one focused coding agent with file and shell tools in its own copy of the repository.
Rules:
- Milestones run one after another; each must leave the repository working and checkable.
- Features of a milestone may run in parallel. List in "files" the paths each feature will touch; features
  that share files or depend on each other ("dependsOn", ids of features of the same or earlier milestones)
  never run at the same time.
- Ids: letters, digits, "-" or "_" (e.g. "m1", "m1-f2"), unique across the plan.
- "validation": what must be true when the milestone is done, checkable by tests, builds or a walkthrough.
- Keep features small and concrete; state assumptions and risks honestly.
Answer with the JSON plan only.`;

/** The planner may ask instead of planning: round `round` of `maxRounds`. */
export interface QuestionRound {
  round: number;
  maxRounds: number;
}

/** How to ask, said with every turn that may ask (the reply's shape differs from a bare plan). */
export function questionsNote({ round, maxRounds }: QuestionRound): string {
  return [
    `Questions: if something you cannot learn from the goal or the repository would change the plan materially (scope, technology, behaviour the person must choose), you may ask up to ${MAX_QUESTIONS} clarifying questions instead of planning (round ${round} of at most ${maxRounds}):`,
    '{"questions": [{"id": "q1", "question": "...", "why": "what in the plan depends on the answer", "default": "the answer you assume if the person gives none"}], "plan": null}',
    'Otherwise (most of the time) plan at once: {"questions": [], "plan": {...the plan...}}. Do not ask what you can decide yourself.',
  ].join('\n');
}

export function planMessages(prompt: string, limits: PlanLimits, context: RepoContext, questions?: QuestionRound): ChatCompletionMessageParam[] {
  const files = context.files.length
    ? `Files at ${context.baseBranch} (${context.fileCount} in all${context.fileCount > context.files.length ? `, first ${context.files.length} shown` : ''}):\n${context.files.join('\n')}`
    : 'The repository has no files yet.';
  const user = [
    'Role: plan',
    '',
    `Goal:\n${prompt}`,
    '',
    `Limits: at most ${limits.maxMilestones} milestones and at most ${limits.maxFeaturesPerMilestone} features per milestone.`,
    `Repository: ${context.repoName}, base branch ${context.baseBranch}.`,
    files,
    contextSection(context, context.skills, PLANNER_SKILLS),
    context.skills.length ? '' : 'The repository has no skills.',
    NEW_SKILLS,
    questions ? `\n${questionsNote(questions)}` : '',
  ];
  return [
    { role: 'system', content: PLANNER_SYSTEM },
    { role: 'user', content: user.filter(Boolean).join('\n') },
  ];
}

const PLANNER_SKILLS = 'Skills of the repository (instructions for kinds of work; an agent reads the ones it needs with its read_skill tool). In each feature\'s "skills", name those its agent should read before it starts ([] when none applies):';
const NEW_SKILLS = `Only when the work needs instructions no listed skill gives, add skills for this mission in "newSkills" (else []): at most ${MAX_NEW_SKILLS}, each {name (lowercase letters, digits and "-"), description (one sentence: when to use it), content (Markdown, at most ${MAX_NEW_SKILL_CHARS} characters)}; features may name them. They are shown with the plan for approval.`;

export function planFixMessage(errors: string[]): string {
  return `The plan breaks these rules:\n${errors.map((e) => `- ${e}`).join('\n')}\nReturn the whole corrected plan.`;
}

export function planRevisionMessage(feedback: string): string {
  return `The reviewer asked for changes before approving the plan:\n${feedback}\nReturn the whole revised plan.`;
}

export function replanMessage(feedback: string, keep: string[]): string {
  const kept = keep.length
    ? `Milestones ${keep.join(', ')} are done or under way: keep them exactly as they are (same ids, titles, goals, validation and features), first and in this order.`
    : 'No milestone has started yet.';
  return [
    'The mission is under way and a person asked to re-plan the milestones not started yet:',
    feedback,
    kept,
    'Re-plan only the milestones after them (new feature ids must not reuse any id of the plan) and return the whole plan.',
  ].join('\n');
}

const AGENT_SYSTEM = `You are a focused coding agent working inside one git working tree.
Use the tools to read, change and check code. Paths are relative to the working tree; you cannot leave it.
Do not run git commit, git checkout, git merge or git reset: Mission commits and merges your work.
Keep to your task; other agents work on other tasks at the same time.
When the task is done, or you cannot continue, call finish with a short factual summary and status "done" or "blocked".`;

const list = (title: string, items: string[]) => (items.length ? `${title}:\n${items.map((i) => `- ${i}`).join('\n')}` : '');

/** The opening messages of an agent; the first user line names its role (`Role: feature m1-f2`). */
export function agentMessages(input: FeatureInput, context: RepoContext, skills: readonly SkillInfo[] = context.skills): ChatCompletionMessageParam[] {
  const { task } = input;
  const assigned = task.role === 'feature' ? (task.feature.skills ?? []) : [];
  const others = skills.filter((s) => !assigned.includes(s.name));
  const milestone = `Milestone ${task.milestone.id}: ${task.milestone.title}\n${task.milestone.goal}`;
  let body: string[];
  if (task.role === 'feature') {
    const f = task.feature;
    body = [
      `Role: feature ${f.id}`,
      '',
      `Mission goal:\n${input.prompt}`,
      '',
      milestone,
      '',
      `Your task (${f.id}): ${f.title}\n${f.description}`,
      list('Acceptance criteria', f.acceptanceCriteria),
      list('Files you are expected to touch', f.files),
      assigned.length ? `Skills assigned to this task: read each with read_skill before you start:\n${skillLines(assigned.map((name) => skills.find((s) => s.name === name) ?? { name, description: '', path: '' })).join('\n')}` : '',
      ...(task.retry ? ['', retryBrief(task.retry)] : []),
    ];
  } else if (task.role === 'integration') {
    body = [
      'Role: integration',
      '',
      `Merging branch ${task.branch} (feature ${task.incoming.id}) into the mission branch stopped on conflicts.`,
      list('Conflicted files (they contain <<<<<<< ======= >>>>>>> markers)', task.conflictFiles),
      '',
      `Incoming feature ${task.incoming.id}: ${task.incoming.title}\n${task.incoming.description}`,
      list('Already merged features', task.merged.map((m) => `${m.id}: ${m.title}: ${m.description}`)),
      '',
      'Edit each conflicted file so that it keeps the intent of both sides and contains no conflict markers.',
      'Do not commit: Mission concludes the merge when you finish. If the two cannot be reconciled, finish with status "blocked".',
      milestone,
    ];
  } else {
    body = [
      `Role: repair ${task.milestone.id}`,
      '',
      `Mission goal:\n${input.prompt}`,
      '',
      milestone,
      list('What must be true when this milestone is done', task.criteria),
      '',
      'These validation commands failed after the milestone\'s work was merged. Find the cause and fix the code (not the checks):',
      ...task.failures.map((f) => `### ${f.name}: \`${f.command}\` ${f.timedOut ? 'timed out' : `exited with ${f.exitCode}`}\n${f.outputTail.slice(-4000)}`),
      'Run the commands yourself to confirm the fix, then finish.',
    ];
  }
  return [
    { role: 'system', content: AGENT_SYSTEM },
    { role: 'user', content: [...body, contextSection(context, others, assigned.length ? AGENT_OTHER_SKILLS : AGENT_SKILLS)].filter(Boolean).join('\n') },
  ];
}

const AGENT_SKILLS = 'Skills (instructions for kinds of work): when one applies to your task, read it with read_skill before you act on it.';
const AGENT_OTHER_SKILLS = 'Other skills you may read with read_skill when they apply:';

function retryBrief(retry: { attempt: number; previous: { state: string; summary: string } }): string {
  return [
    `This is attempt ${retry.attempt} at this task: a person asked for it to be done again.`,
    `The previous attempt ended ${retry.previous.state}: ${retry.previous.summary}`,
    'Its work, if it left any, is already in your working tree: check what is there, then finish the task.',
  ].join('\n');
}

/** A person's steering note, marked as such, as the agent reads it before its next turn. */
export function steeringMessage(note: { at: string; note: string; by?: string }): string {
  return [
    `Steering note from a person${note.by ? ` (${note.by})` : ''} running this mission, sent ${note.at}:`,
    note.note,
    '',
    'Follow it from now on; where it conflicts with your task description, the note wins. Then continue your task.',
  ].join('\n');
}

export const NUDGE = 'Continue with the tools. When the task is done, call finish with a summary.';
