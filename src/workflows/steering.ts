import {
  FeatureDecision,
  Replan,
  replanSignal,
  replanUpdate,
  retryFeatureSignal,
  retryFeatureUpdate,
  skipFeatureSignal,
  skipFeatureUpdate,
  Steer,
  steerSignal,
  steerUpdate,
} from '../api/messages';
import { findFeature, replanRefusal, retryRefusal, skipRefusal, steerRefusal } from '../api/steering';
import { register } from './decisions';
import { nowIso, type MissionState } from './state';

/**
 * steer, replan, skipFeature and retryFeature: each a signal and an update of the same name (./decisions).
 * A handler only records the decision and, for steer and skip, signals running agents; the mission loop acts on
 * replan and retry between milestones (./replan.ts, ./retries.ts), the milestone's scheduler on a skip.
 */
export function registerSteering(state: MissionState): void {
  register(state, steerSignal, steerUpdate, {
    name: 'steer',
    schema: Steer,
    description: 'A note for every running agent (at its next turn) and every later one (in its first request): { note, by? }.',
    refusal: () => steerRefusal(state.status),
    apply: ({ note, by }) => {
      (state.status.steering ??= []).push({ at: nowIso(), note, ...(by ? { by } : {}) });
      state.record('steer', `steering note${by ? ` from ${by}` : ''}: ${note}`);
      state.agents.broadcast();
    },
  });
  register(state, replanSignal, replanUpdate, {
    name: 'replan',
    schema: Replan,
    description: 'Re-plan the milestones not started yet (done and running ones stay; a running one finishes first), then wait for approval again: { feedback }.',
    refusal: () => replanRefusal(state.status),
    apply: ({ feedback }) => {
      state.status.replan = { at: nowIso(), feedback };
      const running = state.status.milestones.find((m) => m.state !== 'pending' && m.state !== 'done');
      state.record('replan', `re-plan asked: ${feedback}${running ? `; it begins once ${running.id} has finished` : ''}`);
    },
  });
  register(state, skipFeatureSignal, skipFeatureUpdate, {
    name: 'skipFeature',
    schema: FeatureDecision,
    description: 'Skip a feature: a pending one is not run, a running one has its agent stopped (its work kept on its branch); it stays unresolved: { featureId, reason? }.',
    refusal: ({ featureId }) => skipRefusal(state.status, featureId),
    apply: ({ featureId, reason }) => {
      const { feature } = findFeature(state.status, featureId)!;
      const wasRunning = feature.state === 'running';
      feature.skipped = { at: nowIso(), wasRunning, ...(reason ? { reason } : {}) };
      if (!wasRunning) feature.state = 'skipped';
      state.record('skip', `${featureId} skipped by a person${reason ? ` (${reason})` : ''}${wasRunning ? ': its agent stops and its work is kept on its branch' : ': it will not run'}`);
      if (wasRunning) state.agents.stop(featureId, reason ?? 'skipped by a person');
      state.skips += 1;
    },
  });
  register(state, retryFeatureSignal, retryFeatureUpdate, {
    name: 'retryFeature',
    schema: FeatureDecision,
    description: 'Run a feature that ended incomplete, blocked, failed or skipped again with a new agent, once the running milestone has finished; then its milestone is merged, validated and committed again: { featureId, reason? }.',
    refusal: ({ featureId }) => retryRefusal(state.status, featureId),
    apply: ({ featureId, reason }) => {
      const { milestone, feature } = findFeature(state.status, featureId)!;
      feature.retry = { at: nowIso(), ...(reason ? { reason } : {}) };
      state.agents.unstop(featureId);
      const running = state.status.milestones.find((m) => m.state !== 'pending' && m.state !== 'done');
      state.record('retry', `retry of ${featureId} (${milestone.id}) asked${reason ? ` (${reason})` : ''}; it runs ${running ? `once ${running.id} has finished` : 'before the next milestone'}`);
    },
  });
}
