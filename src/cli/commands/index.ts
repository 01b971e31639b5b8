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
import { retry } from './retry';
import { resume } from './resume';
import { replan } from './replan';
import { revise } from './revise';
import { run } from './run';
import { schedule } from './schedule';
import { skip } from './skip';
import { start } from './start';
import { status } from './status';
import { steer } from './steer';
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
  steer,
  replan,
  skip,
  retry,
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
