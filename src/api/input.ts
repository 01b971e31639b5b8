import { z } from 'zod';
import { describeIssues } from './issues';
import { missionFailure } from './errors';
import { PriceTable } from './prices';
import { isRepoUrl, repoUrlProblem } from './repo-url';

const int = (min: number, max: number) =>
  z.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const isAbsolutePath = (p: string) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p);

export const ValidationCommand = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty'),
  run: z.string().trim().min(1, 'must not be empty'),
  timeoutSec: int(1, 86_400).optional(),
});
export type ValidationCommand = z.infer<typeof ValidationCommand>;

export const ValidationSettings = z.strictObject({
  commands: z.array(ValidationCommand).optional().describe('JSON array of {"name","run","timeoutSec"}; default: .mission/config.json, else discovered'),
  browser: z.string().trim().min(1, 'must not be empty').optional().describe('a browser walkthrough to run after the checks'),
});
export type ValidationSettings = z.infer<typeof ValidationSettings>;

export const Models = z.strictObject({
  planner: z.string().trim().min(1).optional().describe('model that plans (default MISSION_MODEL)'),
  worker: z.string().trim().min(1).optional().describe('model of the feature agents'),
  validator: z.string().trim().min(1).optional().describe('model of the repair and report steps'),
  contextWindow: z
    .record(z.string().trim().min(1), int(256, 100_000_000))
    .optional()
    .describe('context window in tokens by model name, e.g. {"qwen2.5-coder:1.5b": 4096}; default: known models, else 8192'),
  prices: PriceTable.optional()
    .describe('USD per million tokens by model name, over the worker\'s table, e.g. {"my-model": {"input": 0.5, "cachedInput": 0.1, "output": 1.5}}'),
});
export type Models = z.infer<typeof Models>;

export const Budget = z.strictObject({
  maxTurnsPerFeature: int(1, 1000).default(40).describe('model turns one agent may take'),
  maxTokens: int(1, Number.MAX_SAFE_INTEGER).optional().describe('mission-wide token limit (pauses the mission when reached)'),
  maxMinutes: z.number().positive('must be greater than 0').optional().describe('mission-wide time limit in minutes (pauses the mission when reached)'),
  maxCostUsd: z.number({ error: 'must be a number' }).positive('must be greater than 0').optional()
    .describe('mission-wide cost limit in USD from the price table (pauses the mission when reached)'),
});
export type Budget = z.infer<typeof Budget>;

export const SandboxSettings = z.strictObject({
  network: z.boolean({ error: 'must be true or false' }).default(false)
    .describe('let agent commands and validation commands use the network (dependency installs always may); never more than the worker allows'),
});
export type SandboxSettings = z.infer<typeof SandboxSettings>;

export const SkillSettings = z.strictObject({
  commit: z.boolean({ error: 'must be true or false' }).default(false)
    .describe('commit the skills the planner wrote to the mission branch (.agents/skills/<name>/SKILL.md); default: kept with the mission only'),
});
export type SkillSettings = z.infer<typeof SkillSettings>;

/** The `mission` workflow's one argument. Strict: an unknown field is an error, never ignored. */
export const MissionInput = z.strictObject({
  prompt: z.string().trim().min(1, 'must not be empty: say what the mission should build').default('Describe the mission goal.')
    .describe('the goal, in plain words'),
  repo: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .superRefine((repo, ctx) => {
      const problem = isRepoUrl(repo) || /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) ? repoUrlProblem(repo) : isAbsolutePath(repo) ? undefined : 'must be an absolute path on the worker host (e.g. /home/me/project) or a git URL (https, ssh, git, file)';
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe('absolute path of the git repository on the worker host (mission run: the current directory), or a git URL the host clones and pushes the mission branch to'),
  requirePlanApproval: z.boolean({ error: 'must be true or false' }).default(true).describe('wait for a human to approve the plan'),
  maxMilestones: int(1, 20).default(6).describe('most milestones the plan may have'),
  maxFeaturesPerMilestone: int(1, 20).default(6).describe('most features per milestone'),
  maxConcurrency: int(1, 16).default(3).describe('feature agents running at once'),
  stallAfterSeconds: z.number({ error: 'must be a number of seconds' }).positive('must be greater than 0').default(600)
    .describe('an agent with no new turn for this long shows as stalled (status, MissionStalled, current details)'),
  useWorktrees: z.boolean({ error: 'must be true or false' }).default(false).describe('one git worktree and branch per feature (parallel features)'),
  baseBranch: z.string().trim().min(1, 'must not be empty').default('main').describe('branch the mission starts from'),
  models: Models.prefault({}),
  validation: ValidationSettings.prefault({}),
  budget: Budget.prefault({}),
  sandbox: SandboxSettings.prefault({}),
  skills: SkillSettings.prefault({}),
});
/** The input after defaults were applied. */
export type MissionInput = z.infer<typeof MissionInput>;
/** What a caller may pass (every field optional). */
export type MissionRequest = z.input<typeof MissionInput>;

/** Raised by the client and CLI before anything starts; `errors` has one line per wrong field. */
export class MissionInputError extends Error {
  constructor(readonly errors: string[]) {
    super(`Invalid mission input: ${errors.join('; ')}`);
  }
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export function parseMissionInput(raw: unknown): ParseResult<MissionInput> {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, errors: ['(input): must be a JSON object such as {"prompt": "...", "repo": "/path/to/repo"}'] };
  }
  const result = MissionInput.safeParse(raw);
  return result.success ? { ok: true, value: result.data } : { ok: false, errors: describeIssues(result.error, MissionInput) };
}

/** Parses or throws the non-retryable INVALID_INPUT failure that names every wrong field. */
export function parseMissionInputOrFail(raw: unknown): MissionInput {
  const result = parseMissionInput(raw);
  if (result.ok) return result.value;
  throw missionFailure(
    'INVALID_INPUT',
    `Invalid mission input: ${result.errors.join('; ')}. Fix the input and start the mission again.`,
    { details: { errors: result.errors } },
  );
}
