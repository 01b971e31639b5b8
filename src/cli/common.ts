import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { connectClient } from '../client';

/** A wrong invocation: the CLI prints it with the usage and exits 2, before connecting to anything. */
export class UsageError extends Error {}

/** What every command gets besides its arguments. */
export interface Context {
  /** `--json`: print machine-readable JSON (one document, or one line per event for streams). */
  json: boolean;
  /** Prints `value` as JSON with --json, else `text` (or the value as indented JSON). */
  out(value: unknown, text?: string): void;
}

export interface Command {
  summary: string;
  usage: string;
  /** Extra help below the usage line. */
  help?: () => string;
  run(args: string[], ctx: Context): Promise<number>;
}

export function makeContext(json: boolean): Context {
  return {
    json,
    out: (value, text) => console.log(json || text === undefined ? JSON.stringify(value, null, 2) : text),
  };
}

/** connectClient, with an error that says what to do when nothing answers. */
export async function connectOrExplain(): Promise<Client> {
  try {
    return await connectClient();
  } catch (err) {
    const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
    throw new Error(
      `cannot reach Temporal at ${address} (${(err as Error).message}); start a local server with "npx mission dev" ` +
        `(or "temporal server start-dev"), or set TEMPORAL_ADDRESS to your server`,
      { cause: err },
    );
  }
}

/** Connects with the standard Temporal settings (TEMPORAL_ADDRESS, ...) and says what to do when nothing answers. */
export async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectOrExplain();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export type Values = Record<string, string | boolean | undefined>;

/** parseArgs with positionals; its errors become usage errors. */
export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, allowNegative = false): { values: Values; positionals: string[] } {
  const { values, positionals, tokens } = parseArgs({ args, options, allowPositionals: true, allowNegative, strict: true, tokens: true });
  // `--flag false` would make "false" a positional (part of a prompt): a boolean flag takes no value.
  tokens.forEach((t, i) => {
    const next = tokens[i + 1];
    if (t.kind === 'option' && options[t.name]?.type === 'boolean' && next?.kind === 'positional' && /^(true|false)$/i.test(next.value)) {
      throw new UsageError(`--${t.name} takes no value: write --${t.name} for true, --no-${t.name} for false`);
    }
  });
  return { values: values as Values, positionals };
}

/** Parses `MISSION_ID [options]`. */
export function oneId(args: string[], usage: string, options: NonNullable<ParseArgsConfig['options']> = {}): { id: string; values: Values } {
  const { positionals, values } = parse(args, options);
  if (positionals.length !== 1) throw new UsageError(`expected one mission id\nusage: ${usage}`);
  return { id: positionals[0]!, values };
}

/** A command on one mission: checks its flags first (no connection for a usage error), then acts and prints the result. */
export function missionCommand(
  spec: { summary: string; usage: string; options?: NonNullable<ParseArgsConfig['options']>; check?: (values: Values) => void },
  act: (client: Client, id: string, values: Values) => Promise<{ value: unknown; text?: string }>,
): Command {
  return {
    summary: spec.summary,
    usage: spec.usage,
    run: async (args, ctx) => {
      const { id, values } = oneId(args, spec.usage, spec.options);
      spec.check?.(values);
      const { value, text } = await withClient((client) => act(client, id, values));
      ctx.out(value, text);
      return 0;
    },
  };
}

/** A command on one mission and one more argument (`mission steer ID NOTE`, `mission skip ID FEATURE`). */
export function missionArgCommand(
  spec: { summary: string; usage: string; arg: string; options?: NonNullable<ParseArgsConfig['options']> },
  act: (client: Client, id: string, arg: string, values: Values) => Promise<{ value: unknown; text?: string }>,
): Command {
  return {
    summary: spec.summary,
    usage: spec.usage,
    run: async (args, ctx) => {
      const { positionals, values } = parse(args, spec.options ?? {});
      if (positionals.length !== 2 || !positionals[1]!.trim()) throw new UsageError(`expected a mission id and ${spec.arg}\nusage: ${spec.usage}`);
      const { value, text } = await withClient((client) => act(client, positionals[0]!, positionals[1]!, values));
      ctx.out(value, text);
      return 0;
    },
  };
}

export const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

/**
 * A query needs a worker to answer it; with none running it would wait for one. Rejects after `ms` instead, so a
 * command can fall back (a signal still reaches the mission later; a report file may be on this disk).
 */
export function queryWithin<T>(client: Client, handle: WorkflowHandle, query: QueryDefinition<T, []>, ms: number): Promise<T> {
  return client.connection.withDeadline(Date.now() + ms, () => handle.query(query));
}
