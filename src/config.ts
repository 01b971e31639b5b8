import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_MODEL, TASK_QUEUE } from './api/constants';
import { describeIssues } from './api/issues';

/** Environment settings, validated once at the process edge (worker and CLI). */
export const EnvConfig = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  MISSION_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url('must be a URL such as http://127.0.0.1:11434/v1').optional(),
  MISSION_MODEL: z.string().min(1).default(DEFAULT_MODEL),
  MISSION_REPO: z.string().min(1).refine((p) => path.isAbsolute(p), 'must be an absolute path').optional(),
  MISSION_HOME: z.string().min(1).default(path.join(os.homedir(), '.mission')),
  /** This host's id (its own task queue is mission-host-<id>); by default one generated and kept in MISSION_HOME/host-id. */
  /** Seconds a mission's step may wait for a worker of its host before the status says it waits for that host. */
  MISSION_HOST_PICKUP_TIMEOUT: z.coerce.number('must be a number of seconds').int('must be whole seconds').min(1, 'must be at least 1').default(180),
  MISSION_HOST_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-"').optional(),
  /** Context windows: `16384` for every model, or `model=tokens,...`; see src/activities/context-window.ts. */
  MISSION_CONTEXT_WINDOW: z.string().min(1).optional(),
  /** Model prices as JSON, over the defaults; see src/api/prices.ts. */
  MISSION_PRICES: z.string().min(1).optional(),
  MISSION_SANDBOX: z.enum(['auto', 'bwrap', 'off'], 'must be auto, bwrap or off').default('auto'),
  MISSION_BWRAP_PATH: z.string().min(1).refine((p) => path.isAbsolute(p), 'must be an absolute path').optional(),
  MISSION_SANDBOX_NETWORK: z.enum(['allow', 'deny'], 'must be allow or deny').default('allow'),
  /** Where the Temporal SDK's log goes (src/worker-log.ts): a file, or `stderr` for the terminal. Default $MISSION_HOME/logs/worker.log */
  MISSION_WORKER_LOG: z
    .string()
    .min(1)
    .refine((p) => p === 'stderr' || path.isAbsolute(p), 'must be an absolute path, or stderr to print the log in the terminal')
    .optional(),
});
export type EnvConfig = z.infer<typeof EnvConfig>;

export function loadEnvConfig(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  // Empty variables count as unset, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvConfig.safeParse(present);
  if (!parsed.success) throw new Error(`Invalid environment: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}
