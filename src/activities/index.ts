import type OpenAI from 'openai';
import { whileHeartbeating } from './activity-context';
import { createAgentActivities } from './agent';
import { createCriteriaActivities } from './criteria';
import { createGitActivities } from './git';
import type { createHostActivities } from './host';
import { createLlmActivities } from './llm';
import { ModelClient } from './model';
import { MissionPaths } from './paths';
import { createReportActivities } from './report';
import type { PriceTable } from '../api/prices';
import type { SearchAttributeSupport } from '../api/search';
import type { SandboxInfo } from '../api/status';
import { repoEnvNames, Sandbox, type SandboxSettings } from './sandbox';
import { scrubEnv } from './tools';
import { createSetAsideActivities } from './set-aside';
import { createSkillActivities } from './skill-steps';
import { createValidationActivities } from './validate';

export interface ActivityDeps {
  /** The model endpoint: any OpenAI-compatible server (tests pass one pointed at a scripted server). */
  openai: OpenAI;
  /** Mission's data folder (MISSION_HOME): worktrees, conversations, reports. */
  home: string;
  defaultModel: string;
  /** Repository for missions started without `repo` (MISSION_REPO). */
  defaultRepo?: string;
  /** Where commands' allowlisted variables come from; secrets are scrubbed from it first. */
  toolEnv?: NodeJS.ProcessEnv;
  /** Context windows by model name, `*` for every model (MISSION_CONTEXT_WINDOW); known models and a conservative default otherwise. */
  contextWindows?: Record<string, number>;
  /** Prices by model (MISSION_PRICES over the defaults of src/api/prices.ts); default: the defaults alone. */
  prices?: PriceTable;
  /** MISSION_SANDBOX, MISSION_BWRAP_PATH, MISSION_SANDBOX_NETWORK (default: auto, bwrap on PATH, network allowed). */
  sandbox?: Omit<SandboxSettings, 'missionHome' | 'env'>;
  /** MissionStatus/MissionRepo exist in the namespace, so missions may upsert them. */
  searchAttributes?: SearchAttributeSupport;
  /** This host's id (MISSION_HOST_ID); by default createMissionWorker reads or makes one in MISSION_HOME. */
  hostId?: string;
  /** MISSION_HOST_PICKUP_TIMEOUT: how long a step waits for this host's workers before its mission says so (180 s). */
  hostPickupSec?: number;
}

/** The one place activities are wired. Workflows use `ReturnType<typeof createActivities>` for types only. */
export function createActivities(deps: ActivityDeps) {
  const paths = new MissionPaths(deps.home);
  const model = new ModelClient(deps.openai, deps.defaultModel, deps.prices);
  const sandbox = new Sandbox({ ...deps.sandbox, missionHome: deps.home, env: scrubEnv(deps.toolEnv ?? process.env) });
  const git = heartbeating(createGitActivities({ paths, defaultRepo: deps.defaultRepo, searchAttributes: deps.searchAttributes ?? false }));
  return {
    ...git,
    ...heartbeating(createSetAsideActivities()),
    ...heartbeating(createSkillActivities({ paths })),
    ...createLlmActivities({ model, paths, contextWindows: deps.contextWindows }),
    /** Prepare fails before touching git when this worker has no sandbox (and did not opt out). */
    async prepareMission(input: Parameters<typeof git.prepareMission>[0] & { sandbox?: { network: boolean } }) {
      const { sandbox: wanted, ...rest } = input;
      const checked = sandbox.require({ network: wanted?.network ?? false, env: [] });
      const prep = await git.prepareMission(rest);
      const info: SandboxInfo = { ...checked, env: await repoEnvNames(prep.repo, prep.baseCommit) };
      return { ...prep, sandbox: info };
    },
    ...createAgentActivities({ paths, sandbox }),
    ...heartbeating(createValidationActivities({ paths, sandbox })),
    ...createReportActivities({ model, paths }),
    ...createCriteriaActivities({ model, paths }),
  };
}

/** whichHost comes from createMissionWorker, which knows the host (src/activities/host.ts). */
export type Activities = ReturnType<typeof createActivities> & ReturnType<typeof createHostActivities>;

/** Git steps heartbeat while they run: a worker that dies mid-merge is noticed in 30 s, not at the step's timeout. */
function heartbeating<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [name, (...args: never[]) => whileHeartbeating(() => fn(...args))]),
  ) as T;
}
