import { createInterface } from 'node:readline/promises';
import type { Client } from '@temporalio/client';
import type { Plan } from '../api/plan';
import type { PendingQuestions } from '../api/questions';
import { answerQuestions, approvePlan, rejectPlan, revisePlan } from '../client';

/** The plan as a human reads it before approving. */
export function renderPlan(plan: Plan): string {
  const lines = [`Plan: ${plan.title}`, plan.summary && `  ${plan.summary}`];
  for (const m of plan.milestones) {
    lines.push(`  ${m.id}  ${m.title} — ${m.goal}`);
    for (const f of m.features) {
      const deps = f.dependsOn.length ? ` (after ${f.dependsOn.join(', ')})` : '';
      lines.push(`    ${f.id}  ${f.title}${deps}${f.files.length ? `  [${f.files.join(', ')}]` : ''}`);
    }
  }
  if (plan.assumptions.length) lines.push(`  Assumptions: ${plan.assumptions.join('; ')}`);
  if (plan.risks.length) lines.push(`  Risks: ${plan.risks.join('; ')}`);
  return lines.filter(Boolean).join('\n');
}

/** The exact commands that decide the plan, for a run without a terminal (or another shell). */
export function decisionCommands(id: string, address?: string): string {
  const env = address ? `TEMPORAL_ADDRESS=${address} ` : '';
  return [
    `approve with:  ${env}npx mission approve ${id}`,
    `or reject:     ${env}npx mission reject ${id} --reason "..."`,
    `or revise:     ${env}npx mission revise ${id} --feedback "..."`,
  ].join('\n');
}

/**
 * Asks on the terminal: approve, reject or revise (an approval names the plan revision shown: a plan revised meanwhile is not approved unseen). Resolves quietly when `signal` aborts (the plan was decided
 * elsewhere, e.g. in the Web UI or from another shell).
 */
export async function askForApproval(client: Client, id: string, signal: AbortSignal, revision?: number): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const ask = (q: string) => rl.question(q, { signal });
  try {
    for (;;) {
      const answer = (await ask('Approve this plan? [y]es / [n]o (reject) / [r]evise with feedback: ')).trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') return void (await approvePlan(client, id, { approvedBy: process.env.USER ?? 'terminal', revision }));
      if (answer === 'n' || answer === 'no') return void (await rejectPlan(client, id, { reason: (await ask('Reason (optional): ')).trim() || undefined }));
      if (answer === 'r' || answer === 'revise') {
        const feedback = (await ask('What should change? ')).trim();
        if (feedback) return void (await revisePlan(client, id, feedback));
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    rl.close();
  }
}

/** The planner's questions as a person reads them at the terminal. */
export function renderQuestions(pending: PendingQuestions): string {
  const lines = [`The planner asks (round ${pending.round} of at most ${pending.maxRounds}; unanswered questions take their default):`];
  for (const q of pending.questions) lines.push(`  ${q.id}  ${q.question}`, `      why: ${q.why}`, `      default: ${q.default}`);
  return lines.join('\n');
}

/** The exact commands that answer, for a run without a terminal (or another shell). */
export function answerCommands(id: string, round: number, address?: string): string {
  const env = address ? `TEMPORAL_ADDRESS=${address} ` : '';
  return [
    `answer with:   ${env}npx mission answer ${id} --round ${round} --answer q1="..." (or --file answers.md)`,
    `or defaults:   ${env}npx mission answer ${id} --round ${round} --defaults`,
  ].join('\n');
}

/** Asks each question on the terminal (Enter takes its default), then sends the answers. Resolves quietly when `signal` aborts. */
export async function askForAnswers(client: Client, id: string, signal: AbortSignal, pending: PendingQuestions): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const answers: Record<string, string> = {};
    for (const q of pending.questions) {
      const text = (await rl.question(`${q.id}: ${q.question}\n  (${q.why})\n  [${q.default}] > `, { signal })).trim();
      if (text) answers[q.id] = text;
    }
    await answerQuestions(client, id, { answers, useDefaults: true, round: pending.round, answeredBy: process.env.USER ?? 'terminal' });
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    rl.close();
  }
}
