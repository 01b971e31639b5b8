/** Names every part shares, so the worker, client, CLI and workflows cannot drift apart. */
export const TASK_QUEUE = 'mission';
export const MISSION_WORKFLOW = 'mission';
export const FEATURE_WORKFLOW = 'feature';
export const DEFAULT_MODEL = 'gpt-5';
/** Planner rounds (first draft included) before a plan that keeps breaking the rules fails the mission. */
export const MAX_PLAN_ATTEMPTS = 3;
/** Status keeps the newest events only, so queries and history stay small. */
export const MAX_STATUS_EVENTS = 100;
