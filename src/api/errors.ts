import { ApplicationFailure, TemporalFailure } from '@temporalio/common';

/**
 * The error taxonomy. Each failure has a stable UPPER_SNAKE id (the ApplicationFailure `type`)
 * and a category that decides Temporal's retry behaviour:
 *  - user:        the caller must change something (input, repo, key); never retried
 *  - system:      our own invariant broke; never retried (retrying would repeat the bug)
 *  - third-party: a remote service misbehaved; retried with backoff unless marked fatal
 */
export const ERRORS = {
  INVALID_INPUT: 'user',
  REPO_NOT_FOUND: 'user',
  REPO_NOT_GIT: 'user',
  BASE_BRANCH_NOT_FOUND: 'user',
  MISSION_BRANCH_CONFLICT: 'user',
  SANDBOX_UNAVAILABLE: 'user',
  MODEL_AUTH: 'user',
  MODEL_NOT_FOUND: 'user',
  MODEL_BAD_REQUEST: 'third-party',
  MODEL_CONTEXT_EXCEEDED: 'third-party',
  MODEL_UNAVAILABLE: 'third-party',
  /** HTTP 429 (rate limit or quota): retried; when it outlasts the retries the mission parks in `paused-quota`. */
  MODEL_RATE_LIMITED: 'third-party',
  PLAN_INVALID: 'third-party',
  SESSION_CORRUPT: 'system',
  GIT_FAILED: 'system',
  /** Another process held a lock of the repository (Mission's, or git's own index.lock or ref lock): retried. */
  GIT_LOCKED: 'third-party',
  /** Cloning, fetching or pushing the mission's remote repository failed (network, server, credentials): retried. */
  GIT_REMOTE: 'third-party',
  /** A moved mission's last milestone commit is not on its repository URL (never pushed): the old host must come back. */
  MOVE_NOT_PUSHED: 'user',
  /** moveHost of a mission whose repository is a local path on its host (nothing to move from). */
  MOVE_NEEDS_URL: 'user',
  /** An agent's command changed the user's repository (branches, HEAD, config, hooks, checkout): the user must look. */
  REPO_TAMPERED: 'user',
} as const;

export type ErrorId = keyof typeof ERRORS;
export type ErrorCategory = (typeof ERRORS)[ErrorId];

/**
 * Errors that the workflow treats as fatal for the whole mission: every other call would fail the same way
 * (a bad key, an unknown model). A rejected request (MODEL_BAD_REQUEST, MODEL_CONTEXT_EXCEEDED) is about one
 * conversation, so it fails that agent and the mission goes on.
 */
export const MISSION_FATAL: readonly ErrorId[] = ['MODEL_AUTH', 'MODEL_NOT_FOUND', 'INVALID_INPUT', 'SANDBOX_UNAVAILABLE'];


/** Failures that pass: Temporal retries the activity. */
const RETRYABLE: readonly ErrorId[] = ['MODEL_UNAVAILABLE', 'MODEL_RATE_LIMITED', 'GIT_LOCKED', 'GIT_REMOTE'];

export function missionFailure(id: ErrorId, message: string, opts: { details?: unknown; nextRetryDelayMs?: number } = {}): ApplicationFailure {
  return ApplicationFailure.create({
    type: id,
    message,
    nonRetryable: !RETRYABLE.includes(id),
    details: opts.details === undefined ? undefined : [opts.details],
    nextRetryDelay: opts.nextRetryDelayMs,
  });
}

/** The failure `type` of an error or of any failure in its cause chain, if it is one of ours. */
export function failureType(err: unknown): ErrorId | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 8; depth++) {
    if (current instanceof ApplicationFailure && current.type && current.type in ERRORS) return current.type as ErrorId;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost failure's type and message: "REPO_NOT_FOUND: repo ... does not exist", not "Activity task failed". */
export function rootFailure(err: unknown): { type?: string; message: string } {
  let current: unknown = err;
  let found: { type?: string; message: string } = { message: err instanceof Error ? err.message : String(err) };
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof ApplicationFailure) found = { type: current.type ?? undefined, message: current.message };
    current = current.cause;
  }
  return found;
}

/**
 * What the mission fails with: Temporal failures (activity, child, application) become one
 * non-retryable ApplicationFailure carrying the root type and message, with the original as cause.
 * Anything else is a bug in workflow code and is rethrown as is, so Temporal retries the workflow
 * task until the code is fixed instead of failing the mission.
 */
export function toMissionFailure(err: unknown): unknown {
  if (!(err instanceof TemporalFailure) || err instanceof ApplicationFailure) return err;
  const root = rootFailure(err);
  return ApplicationFailure.create({ type: root.type ?? 'MISSION_FAILED', message: root.message, nonRetryable: true, cause: err });
}
