import type OpenAI from 'openai';
import { whileHeartbeating } from './activity-context';
import { createAgentActivities } from './agent';
import { createCriteriaActivities } from './criteria';
import { createGitActivities } from './git';
import { createLlmActivities } from './llm';
import { ModelClient } from './model';
import { MissionPaths } from './paths';
import { createReportActivities } from './report';
import { scrubEnv } from './tools';
import { createSetAsideActivities } from './set-aside';
import { createValidationActivities } from './validate';

export interface ActivityDeps {
  /** The model endpoint: any OpenAI-compatible server (tests pass one pointed at a scripted server). */
  openai: OpenAI;
  /** Mission's data folder (MISSION_HOME): worktrees, conversations, reports. */
  home: string;
  defaultModel: string;
  /** Repository for missions started without `repo` (MISSION_REPO). */
  defaultRepo?: string;
  /** Environment for commands agents run; secrets are scrubbed from it. */
  toolEnv?: NodeJS.ProcessEnv;
  /** Context windows by model name, `*` for every model (MISSION_CONTEXT_WINDOW); known models and a conservative default otherwise. */
  contextWindows?: Record<string, number>;
  /** MissionStatus/MissionRepo exist in the namespace, so missions may upsert them. */
  searchAttributes?: boolean;
}

/** The one place activities are wired. Workflows use `ReturnType<typeof createActivities>` for types only. */
export function createActivities(deps: ActivityDeps) {
  const paths = new MissionPaths(deps.home);
  const model = new ModelClient(deps.openai, deps.defaultModel);
  return {
    ...heartbeating(createGitActivities({ paths, defaultRepo: deps.defaultRepo, searchAttributes: deps.searchAttributes ?? false })),
    ...heartbeating(createSetAsideActivities()),
    ...createLlmActivities({ model, paths, contextWindows: deps.contextWindows }),
    ...createAgentActivities({ paths, toolEnv: scrubEnv(deps.toolEnv ?? process.env) }),
    ...heartbeating(createValidationActivities({ paths, env: deps.toolEnv })),
    ...createReportActivities({ model, paths }),
    ...createCriteriaActivities({ model, paths }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Git steps heartbeat while they run: a worker that dies mid-merge is noticed in 30 s, not at the step's timeout. */
function heartbeating<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [name, (...args: never[]) => whileHeartbeating(() => fn(...args))]),
  ) as T;
}
