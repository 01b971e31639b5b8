import { resumeSignal, resumeUpdate } from '../../api/messages';
import { missionCommand, str, UsageError, type Values } from '../common';
import { decide } from '../decision';

const USAGE = 'mission resume MISSION_ID [--comment TEXT] [--budget.max-tokens N] [--budget.max-minutes N] [--budget.max-cost-usd N]';

function budgetRaise(v: Values): { maxTokens?: number; maxMinutes?: number; maxCostUsd?: number } | undefined {
  const number = (flag: string, whole: boolean) => {
    const raw = str(v[flag]);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!(n > 0) || (whole && !Number.isInteger(n))) throw new UsageError(`--${flag} must be a ${whole ? 'whole ' : ''}number above 0, not "${raw}"`);
    return n;
  };
  const raise = { maxTokens: number('budget.max-tokens', true), maxMinutes: number('budget.max-minutes', false), maxCostUsd: number('budget.max-cost-usd', false) };
  return Object.values(raise).every((x) => x === undefined) ? undefined : raise;
}

export const resume = missionCommand(
  {
    summary: 'Start new work again after a pause, raise the budget of a mission paused by it (phase paused-budget), or retry after a rate-limit storm at the provider (phase paused-quota)',
    usage: USAGE,
    options: { comment: { type: 'string' }, 'budget.max-tokens': { type: 'string' }, 'budget.max-minutes': { type: 'string' }, 'budget.max-cost-usd': { type: 'string' } },
    check: (v) => void budgetRaise(v),
  },
  (c, id, v) => decide(c, id, { name: 'resume', update: resumeUpdate, signal: resumeSignal, payload: { comment: str(v.comment), budget: budgetRaise(v) } }),
);
