import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import type { EnvConfig } from './config';

/** `MISSION_WORKER_LOG=stderr` keeps the SDK's lines in the terminal, as the SDK prints them by default. */
export const WORKER_LOG_TO_TERMINAL = 'stderr';

export const defaultWorkerLog = (config: Pick<EnvConfig, 'MISSION_HOME'>) => path.join(config.MISSION_HOME, 'logs', 'worker.log');

/**
 * Sends the Temporal SDK's log (worker lifecycle, the workflow bundler's webpack output, the native core's
 * warnings) to a file instead of the user's terminal, where it would drown what Mission says; the core's lines
 * are forwarded to the same logger. Must run before the process's first connection or worker (they install the
 * SDK's default runtime). Returns the log file, or undefined when the log stays in the terminal or a runtime
 * was already installed in this process (tests install their own).
 */
export function installWorkerLog(config: Pick<EnvConfig, 'MISSION_HOME' | 'MISSION_WORKER_LOG'>): string | undefined {
  if (config.MISSION_WORKER_LOG === WORKER_LOG_TO_TERMINAL) return undefined;
  const file = config.MISSION_WORKER_LOG ?? defaultWorkerLog(config);
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => appendFileSync(file, formatEntry(entry))),
      telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
    });
  } catch {
    return undefined; // a runtime is already installed: its logger stays
  }
  return file;
}

function formatEntry({ level, timestampNanos, message, meta }: LogEntry): string {
  const at = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
  return `${at} [${level}] ${message}${meta === undefined ? '' : ` ${inspect(meta, { breakLength: Infinity, depth: 4 })}`}\n`;
}
