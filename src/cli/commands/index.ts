import type { Command } from '../common';
import { answer } from './answer';
import { approve } from './approve';
import { cancel } from './cancel';
import { dev } from './dev';
import { list } from './list';
import { move } from './move';
import { pause } from './pause';
import { reject } from './reject';
import { report } from './report';
import { result } from './result';
import { resume } from './resume';
import { revise } from './revise';
import { run } from './run';
import { schedule } from './schedule';
import { start } from './start';
import { status } from './status';
import { watch } from './watch';
import { worker } from './worker';

/** The command table: one handler module per command, in the order `mission --help` lists them. */
export const COMMANDS: Record<string, Command> = {
  run,
  start,
  approve,
  reject,
  revise,
  answer,
  pause,
  resume,
  cancel,
  move,
  status,
  watch,
  list,
  report,
  result,
  schedule,
  worker,
  dev,
};
