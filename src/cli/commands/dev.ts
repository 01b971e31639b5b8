import { DEFAULT_PORT, DEFAULT_UI_PORT, runDev } from '../../dev';
import { parse, type Command } from '../common';
import { serverOptions, SERVER_OPTIONS } from '../request';

export const dev: Command = {
  summary: 'Run a local Temporal dev server (persistent, with the Web UI) and a worker in one process',
  usage: `mission dev [--port ${DEFAULT_PORT}] [--ui-port ${DEFAULT_UI_PORT}] [--db FILE] [--json]`,
  run: async (args, ctx) => {
    const { values } = parse(args, SERVER_OPTIONS);
    await runDev(serverOptions(values), process.env, ctx.json);
    return 0;
  },
};
