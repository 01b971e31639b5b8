/** The mission-wide limits in force (the input's, raised by `resume` signals). */
export interface BudgetLimits {
  maxTurnsPerFeature: number;
  maxTokens?: number;
  maxMinutes?: number;
  /** USD, from the price table; calls of models without a price do not count towards it. */
  maxCostUsd?: number;
}

/** Why the mission is over its budget, or undefined when it may start more work. */
export function budgetExceeded(limits: BudgetLimits, used: { tokens: number; activeMs: number; costUsd?: number }): string | undefined {
  if (limits.maxTokens !== undefined && used.tokens >= limits.maxTokens) {
    return `token budget reached: ${used.tokens} of ${limits.maxTokens} tokens used`;
  }
  if (limits.maxCostUsd !== undefined && (used.costUsd ?? 0) >= limits.maxCostUsd) {
    return `cost budget reached: $${(used.costUsd ?? 0).toFixed(4)} of $${limits.maxCostUsd} spent`;
  }
  if (limits.maxMinutes !== undefined && used.activeMs >= limits.maxMinutes * 60_000) {
    return `time budget reached: ${(used.activeMs / 60_000).toFixed(2)} of ${limits.maxMinutes} minutes of work`;
  }
  return undefined;
}

/** A raise from a `resume` signal: each given limit replaces the current one. */
export function raiseBudget<T extends BudgetLimits>(limits: T, raise: { maxTokens?: number; maxMinutes?: number; maxCostUsd?: number } | undefined): T {
  return { ...limits, ...Object.fromEntries(Object.entries(raise ?? {}).filter(([, v]) => v !== undefined)) };
}
