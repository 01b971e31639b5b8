import { workflowInfo } from '@temporalio/workflow';
import { FeatureInput, type FeatureResult, type ToolRunResult } from '../api/agent';
import { missionFailure } from '../api/errors';
import { describeIssues } from '../api/issues';
import { addTokens, ZERO_TOKENS } from '../api/status';
import { steps, model, tools } from './proxies';

/**
 * The `feature` child workflow: one agent, one task, one working directory.
 * Each model turn and each tool call is an activity; the conversation itself stays on the worker's
 * disk, so the history grows by a constant amount per turn however long the conversation gets.
 */
export async function feature(raw: FeatureInput): Promise<FeatureResult> {
  const parsed = FeatureInput.safeParse(raw);
  if (!parsed.success) {
    throw missionFailure('INVALID_INPUT', `Invalid feature input: ${describeIssues(parsed.error, FeatureInput).join('; ')}`);
  }
  const input = parsed.data;
  const startedAt = Date.now();
  const session = { missionKey: input.missionKey, name: `feature-${input.feature.id}` };
  await steps.openFeatureSession({ session, feature: input });

  let tokens = ZERO_TOKENS;
  let finish: ToolRunResult['finish'];
  let turn = 0;
  while (!finish && turn < input.maxTurns) {
    turn += 1;
    const reply = await model.agentTurn({ session, turn, model: input.model });
    tokens = addTokens(tokens, reply.tokens);
    // Every tool call gets its answer (the transcript must stay valid), finish included.
    for (const call of reply.toolCalls) {
      const result = await tools.runTool({ session, callId: call.id, workdir: input.workdir });
      finish ??= result.finish;
    }
  }

  const summary = finish?.summary ?? `stopped at the turn budget (${input.maxTurns} turns) without calling finish`;
  const { commit } = await steps.commitWork({
    repo: input.repo,
    workdir: input.workdir,
    message: `${input.feature.id}: ${input.feature.title}\n\n${summary}`,
    step: workflowInfo().workflowId,
    since: input.startCommit,
  });
  return {
    featureId: input.feature.id,
    state: finish?.status ?? 'incomplete',
    summary,
    branch: input.branch,
    commit,
    turns: turn,
    tokens,
    durationMs: Date.now() - startedAt,
  };
}
