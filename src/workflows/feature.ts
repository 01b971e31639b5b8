import { continueAsNew, patched, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import { agentTaskId, FeatureInput, failedWithTokens, type AgentSpent, type FeatureResult, type ToolRunResult } from '../api/agent';
import { missionFailure } from '../api/errors';
import { describeIssues } from '../api/issues';
import { agentProgressQuery } from '../api/messages';
import { addTokens, MAX_REFUSED_SHOWN, ZERO_TOKENS, type AgentProgress } from '../api/status';
import type { RunToolInput } from '../activities/agent';
import { localModel, localTools, missionProxies, model, steps, tools } from './proxies';
import { AgentSteering } from './agent-steering';
import { LIVENESS_PATCH, TurnWatch } from './liveness';
import { workflowNow } from './state';

/**
 * How an agent's turns run, by the patch its history carries: activities that heartbeat (now); local activities
 * (histories recorded under LOCAL_TURNS_PATCH only); activities (histories recorded before both).
 */
const TURNS_AS_ACTIVITIES_PATCH = 'agent-turns-as-activities';
const LOCAL_TURNS_PATCH = 'agent-turns-as-local-activities';
/** Agents recorded before it opened their conversation in a step of its own before the first turn. */
const OPEN_IN_FIRST_TURN_PATCH = 'open-session-in-first-turn';
/** Agents recorded before it committed their work in a commitWork step after their finish call. */
const COMMIT_ON_FINISH_PATCH = 'commit-with-finish';

/**
 * The `feature` child workflow: one agent, one task (a feature, a merge conflict or a repair), one
 * working directory. Each model turn and each tool call is an activity; the conversation itself stays
 * on the worker's disk, so history grows by a constant amount per turn however long the conversation gets.
 */
export async function feature(raw: FeatureInput): Promise<FeatureResult> {
  const spent: AgentSpent = { tokens: ZERO_TOKENS, turns: 0 };
  try {
    return await runAgentLoop(raw, spent);
  } catch (err) {
    // The tokens already spent must reach the mission's count (and budget) even though the agent failed.
    throw failedWithTokens(err, spent);
  }
}

/** The agent itself; `spent` follows its turns and tokens, so a failure can still report them. */
async function runAgentLoop(raw: FeatureInput, spent: AgentSpent): Promise<FeatureResult> {
  const parsed = FeatureInput.safeParse(raw);
  if (!parsed.success) {
    throw missionFailure('INVALID_INPUT', `Invalid feature input: ${describeIssues(parsed.error, FeatureInput).join('; ')}`);
  }
  const { carried, ...input } = parsed.data;
  const startedAt = carried?.startedAt ?? workflowNow();
  const taskId = agentTaskId(input.task);
  const session = { missionKey: input.missionKey, name: taskId };
  // Only histories without the newer patch are asked about the older one: a new agent records one marker.
  const local = !patched(TURNS_AS_ACTIVITIES_PATCH) && patched(LOCAL_TURNS_PATCH);
  // An agent of a mission with a host runs its turns on that host's queue: the conversation and the worktree are
  // there. Agents without a host (missions recorded before host affinity) use the shared queue.
  const onHost = input.host ? missionProxies(input.host, (hostId) => setCurrentDetails(hostId ? `${taskId}: waiting for host ${hostId}` : `${taskId}: host ${input.host!.hostId} is back`)) : undefined;
  const turnModel = onHost?.model ?? (local ? localModel : model);
  const turnTools = onHost?.tools ?? (local ? localTools : tools);
  const gitSteps = onHost?.steps ?? steps;
  // New agents open their conversation in their first turn (a step and a round trip less on every agent's path);
  // agents recorded before that open it in a step of its own, and still replay that way.
  const openInTurn = !local && (carried !== undefined || patched(OPEN_IN_FIRST_TURN_PATCH));
  if (!carried && !openInTurn) await (onHost?.steps ?? (local ? localTools : steps)).openAgentSession.executeWithOptions({ summary: `session: open ${taskId}` }, [{ session, input }]);

  let tokens = carried?.tokens ?? ZERO_TOKENS;
  let finish: ToolRunResult['finish'];
  let turn = carried?.turn ?? 0;
  // Agents recorded before it committed in a step of their own after the loop; they still replay that way.
  const commitOnFinish = Boolean(input.commitMessage) && !local && patched(COMMIT_ON_FINISH_PATCH);
  let committed: { commit: string | null } | undefined;
  Object.assign(spent, { tokens, turns: turn }); // a continued run starts from what the earlier runs spent
  // Queries add nothing to history: `mission run` and `mission watch` ask this while the agent works.
  const progress: AgentProgress = { taskId, turn, maxTurns: input.maxTurns, tokens };
  setHandler(agentProgressQuery, () => progress);
  const refused = { count: carried?.refused?.count ?? 0, last: carried?.refused?.last ?? [] };
  const skillsRead = carried?.skillsRead ?? [];
  // Agents recorded before liveness replay without the per-turn timer.
  const watch = input.stallAfterSeconds && patched(LIVENESS_PATCH) ? new TurnWatch(taskId, input.stallAfterSeconds * 1000, workflowInfo().parent?.workflowId) : undefined;
  const step = <T>(waitingOn: string, run: Promise<T>): Promise<T> => (watch ? watch.step(waitingOn, run) : run);
  const steering = new AgentSteering(input.steering, carried?.steered);
  while (!finish && turn < input.maxTurns && steering.stopped === undefined) {
    // The conversation is on disk, so a new run only needs the loop's counters: history restarts near zero.
    if (workflowInfo().continueAsNewSuggested) {
      // Every note it knows goes along; those already in the conversation are marked so that none is added twice.
      const carry = steering.carry();
      const kept = carry.steering.length ? { steering: carry.steering } : {};
      await continueAsNew<typeof feature>({ ...input, ...kept, carried: { turn, tokens, startedAt, ...(refused.count ? { refused } : {}), ...(carry.steered.length ? { steered: carry.steered } : {}), ...(skillsRead.length ? { skillsRead } : {}) } });
    }
    turn += 1;
    setCurrentDetails(`${taskId}: turn ${turn} of at most ${input.maxTurns}, ${tokens.total} tokens so far`);
    progress.turn = turn;
    watch?.turn();
    const notes = steering.pending();
    const turnInput = {
      session,
      turn,
      model: input.model,
      ...(input.contextWindows ? { contextWindows: input.contextWindows } : {}),
      ...(notes.length ? { steering: notes } : {}),
      ...(openInTurn && turn === 1 ? { open: input } : {}),
    };
    const reply = await steering.step(() => step('model call', turnModel.agentTurn.executeWithOptions({ summary: `llm: ${taskId} turn ${turn}` }, [turnInput])));
    if (!reply) break;
    steering.markDelivered(notes);
    tokens = addTokens(tokens, reply.tokens);
    Object.assign(spent, { tokens, turns: turn });
    progress.tokens = tokens;
    // Every tool call gets its answer (the transcript must stay valid), finish included.
    for (const [i, call] of reply.toolCalls.entries()) {
      progress.lastTool = call.label;
      // A finish that ends the reply (and the agent, once accepted) commits the work in the same step.
      const last = i === reply.toolCalls.length - 1 && call.name === 'finish' && !reply.toolCalls.slice(0, i).some((c) => c.name === 'finish');
      const commit: Pick<RunToolInput, 'commit'> = commitOnFinish && last && !finish ? { commit: { message: input.commitMessage!, step: workflowInfo().workflowId, since: input.startCommit } } : {};
      const result: ToolRunResult | undefined = await steering.step(() =>
        step(
          `tool: ${call.label}`,
          turnTools.runTool.executeWithOptions({ summary: `tool: ${call.label}${commit.commit ? ' + commit' : ''}` }, [
            { session, callId: call.id, workdir: input.workdir, repo: input.repo, branch: input.branch, ...(input.sandbox ? { sandbox: input.sandbox } : {}), ...commit },
          ]),
        ),
      );
      if (!result) break;
      if (result.finish && !finish && result.commit !== undefined) committed = { commit: result.commit };
      finish ??= result.finish;
      const skill = call.name === 'read_skill' && result.ok ? call.label.slice('read_skill '.length) : '';
      if (skill && !skillsRead.includes(skill)) skillsRead.push(skill);
      if (result.refused) {
        refused.count += 1;
        refused.last = [...refused.last, result.refused].slice(-MAX_REFUSED_SHOWN);
      }
    }
  }

  watch?.end();
  const stopped = finish ? undefined : steering.stopped;
  const summary = finish?.summary ?? (stopped !== undefined ? `stopped by a person after ${turn} turn(s): ${stopped}` : `stopped at the turn budget (${input.maxTurns} turns) without calling finish`);
  setCurrentDetails(`${taskId}: ${finish?.status ?? 'incomplete'} after ${turn} turn(s): ${summary}`);
  const { commit } = input.commitMessage
    ? (committed ?? await gitSteps.commitWork({
        repo: input.repo,
        workdir: input.workdir,
        message: `${input.commitMessage}\n\n${summary}`,
        step: workflowInfo().workflowId,
        since: input.startCommit,
      }))
    : { commit: null };
  return {
    taskId,
    role: input.task.role,
    state: finish?.status ?? 'incomplete',
    summary,
    branch: input.branch,
    commit,
    turns: turn,
    tokens,
    durationMs: workflowNow() - startedAt,
    ...(refused.count ? { refused } : {}),
    ...(skillsRead.length ? { skillsRead } : {}),
    ...(stopped !== undefined ? { stopped } : {}),
  };
}
