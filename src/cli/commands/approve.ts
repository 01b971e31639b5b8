import { approvePlanSignal, approvePlanUpdate } from '../../api/messages';
import { missionCommand, str, UsageError } from '../common';
import { decide } from '../decision';

const APPROVE_USAGE = 'mission approve MISSION_ID [--revision N] [--comment TEXT] [--by NAME] [--node mission:approve-plan]';

export const approve = missionCommand(
  {
    summary: 'Approve the plan',
    usage: APPROVE_USAGE,
    options: { comment: { type: 'string' }, by: { type: 'string' }, revision: { type: 'string' }, node: { type: 'string' } },
    // `--node mission:approve-plan` names the one approval node a mission has (a convention from graph-style runners).
    check: (v) => {
      revisionOf(v.revision);
      if (v.node !== undefined && v.node !== 'mission:approve-plan') throw new UsageError(`--node must be mission:approve-plan (the plan approval gate), not "${String(v.node)}"`);
    },
  },
  (c, id, v) =>
    decide(c, id, {
      name: 'approvePlan',
      update: approvePlanUpdate,
      signal: approvePlanSignal,
      payload: { comment: str(v.comment), approvedBy: str(v.by), revision: revisionOf(v.revision) },
    }),
);

/** `--revision N`: the plan revision read ("mission status" shows it); the mission refuses it once the plan was revised. */
function revisionOf(raw: string | boolean | undefined): number | undefined {
  const text = str(raw);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--revision must be a plan revision number (1, 2, ...), not "${text}"`);
  return n;
}
