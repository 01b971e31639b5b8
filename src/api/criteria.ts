import { z } from 'zod';
import type { CommandRun, CriterionCheck } from './status';

/** Words that make a criterion a claim that something runs cleanly ("npm test passes", "the build succeeds"). */
const PASSES = /\b(pass|passes|passing|passed|succeed|succeeds|successful(ly)?|green|exits? (with )?(code )?0|runs? (clean|cleanly|without errors?))\b/i;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The validation command a criterion names, if any: its command line or its name (as whole words), in a
 * criterion that says it must pass. "npm test passes" maps to the `npm test` command; "a test for mul
 * exists" maps to nothing, though a command is named `test`: only a criterion about a command passing is
 * settled by its exit code. Anything else goes to the validator.
 */
export function commandForCriterion(criterion: string, commands: Pick<CommandRun, 'name' | 'command'>[]): string | undefined {
  if (!PASSES.test(criterion)) return undefined;
  const mentions = (text: string) => text.trim().length >= 2 && new RegExp(`(^|[^\\w-])${escape(text.trim())}($|[^\\w-])`, 'i').test(criterion);
  // The longest match wins: "npm run test:e2e" over "npm run test".
  const named = commands.filter((c) => mentions(c.command) || mentions(c.name)).sort((a, b) => b.command.length - a.command.length);
  return named[0]?.name;
}

/**
 * Checks each criterion by the command it names, from the last run's results; the criteria no command
 * settles are left undefined (for the validator). A skipped command settles nothing.
 */
export function checkByCommands(criteria: string[], results: CommandRun[]): (CriterionCheck | undefined)[] {
  const ran = results.filter((r) => !r.skipped);
  return criteria.map((criterion) => {
    const name = commandForCriterion(criterion, ran);
    const run = name === undefined ? undefined : ran.find((r) => r.name === name);
    if (!run) return undefined;
    const passed = !run.timedOut && run.exitCode === 0;
    const how = run.timedOut ? 'timed out' : `exited ${run.exitCode}`;
    return { criterion, verdict: passed ? 'met' : 'not-met', by: 'command', reason: `\`${run.command}\` ${how}` };
  });
}

/** The validator's structured answer: one verdict per criterion, by its number in the list it was given. */
export const ValidatorVerdicts = z.object({
  criteria: z.array(
    z.object({
      index: z.number().int().min(1),
      verdict: z.enum(['met', 'not met', 'not-met', 'unknown']),
      reason: z.string(),
    }),
  ),
});
export type ValidatorVerdicts = z.infer<typeof ValidatorVerdicts>;

/**
 * The validator's reply (JSON, possibly in a code fence or with prose around it) as one check per
 * criterion. A reply that cannot be read, or that skips a criterion, leaves it `not-checked`, with why.
 */
export function parseVerdicts(content: string, criteria: string[]): CriterionCheck[] {
  const fallback = (reason: string): CriterionCheck[] => criteria.map((criterion) => ({ criterion, verdict: 'not-checked', by: 'none', reason }));
  const json = firstJsonObject(content);
  if (json === undefined) return fallback('the validator did not answer with JSON');
  const parsed = ValidatorVerdicts.safeParse(json);
  if (!parsed.success) return fallback('the validator\'s answer did not have the expected shape');
  return criteria.map((criterion, i) => {
    const found = parsed.data.criteria.find((c) => c.index === i + 1);
    if (!found) return { criterion, verdict: 'not-checked', by: 'none', reason: 'the validator gave no verdict for it' };
    const verdict = found.verdict === 'unknown' ? 'unknown' : found.verdict === 'met' ? 'met' : 'not-met';
    return { criterion, verdict, by: 'validator', reason: found.reason.trim().slice(0, 300) || 'no reason given' };
  });
}

/** The JSON object in a reply: models often wrap it in a code fence or a sentence. */
function firstJsonObject(content: string): unknown {
  const text = content.replace(/```(?:json)?/gi, '');
  const [from, to] = [text.indexOf('{'), text.lastIndexOf('}')];
  if (from < 0 || to <= from) return undefined;
  try {
    return JSON.parse(text.slice(from, to + 1));
  } catch {
    return undefined;
  }
}
