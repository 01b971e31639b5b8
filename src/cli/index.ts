import { WorkflowNotFoundError } from '@temporalio/client';
import { MissionInputError } from '../api/input';
import { makeContext, UsageError } from './common';
import { COMMANDS } from './commands';

export { COMMANDS } from './commands';

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: mission <command> [options] [--json]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    '"mission <command> --help" shows its options. --json prints JSON for scripts.',
    'Exit codes: 0 done, 1 failed (or the mission did not complete), 2 wrong usage, 3 completed with issues (run, watch: unresolved work in the report).',
  ].join('\n');
}

/** Splits off the global `--json` flag (before a `--` terminator). */
function takeJson(args: string[]): { json: boolean; rest: string[] } {
  const end = args.indexOf('--');
  const head = end === -1 ? args : args.slice(0, end);
  const tail = end === -1 ? [] : args.slice(end);
  return { json: head.includes('--json'), rest: [...head.filter((a) => a !== '--json'), ...tail] };
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? console.log : console.error)(help());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`mission: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log([command.summary, `usage: ${command.usage}`, command.help?.()].filter(Boolean).join('\n'));
    return 0;
  }
  const { json, rest } = takeJson(args);
  const ctx = makeContext(json);
  try {
    return await command.run(rest, ctx);
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof MissionInputError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const message =
      err instanceof WorkflowNotFoundError
        ? `no mission "${err.workflowId}" on this Temporal server and namespace; "mission list" shows the missions`
        : (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? `${(err as Error).message}\nusage: ${command.usage}`
          : (err as Error).message;
    if (json) console.error(JSON.stringify({ error: message, usage: Boolean(usage) }));
    else console.error(`mission ${name}: ${message}`);
    return usage ? 2 : 1;
  }
}
