import type { ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { MissionInput } from '../api/input';
import { UsageError } from './common';

/** One `mission run` flag, derived from a field of the MissionInput schema. */
export interface InputFlag {
  /** Flag name without dashes: `max-concurrency`, `budget.max-tokens`. */
  flag: string;
  /** Field path in the input: ['budget', 'maxTokens']. */
  path: string[];
  kind: 'string' | 'number' | 'boolean' | 'json';
  description: string;
  defaultValue?: unknown;
}

interface Node {
  description?: string;
  _zod: { def: { type: string; innerType?: Node; shape?: Record<string, Node>; defaultValue?: unknown } };
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Walks the schema: every leaf field becomes a flag; nested objects become dotted flags (`--budget.max-tokens`). */
export function inputFlags(schema: z.ZodType = MissionInput): InputFlag[] {
  const flags: InputFlag[] = [];
  const visit = (node: Node, path: string[], description: string, defaultValue: unknown) => {
    let n = node;
    for (let i = 0; i < 10 && n._zod.def.innerType; i++) {
      if (n._zod.def.type === 'default') defaultValue = n._zod.def.defaultValue;
      description ||= n.description ?? '';
      n = n._zod.def.innerType;
    }
    description ||= n.description ?? '';
    const type = n._zod.def.type;
    if (type === 'object' && n._zod.def.shape) {
      for (const [key, child] of Object.entries(n._zod.def.shape ?? {})) visit(child, [...path, key], '', undefined);
      return;
    }
    const kind = type === 'string' || type === 'number' || type === 'boolean' ? type : 'json';
    flags.push({ flag: path.map(kebab).join('.'), path, kind, description, defaultValue });
  };
  visit(schema as unknown as Node, [], '', undefined);
  return flags;
}

export const INPUT_FLAGS = inputFlags();

/** parseArgs options for the input flags (booleans also get `--no-<flag>`). */
export function inputFlagOptions(): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(INPUT_FLAGS.map((f) => [f.flag, { type: f.kind === 'boolean' ? 'boolean' : 'string' }] as const));
}

/** Sets the flags' values into `request` (flags win over --input); a value of the wrong type names its flag. */
export function applyInputFlags(request: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  for (const f of INPUT_FLAGS) {
    const raw = values[f.flag];
    if (raw === undefined) continue;
    let value: unknown = raw;
    if (f.kind === 'number') {
      value = Number(raw);
      if (raw === '' || !Number.isFinite(value)) throw new UsageError(`--${f.flag}: "${String(raw)}" is not a number`);
    } else if (f.kind === 'json') {
      try {
        value = JSON.parse(String(raw));
      } catch (err) {
        throw new UsageError(`--${f.flag}: not valid JSON (${(err as Error).message}); for example --${f.flag} '${exampleJson(f)}'`);
      }
    }
    let target = request;
    for (const key of f.path.slice(0, -1)) {
      const next = target[key];
      target = target[key] = next && typeof next === 'object' && !Array.isArray(next) ? { ...(next as object) } : {};
    }
    target[f.path.at(-1)!] = value;
  }
  return request;
}

const exampleJson = (f: InputFlag) => (f.flag === 'validation.commands' ? '[{"name":"test","run":"npm test"}]' : '{}');

/** Rewrites `budget.maxTokens: must be …` as `--budget.max-tokens: must be …` when that field came from a flag. */
export function errorsForFlags(errors: string[], values: Record<string, unknown>): string[] {
  return errors.map((line) => {
    const field = line.slice(0, line.indexOf(':'));
    const flag = INPUT_FLAGS.find((f) => f.path.join('.') === field || field.startsWith(`${f.path.join('.')}.`));
    return flag && values[flag.flag] !== undefined ? `--${flag.flag}${line.slice(flag.path.join('.').length)}` : line;
  });
}

/** The flags' part of `mission run --help`. */
export function inputFlagsHelp(): string {
  const rows = INPUT_FLAGS.map((f) => {
    const name = f.kind === 'boolean' ? `--[no-]${f.flag}` : `--${f.flag} ${f.kind === 'json' ? 'JSON' : f.kind === 'number' ? 'N' : 'TEXT'}`;
    const def = f.defaultValue !== undefined && f.flag !== 'prompt' ? ` (default ${JSON.stringify(f.defaultValue)})` : '';
    return [name, `${f.description}${def}`];
  });
  const width = Math.max(...rows.map(([n]) => n!.length));
  return rows.map(([n, d]) => `  ${n!.padEnd(width)}  ${d}`).join('\n');
}
