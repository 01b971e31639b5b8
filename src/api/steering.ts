import type { Plan, PlanMilestone } from './plan';
import { FINAL_PHASES, type FeatureStatus, type MilestoneStatus, type MissionStatus } from './status';

/**
 * Steering a mission under way (steer, replan, skipFeature, retryFeature): when each decision fits, and how a
 * re-plan keeps what is done. Pure, so the update validators, the signal handlers and the unit tests share it.
 */

/** Phases in which no plan is approved yet: plan decisions (approve, reject, revise) apply there, not these. */
const BEFORE_APPROVAL: readonly MissionStatus['phase'][] = ['preparing', 'planning', 'awaiting-approval'];

function endedOrEnding(status: MissionStatus): string | undefined {
  if (FINAL_PHASES.includes(status.phase)) return `the mission is already ${status.phase}`;
  if (status.phase === 'reporting') return 'the mission is writing its report: no agent will run again';
  return undefined;
}

/** A note fits until the mission ends: one sent before approval reaches every agent from the first. */
export function steerRefusal(status: MissionStatus): string | undefined {
  return endedOrEnding(status);
}

export function replanRefusal(status: MissionStatus): string | undefined {
  const ended = endedOrEnding(status);
  if (ended) return ended;
  if (BEFORE_APPROVAL.includes(status.phase)) return `the mission is ${status.phase}: ${status.phase === 'awaiting-approval' ? 'revise the plan awaiting approval instead ("mission revise")' : 'no plan is approved yet'}`;
  if (status.replan) return 'a re-plan is already asked for: it begins once the running milestone has finished';
  if (!status.milestones.some((m) => m.state === 'pending')) return 'every milestone has started: nothing is left to re-plan';
  return undefined;
}

/** The feature with this plan id, and its milestone; undefined when the plan has none. */
export function findFeature(status: MissionStatus, featureId: string): { milestone: MilestoneStatus; feature: FeatureStatus } | undefined {
  for (const milestone of status.milestones) {
    const feature = milestone.features.find((f) => f.id === featureId);
    if (feature) return { milestone, feature };
  }
  return undefined;
}

function featureRefusal(status: MissionStatus, featureId: string): string | undefined {
  const ended = endedOrEnding(status);
  if (ended) return ended;
  if (BEFORE_APPROVAL.includes(status.phase)) return `the mission is ${status.phase}: no plan is approved yet${status.phase === 'awaiting-approval' ? ' (revise the plan instead)' : ''}`;
  if (!findFeature(status, featureId)) {
    const ids = status.milestones.flatMap((m) => m.features.map((f) => f.id));
    return `no feature "${featureId}" in the plan; its features: ${ids.join(', ') || 'none'}`;
  }
  return undefined;
}

/** Skip fits a feature that has not ended: pending (it will not run) or running (its agent stops, its work is kept). */
export function skipRefusal(status: MissionStatus, featureId: string): string | undefined {
  const why = featureRefusal(status, featureId);
  if (why) return why;
  const { feature } = findFeature(status, featureId)!;
  if (feature.skipped) return `feature "${featureId}" is already skipped`;
  if (feature.state !== 'pending' && feature.state !== 'running') return `feature "${featureId}" already ended ${feature.state}: there is nothing to skip${feature.state === 'done' ? '' : ` (to run it again: "mission retry ${status.missionId} ${featureId}")`}`;
  return undefined;
}

/** Retry fits a feature that ended without its work done and merged (incomplete, blocked, failed, skipped, unmerged, no commit). */
export function retryRefusal(status: MissionStatus, featureId: string): string | undefined {
  const why = featureRefusal(status, featureId);
  if (why) return why;
  const { feature } = findFeature(status, featureId)!;
  if (feature.retry) return `a retry of feature "${featureId}" is already asked for: it runs once the running milestone has finished`;
  if (feature.state === 'pending' || feature.state === 'running') return `feature "${featureId}" has not ended (it is ${feature.skipped ? 'being skipped' : feature.state}): only a feature that ended can be retried`;
  if (feature.state === 'done' && feature.commit && feature.merge?.state !== 'conflict') return `feature "${featureId}" is already done`;
  return undefined;
}

/** Key order must not matter when comparing a kept milestone with the planner's copy of it. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What is wrong with a re-plan (sent back to the planner verbatim, like checkPlan's lines): the milestones that
 * were done or under way (the first `kept` of the approved plan) must open the new plan unchanged.
 */
export function replanErrors(approved: Plan, kept: number, next: Plan): string[] {
  const errors: string[] = [];
  approved.milestones.slice(0, kept).forEach((m, i) => {
    const got = next.milestones[i];
    if (!got || canonical(got) !== canonical(m)) {
      errors.push(`milestone "${m.id}" is done or under way and must stay exactly as it was, as milestone ${i + 1} (same id, title, goal, validation and features); put it back unchanged`);
    }
  });
  return errors;
}

/** The statuses after an approved re-plan: the kept milestones as they are, the new ones pending. */
export function replannedMilestones(current: MilestoneStatus[], kept: number, next: Plan): MilestoneStatus[] {
  return [...current.slice(0, kept), ...next.milestones.slice(kept).map(pendingMilestone)];
}

export function pendingMilestone(m: PlanMilestone): MilestoneStatus {
  return { id: m.id, title: m.title, state: 'pending', features: m.features.map((f) => ({ id: f.id, title: f.title, state: 'pending' })) };
}
