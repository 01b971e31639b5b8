import { moveHostSignal } from '../../api/messages';
import { missionCommand, str } from '../common';
import { decideBySignal } from '../signal-decision';

/**
 * Moves a mission whose repository is a git URL to another host (its host is gone): the mission checks, and refuses
 * a local-path repository with the reason, which this command prints (exit code 1).
 */
export const move = missionCommand(
  {
    summary: 'Move a mission whose repo is a git URL to another host (its host is gone): it goes on from its branch as pushed at the last milestone',
    usage: 'mission move MISSION_ID [--to HOST_ID] [--reason TEXT]',
    options: { to: { type: 'string' }, reason: { type: 'string' } },
  },
  (c, id, v) =>
    decideBySignal(c, id, {
      signal: 'moveHost',
      unfit: (status) => (status.host ? undefined : 'the mission is not bound to a host (it started before host affinity, or has no host yet)'),
      send: (handle) => handle.signal(moveHostSignal, { to: str(v.to), reason: str(v.reason) }),
    }),
);
