import { CancellationScope, getExternalWorkflowHandle, patched, setCurrentDetails, setHandler, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { agentLivenessSignal, type AgentLiveness } from '../api/messages';
import { MissionStalledKey } from '../api/search';
import { nowIso, type MissionState } from './state';

/** Agents recorded before liveness took no stall timer per turn; their histories replay without it. */
export const LIVENESS_PATCH = 'agent-liveness';
/** Missions recorded before it did not upsert MissionStalled. */
const STALLED_ATTRIBUTE_PATCH = 'mission-stalled-search-attribute';

/**
 * In an agent's workflow: one timer per turn. When it fires before the next turn starts, the agent tells its
 * mission it is stalled and what it waits on; when the step it waited on returns, it tells it again (cleared).
 */
export class TurnWatch {
  private scope: CancellationScope | undefined;
  private stalledOn: string | undefined;
  private waitingOn = 'model call';
  private since = '';

  constructor(
    private readonly taskId: string,
    private readonly stallAfterMs: number,
    private readonly missionId: string | undefined,
  ) {}

  /** A new turn: the previous one's timer goes, a new one starts. */
  turn(): void {
    this.scope?.cancel();
    this.since = nowIso();
    const scope = new CancellationScope();
    this.scope = scope;
    scope.run(() => sleep(this.stallAfterMs)).then(
      () => this.stall(),
      () => undefined, // cancelled: the turn ended in time
    );
  }

  /** Runs one step of the turn, saying what the agent waits on while it runs. */
  async step<T>(waitingOn: string, run: Promise<T>): Promise<T> {
    this.waitingOn = waitingOn;
    try {
      return await run;
    } finally {
      if (this.stalledOn !== undefined) this.tell({ taskId: this.taskId, stalled: false });
      this.stalledOn = undefined;
    }
  }

  /** The agent is done: no timer may outlive it. */
  end(): void {
    this.scope?.cancel();
  }

  private stall(): void {
    this.stalledOn = this.waitingOn;
    setCurrentDetails(`${this.taskId}: stalled, no new turn for ${Math.round(this.stallAfterMs / 1000)}s; waiting on ${this.waitingOn} since ${this.since}`);
    this.tell({ taskId: this.taskId, stalled: true, waitingOn: this.waitingOn, since: this.since });
  }

  private tell(liveness: AgentLiveness): void {
    if (!this.missionId) return;
    // The mission may have ended meanwhile: nothing to tell then.
    getExternalWorkflowHandle(this.missionId).signal(agentLivenessSignal, liveness).catch(() => undefined);
  }
}

/** In the mission: keeps `status.stalled`, the current details and MissionStalled in line with its agents' reports. */
export function registerLiveness(state: MissionState): void {
  setHandler(
    agentLivenessSignal,
    (report) => {
      const others = (state.status.stalled ?? []).filter((s) => s.taskId !== report.taskId);
      const stalled = report.stalled ? [...others, { taskId: report.taskId, waitingOn: report.waitingOn ?? 'unknown', since: report.since ?? nowIso() }] : others;
      if (stalled.length) state.status.stalled = stalled;
      else delete state.status.stalled;
      state.record(report.stalled ? 'stalled' : 'live', report.stalled ? `${report.taskId} stalled: no new turn since ${report.since}, waiting on ${report.waitingOn}` : `${report.taskId} is live again`);
      state.refreshDetails();
      if (state.searchAttributes && state.costAttribute && patched(STALLED_ATTRIBUTE_PATCH)) {
        upsertSearchAttributes([{ key: MissionStalledKey, value: stalled[0]?.waitingOn ?? null }]);
      }
    },
    { description: 'From its agents: { taskId, stalled, waitingOn?, since? } (an agent with no new turn for stallAfterSeconds)' },
  );
}
