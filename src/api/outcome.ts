import type { Plan } from './plan';
import type { FeatureStatus, MilestoneStatus } from './status';

/**
 * Work a person still has to look at. `feature`: the agent ended incomplete, blocked or failed, or said done
 * without committing anything;
 * `unmerged`: its work could not be merged; `validation`: a command still fails after repair;
 * `criterion`: a plan criterion judged not met; `milestone`: a milestone never run (its re-plan was rejected).
 * A feature a person skipped is a `feature` (state `skipped`): never counted as done.
 */
export interface Unresolved {
  milestoneId: string;
  kind: 'validation' | 'unmerged' | 'feature' | 'criterion' | 'milestone';
  name: string;
  detail: string;
  /** Features: how the agent ended. */
  state?: FeatureStatus['state'];
  /** Features: what the agent did (its own summary) and where that work is. */
  did?: string;
  commit?: string | null;
  branch?: string;
  /** Features: whether its commit reached the mission branch. */
  merged?: boolean;
  /** Features: the files its commit changed (filled in by the report writer, which can read git). */
  files?: string[];
  /** Features: the acceptance criteria nobody confirmed. */
  notConfirmed?: string[];
}

/** The outcome of a mission that ran to its end (the other outcomes come from how it stopped). */
export type RunOutcome = 'completed' | 'completed-with-issues';

/**
 * `completed` only when every milestone is done, every feature is done and merged, every validation
 * passed (or had nothing to run) and no plan criterion was judged not met; otherwise `completed-with-issues`.
 */
export function decideOutcome(milestones: MilestoneStatus[], plan: Plan | null): RunOutcome {
  const clean = milestones.every((m) => m.state === 'done') && unresolvedOf(milestones, plan).length === 0;
  return clean ? 'completed' : 'completed-with-issues';
}

/** Everything left unresolved, feature by feature, then the milestone's validation and criteria. */
export function unresolvedOf(milestones: MilestoneStatus[], plan: Plan | null): Unresolved[] {
  const out: Unresolved[] = [];
  for (const m of milestones) {
    if (m.notRun) out.push({ milestoneId: m.id, kind: 'milestone', name: m.id, detail: `not run: ${m.notRun}` });
    const planned = plan?.milestones.find((pm) => pm.id === m.id);
    for (const f of m.features) {
      const item = featureUnresolved(m.id, f, planned?.features.find((pf) => pf.id === f.id)?.acceptanceCriteria ?? []);
      if (item) out.push(item);
    }
    for (const name of m.validation?.unresolved ?? []) {
      out.push({ milestoneId: m.id, kind: 'validation', name, detail: `\`${name}\` still fails after repair` });
    }
    for (const c of m.validation?.checks ?? []) {
      if (c.verdict === 'not-met') out.push({ milestoneId: m.id, kind: 'criterion', name: c.criterion, detail: `not met (${c.by}): ${c.reason}` });
    }
  }
  return out;
}

/** Features that ended before they started (a mission that stopped early) are not listed: nothing was attempted. */
function featureUnresolved(milestoneId: string, f: FeatureStatus, criteria: string[]): Unresolved | undefined {
  const unmerged = f.merge?.state === 'conflict';
  // An agent's word is not work: a feature that says done but committed nothing is for a person to look at.
  if (f.state === 'done' && !unmerged && !f.commit) return claimedOnly(milestoneId, f, criteria);
  if (f.state === 'done' && !unmerged) return undefined;
  if (f.state === 'pending' || f.state === 'running') return undefined;
  if (f.state === 'skipped') return skippedItem(milestoneId, f, criteria);
  // Without worktrees an agent's commit is on the mission branch already; with them, a merge says so.
  const merged = f.merge ? f.merge.state === 'merged' : Boolean(f.commit);
  if (f.state === 'done') {
    return {
      milestoneId,
      kind: 'unmerged',
      name: f.id,
      detail: `not merged (conflict in ${f.merge?.conflictFiles?.join(', ') || 'unknown files'}); work kept on ${f.branch}`,
      state: f.state,
      did: f.summary,
      commit: f.commit ?? null,
      branch: f.branch,
      merged: false,
    };
  }
  const how = f.state === 'failed' ? 'agent failed' : f.state === 'blocked' ? 'blocked' : 'incomplete';
  const where = f.commit ? `commit ${f.commit.slice(0, 8)} on ${f.branch}${merged ? ' (merged)' : ' (kept, not merged)'}` : 'no commit';
  const notConfirmed = criteria.length ? `; acceptance criteria not confirmed: ${criteria.join('; ')}` : '';
  return {
    milestoneId,
    kind: 'feature',
    name: f.id,
    detail: `${how}: ${f.summary ?? 'no summary'}; ${where}${notConfirmed}`,
    state: f.state,
    did: f.summary,
    commit: f.commit ?? null,
    branch: f.branch,
    merged,
    notConfirmed: criteria,
  };
}

function skippedItem(milestoneId: string, f: FeatureStatus, criteria: string[]): Unresolved {
  const why = f.skipped?.reason ? ` (${f.skipped.reason})` : '';
  // Without worktrees a stopped agent's work was committed on the mission branch itself (merge says so).
  const merged = f.merge?.state === 'merged';
  const where = f.commit ? `its agent was stopped; its work is commit ${f.commit.slice(0, 8)} on ${f.branch}${merged ? ' (on the mission branch)' : ', not merged'}` : f.skipped?.wasRunning ? 'its agent was stopped before it changed anything' : 'not run';
  return { milestoneId, kind: 'feature', name: f.id, detail: `skipped by a person${why}: ${where}`, state: f.state, did: f.summary, commit: f.commit ?? null, branch: f.branch, merged, notConfirmed: criteria };
}

function claimedOnly(milestoneId: string, f: FeatureStatus, criteria: string[]): Unresolved {
  const notConfirmed = criteria.length ? `; acceptance criteria not confirmed: ${criteria.join('; ')}` : '';
  return {
    milestoneId,
    kind: 'feature',
    name: f.id,
    detail: `said done but changed no file: ${f.summary ?? 'no summary'}${notConfirmed}`,
    state: f.state,
    did: f.summary,
    commit: null,
    branch: f.branch,
    merged: false,
    notConfirmed: criteria,
  };
}
