import { approvePlan } from '../../client';
import { missionCommand, str, UsageError } from '../common';
import { atApprovalGate, decide } from '../decision';

const APPROVE_USAGE = 'mission approve MISSION_ID [--comment TEXT] [--by NAME] [--node mission:approve-plan]';

export const approve = missionCommand(
  {
    summary: 'Approve the plan',
    usage: APPROVE_USAGE,
    options: { comment: { type: 'string' }, by: { type: 'string' }, node: { type: 'string' } },
    // `--node mission:approve-plan` names the one approval node a mission has (a convention from graph-style runners).
    check: (v) => {
      if (v.node !== undefined && v.node !== 'mission:approve-plan') throw new UsageError(`--node must be mission:approve-plan (the plan approval gate), not "${String(v.node)}"`);
    },
  },
  (c, id, v) => decide(c, id, { signal: 'approvePlan', unfit: atApprovalGate, send: () => approvePlan(c, id, { comment: str(v.comment), approvedBy: str(v.by) }) }),
);
