import { resumeSignal } from '../../api/messages';
import { missionCommand, str, UsageError, type Values } from '../common';
import { decide } from '../decision';

const USAGE = 'mission resume MISSION_ID [--comment TEXT] [--budget.max-tokens N] [--budget.max-minutes N]';

function budgetRaise(v: Values): { maxTokens?: number; maxMinutes?: number } | undefined {
  const number = (flag: string, whole: boolean) => {
    const raw = str(v[flag]);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!(n > 0) || (whole && !Number.isInteger(n))) throw new UsageError(`--${flag} must be a ${whole ? 'whole ' : ''}number above 0, not "${raw}"`);
    return n;
  };
  const raise = { maxTokens: number('budget.max-tokens', true), maxMinutes: number('budget.max-minutes', false) };
  return raise.maxTokens === undefined && raise.maxMinutes === undefined ? undefined : raise;
}

export const resume = missionCommand(
  {
    summary: 'Start new work again after a pause, or raise the budget of a mission paused by it (phase paused-budget)',
    usage: USAGE,
    options: { comment: { type: 'string' }, 'budget.max-tokens': { type: 'string' }, 'budget.max-minutes': { type: 'string' } },
    check: (v) => void budgetRaise(v),
  },
  (c, id, v) => decide(c, id, { signal: 'resume', send: (handle) => handle.signal(resumeSignal, { comment: str(v.comment), budget: budgetRaise(v) }) }),
);
