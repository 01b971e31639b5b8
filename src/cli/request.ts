import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isRepoUrl } from '../api/repo-url';
import type { ParseArgsConfig } from 'node:util';
import { parseMissionInput, type MissionRequest } from '../api/input';
import { DEFAULT_PORT, DEFAULT_UI_PORT, type LocalServerOptions } from '../dev';
import { parse, str, UsageError, type Values } from './common';
import { applyInputFlags, errorsForFlags, inputFlagOptions } from './input-flags';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags of `mission start` and `mission run`: every input field, plus the whole input as JSON and the mission id. */
export const RUN_INPUT_OPTIONS: Options = { ...inputFlagOptions(), input: { type: 'string' }, id: { type: 'string' } };

export const SERVER_OPTIONS: Options = { port: { type: 'string' }, 'ui-port': { type: 'string' }, db: { type: 'string' } };

export function serverOptions(values: Values): LocalServerOptions {
  const port = (flag: string, fallback: number) => {
    const n = Number(str(values[flag]) ?? fallback);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag} must be a port number (1-65535), not "${String(values[flag])}"`);
    return n;
  };
  return { port: port('port', DEFAULT_PORT), uiPort: port('ui-port', DEFAULT_UI_PORT), db: str(values.db) && path.resolve(str(values.db)!) };
}

/**
 * The mission input from the command line: `--input` (JSON, or @file), then the input flags, then the prompt
 * as positional words; the repository defaults to the current directory. Checked here, so a bad flag never starts anything.
 */
export function missionRequest(args: string[], options: Options): { request: MissionRequest; values: Values } {
  const { values, positionals } = parse(args, options, true);
  let request: Record<string, unknown> = {};
  const input = str(values.input);
  if (input !== undefined) {
    const text = input.startsWith('@') ? readInputFile(input.slice(1)) : input;
    try {
      request = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
    }
    if (!request || typeof request !== 'object' || Array.isArray(request)) throw new UsageError('--input must be a JSON object such as {"prompt": "..."}');
  }
  applyInputFlags(request, values);
  if (positionals.length) {
    if (values.prompt !== undefined) throw new UsageError('give the prompt once: as words or with --prompt, not both');
    request.prompt = positionals.join(' ');
  }
  if (request.repo === undefined) request.repo = process.cwd();
  else if (typeof request.repo === 'string' && request.repo && !path.isAbsolute(request.repo) && !isRepoUrl(request.repo)) request.repo = path.resolve(request.repo);
  const parsed = parseMissionInput(request);
  if (!parsed.ok) throw new UsageError(`invalid mission input:\n  ${errorsForFlags(parsed.errors, values).join('\n  ')}`);
  return { request: request as MissionRequest, values };
}

function readInputFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--input @${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
