import { activityContext, heartbeat } from './activity-context';
import type { ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { FeatureInput, SessionRef, ToolRunResult } from '../api/agent';
import { missionFailure } from '../api/errors';
import { loadContext } from './context';
import type { MissionPaths } from './paths';
import { agentMessages } from './prompts';
import { loadSession, newSession, requireSession, saveSession } from './session';
import type { Sandbox } from './sandbox';
import { executeTool } from './tools';

export interface RunToolInput {
  session: SessionRef;
  callId: string;
  workdir: string;
  /** The mission's sandbox settings (absent in histories recorded before there was a sandbox: network off). */
  sandbox?: { network: boolean; env: string[] };
}

export function createAgentActivities(deps: { paths: MissionPaths; sandbox: Sandbox }) {
  const { paths } = deps;

  /** Writes the agent's opening messages once; a retry finds them and does nothing. */
  async function openAgentSession(input: { session: SessionRef; input: FeatureInput }): Promise<void> {
    const file = paths.sessionFile(input.session.missionKey, input.session.name);
    if (await loadSession(file)) return;
    const context = await loadContext(paths.contextFile(input.input.missionKey));
    await saveSession(file, newSession(agentMessages(input.input, context)));
  }

  /** Runs one tool call of the conversation and appends its answer; a recorded answer is returned as it was. */
  async function runTool(input: RunToolInput): Promise<ToolRunResult> {
    const file = paths.sessionFile(input.session.missionKey, input.session.name);
    const session = await requireSession(file);
    const recorded = session.tools[input.callId];
    if (recorded) return recorded;

    const call = findToolCall(session.messages, input.callId);
    if (!call) throw missionFailure('SESSION_CORRUPT', `tool call ${input.callId} is not in conversation ${input.session.name}`);
    const context = activityContext();
    const outcome = await executeTool(
      {
        root: input.workdir,
        sandbox: deps.sandbox,
        network: input.sandbox?.network ?? false,
        envNames: input.sandbox?.env,
        signal: context?.cancellationSignal,
        onProgress: () => heartbeat(context),
      },
      call.function.name,
      call.function.arguments,
    );
    session.messages.push({ role: 'tool', tool_call_id: input.callId, content: outcome.output });
    const result: ToolRunResult = {
      ok: outcome.ok,
      label: outcome.label,
      ...(outcome.finish ? { finish: outcome.finish } : {}),
      ...(outcome.refused ? { refused: outcome.refused } : {}),
    };
    session.tools[input.callId] = result;
    await saveSession(file, session);
    return result;
  }

  return { openAgentSession, runTool };
}

function findToolCall(messages: { role: string }[], callId: string): ChatCompletionMessageFunctionToolCall | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role: string; tool_calls?: ChatCompletionMessageFunctionToolCall[] };
    const found = message.role === 'assistant' ? message.tool_calls?.find((c) => c.id === callId) : undefined;
    if (found) return found;
  }
  return undefined;
}

