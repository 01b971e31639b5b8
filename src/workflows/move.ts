import { CancellationScope, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { describeIssues } from '../api/issues';
import { hostQueue } from '../api/ids';
import { MoveHost, moveHostSignal } from '../api/messages';
import type { PlanMilestone } from '../api/plan';
import { isRepoUrl } from '../api/repo-url';
import { FINAL_PHASES } from '../api/status';
import type { MissionContext } from './agents';
import { runMilestone } from './milestone';
import { missionProxies, steps, type MissionHost } from './proxies';
import { nowIso, type MissionState } from './state';

/**
 * Moving a mission to another host (its host is gone for good). Only a mission whose repository is a URL can move:
 * each milestone pushed its branch there, so the new host clones the URL into its own cache and goes on from the last
 * milestone's commit as pushed. The milestone that was running on the old host is cancelled (its agents too) and
 * redone from its start: its unfinished work was on the old host's disk only, and is lost.
 *
 * The signal only cancels and asks: a mission that never receives it issues the same commands as before, so
 * histories recorded without moves replay unchanged.
 */
export class HostMover {
  /** A move asked for and not yet begun. */
  private pending: MoveHost | undefined;
  /** The milestone (or the move) under way, which a move cancels. */
  private scope: CancellationScope | undefined;

  constructor(private readonly state: MissionState, private readonly onWait: (hostId: string | undefined) => void) {}

  /** The moveHost signal: refused (recorded with the reason) when the mission cannot move, else it cancels what runs. */
  register(repo: string | undefined, hasHost: () => boolean): void {
    setHandler(
      moveHostSignal,
      (raw) => {
        const parsed = MoveHost.safeParse(raw ?? {});
        if (!parsed.success) return this.state.ignore('moveHost', `invalid payload: ${describeIssues(parsed.error, MoveHost).join('; ')}`);
        const why = moveRefusal(this.state, repo, hasHost());
        if (why) return this.state.ignore('moveHost', why);
        this.pending = parsed.data;
        this.state.record('moveHost', `moveHost received: moving to ${parsed.data.to ? `host ${parsed.data.to}` : 'any live host'}${parsed.data.reason ? ` (${parsed.data.reason})` : ''}`);
        this.scope?.cancel();
      },
      { description: 'Move a mission whose repo is a git URL to another host, from its branch as pushed at the last milestone: { to?, reason? }' },
    );
  }

  /** Runs a milestone; a move first (one asked for before it started) or meanwhile (then the milestone runs again). */
  async runMilestone(ctx: MissionContext, milestone: PlanMilestone, head: string): Promise<string> {
    for (;;) {
      const scope = new CancellationScope();
      this.scope = scope;
      try {
        return await scope.run(async () => {
          if (this.pending) await this.move(ctx, milestone, head);
          return runMilestone(ctx, milestone, head);
        });
      } catch (err) {
        if (!(isCancellation(err) && this.pending)) throw err;
      } finally {
        this.scope = undefined;
      }
    }
  }

  private async move(ctx: MissionContext, milestone: PlanMilestone, head: string): Promise<void> {
    const { state } = ctx;
    const request = this.pending!;
    this.pending = undefined;
    const from = ctx.host!.hostId;
    const started = state.milestone(milestone.id).state !== 'pending';
    // A milestone that had begun on the old host starts again: its features, merges and validation were there.
    resetMilestone(state, milestone);
    state.setPhase('running', `moving from host ${from} to ${request.to ? `host ${request.to}` : 'another host'}`);
    // Any live worker answers on the shared queue; a named host on its own queue (the status says if it is down too).
    const asked = request.to ? missionProxies({ hostId: request.to, taskQueue: hostQueue(request.to) }, this.onWait).steps : steps;
    const host: MissionHost = await asked.whichHost();
    const acts = missionProxies(host, this.onWait);
    const prep = await acts.steps.prepareMission({
      missionId: ctx.missionId,
      missionKey: ctx.missionKey,
      runId: workflowInfo().firstExecutionRunId,
      repo: ctx.input.repo,
      baseBranch: ctx.input.baseBranch,
      sandbox: ctx.input.sandbox,
      moved: { baseCommit: ctx.prep.baseCommit, head },
    });
    Object.assign(ctx, { host, acts, prep: { ...prep, searchAttributes: ctx.prep.searchAttributes } });
    Object.assign(state.status, { host: host.hostId, repo: prep.repo, worktree: prep.worktree });
    delete state.status.waitingForHost;
    (state.status.moves ??= []).push({ at: nowIso(), from, to: host.hostId, fromCommit: head, ...(started ? { redone: milestone.id } : {}) });
    const lost = started ? `; the unfinished work of ${milestone.id} on ${from} is lost and ${milestone.id} is redone` : '';
    state.record('host', `moved from host ${from} to host ${host.hostId} (queue ${host.taskQueue}): continuing from ${head.slice(0, 8)}, the mission branch as pushed at the last milestone${lost}`);
  }
}

/** Why a mission cannot move now, or undefined when it can. */
export function moveRefusal(state: MissionState, repo: string | undefined, hasHost: boolean): string | undefined {
  if (FINAL_PHASES.includes(state.phase)) return `the mission is already ${state.phase}`;
  if (!repo || !isRepoUrl(repo)) return `the mission's repository ${repo ?? '(the worker default)'} is a local path on host ${state.status.host ?? '?'}: only a mission whose repo is a git URL can move (its work is pushed there at each milestone); bring that host back, or copy its MISSION_HOME (README: Moving a mission to another host)`;
  if (!hasHost) return 'the mission is not bound to a host (it has none yet, or it started before host affinity and runs every step on the shared queue)';
  // The report is the last step, on the old host; the mission's work is done and on the pushed branch.
  if (state.phase === 'reporting') return 'the mission is writing its report: its milestones are done and pushed; bring its host back to finish the report';
  return undefined;
}

function resetMilestone(state: MissionState, milestone: PlanMilestone): void {
  const status = state.milestone(milestone.id);
  for (const key of Object.keys(status)) if (!['id', 'title', 'state', 'features'].includes(key)) delete (status as unknown as Record<string, unknown>)[key];
  status.state = 'pending';
  status.features = milestone.features.map((f) => ({ id: f.id, title: f.title, state: 'pending' }));
}
