import { ApplicationFailure } from '@temporalio/common';
import { parseVerdicts } from '../api/criteria';
import type { CommandRun, CriterionCheck, FeatureStatus, TokenUsage } from '../api/status';
import type { PriceTable } from '../api/prices';
import { ZERO_TOKENS } from '../api/status';
import { Git } from './gitcore';
import type { ModelClient } from './model';
import type { MissionPaths } from './paths';
import { loadSession, newSession, saveSession } from './session';

export interface CheckCriteriaInput {
  missionKey: string;
  milestone: { id: string; title: string; goal: string };
  /** The criteria no validation command settles. */
  criteria: string[];
  worktree: string;
  /** The milestone's work is the worktree's difference from this commit. */
  startCommit: string;
  features: Pick<FeatureStatus, 'id' | 'title' | 'state' | 'summary'>[];
  results: Pick<CommandRun, 'name' | 'command' | 'exitCode' | 'timedOut' | 'skipped' | 'outputTail'>[];
  model?: string;
  /** The input's `models.prices`, over the worker's table. */
  prices?: PriceTable;
}

export interface CheckCriteriaResult {
  checks: CriterionCheck[];
  tokens: TokenUsage;
}

const VALIDATOR_SYSTEM = `You are the validator of a coding mission. You judge whether each criterion of a milestone holds, from the
evidence given: the milestone's diff, the validation commands' results and the agents' own summaries (claims, not evidence).
Answer with JSON only: {"criteria":[{"index":1,"verdict":"met","reason":"..."}]}, one entry per criterion, verdict one of
"met" (the diff or a command result shows it), "not met" (the evidence shows it does not hold, or the work is missing),
"unknown" (you cannot tell from what is shown). The reason is one short sentence naming the evidence.`;

const DIFF_LIMIT = 24_000;

/**
 * One model call per milestone (`Role: validator <milestoneId>`), recorded in a session file so a retried
 * activity never pays twice. A reply that cannot be read leaves the criteria `not-checked`; so does a
 * model error that retrying cannot fix (a context too long, say): the mission goes on, the report says so.
 */
export function createCriteriaActivities(deps: { model: ModelClient; paths: MissionPaths }) {
  async function checkCriteria(input: CheckCriteriaInput): Promise<CheckCriteriaResult> {
    const file = deps.paths.sessionFile(input.missionKey, `validator-${input.milestone.id}`);
    const recorded = (await loadSession<CheckCriteriaResult>(file))?.turns['1'];
    if (recorded) return recorded;
    const session = newSession<CheckCriteriaResult>([
      { role: 'system', content: VALIDATOR_SYSTEM },
      { role: 'user', content: await brief(input) },
    ]);
    let result: CheckCriteriaResult;
    try {
      const reply = await deps.model.complete({ model: input.model, messages: session.messages }, input.prices);
      result = { checks: parseVerdicts(reply.message.content ?? '', input.criteria), tokens: reply.tokens };
    } catch (err) {
      if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
      const reason = `the validator could not be asked: ${err.message}`.slice(0, 300);
      result = { checks: input.criteria.map((criterion) => ({ criterion, verdict: 'not-checked', by: 'none', reason })), tokens: ZERO_TOKENS };
    }
    session.turns['1'] = result;
    await saveSession(file, session);
    return result;
  }

  return { checkCriteria };
}

async function brief(input: CheckCriteriaInput): Promise<string> {
  const git = new Git(input.worktree);
  const stat = await git.run(['diff', '--stat', input.startCommit]).catch(() => '(no diff available)');
  const diff = await git.run(['diff', input.startCommit]).catch(() => '');
  const cut = diff.length > DIFF_LIMIT ? `${diff.slice(0, DIFF_LIMIT)}\n[diff cut at ${DIFF_LIMIT} characters]` : diff;
  const results = input.results.map((r) => {
    const how = r.skipped ? `skipped (${r.skipped})` : r.timedOut ? 'timed out' : `exit ${r.exitCode}`;
    return `- ${r.name} (\`${r.command}\`): ${how}${r.outputTail ? `\n  output tail: ${r.outputTail.slice(-400).replace(/\n/g, '\n  ')}` : ''}`;
  });
  return [
    `Role: validator ${input.milestone.id}`,
    '',
    `Milestone ${input.milestone.id}: ${input.milestone.title}`,
    input.milestone.goal,
    '',
    'Criteria:',
    ...input.criteria.map((c, i) => `${i + 1}. ${c}`),
    '',
    'Features (state and the agent\'s own summary):',
    ...input.features.map((f) => `- ${f.id} "${f.title}": ${f.state}${f.summary ? ` — ${f.summary.slice(0, 300)}` : ''}`),
    '',
    'Validation commands (last run):',
    ...(results.length ? results : ['- none ran']),
    '',
    `Diff of the milestone (from ${input.startCommit.slice(0, 8)}):`,
    stat || '(no changes)',
    '',
    cut,
  ].join('\n');
}
