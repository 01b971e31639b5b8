import { activityContext, heartbeat, whileHeartbeating } from './activity-context';
import type { ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { FeatureInput, SessionRef, ToolRunResult } from '../api/agent';
import { missionFailure } from '../api/errors';
import { loadContext } from './context';
import { commitAgentWork } from './git';
import { assertUnchanged, snapshotRepo } from './integrity';
import type { MissionPaths } from './paths';
import { agentMessages } from './prompts';
import { missionSkills, skillLibrary } from './skill-library';
import { loadSession, newSession, requireSession, saveSession } from './session';
import { cutOutput, outputLimitChars, savedOutputName, savedOutputRead, saveOutput } from './tool-output';
import type { Sandbox } from './sandbox';
import { executeTool } from './tools';

export interface RunToolInput {
  session: SessionRef;
  callId: string;
  workdir: string;
  /** The user's repository and the agent's branch: what the after-command check guards (absent in runs recorded before it). */
  repo?: string;
  branch?: string;
  /** The mission's sandbox settings (absent in histories recorded before there was a sandbox: network off). */
  sandbox?: { network: boolean; env: string[] };
  /**
   * On the agent's last call of a reply when it is a finish: commit the work once finish is accepted, with the
   * summary added to the message (the commitWork step, without a round trip of its own).
   */
  commit?: { message: string; step: string; since: string };
}

export function createAgentActivities(deps: { paths: MissionPaths; sandbox: Sandbox }) {
  const { paths } = deps;

  /** Writes the agent's opening messages once (agents recorded before their first turn did it); a retry does nothing. */
  async function openAgentSession(input: { session: SessionRef; input: FeatureInput }): Promise<void> {
    await openSession(paths, input.session, input.input);
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
    // Commands are what could reach the user's repository (the file tools are confined to the worktree and refuse
    // .git): each one is bracketed by snapshots of it, and one that changed it fails the agent (integrity.ts).
    const guard = call.function.name === 'run_command' && input.repo ? { repo: input.repo, workdir: input.workdir, missionKey: input.session.missionKey, branch: input.branch } : undefined;
    const before = guard && (await snapshotRepo(guard));
    const outputs = paths.outputsDir(input.session.missionKey, input.session.name);
    // read_file on an `@output/…` path pages through a saved output instead of the working tree.
    const savedRead = savedOutputRead(call.function.name, call.function.arguments);
    const outcome = await executeTool(
      {
        root: savedRead ? outputs : input.workdir,
        sandbox: deps.sandbox,
        network: input.sandbox?.network ?? false,
        envNames: input.sandbox?.env,
        signal: context?.cancellationSignal,
        onProgress: () => heartbeat(context),
        ...(call.function.name === 'read_skill' ? { skills: await skillLibrary(paths, input.session.missionKey, input.workdir) } : {}),
      },
      call.function.name,
      savedRead ?? call.function.arguments,
    );
    if (guard && before) assertUnchanged(guard.repo, before, await snapshotRepo(guard), `the agent's command (${outcome.label})`);
    let content = outcome.output;
    const limit = outputLimitChars(session.window);
    if (content.length > limit) {
      const name = savedOutputName(input.callId);
      await saveOutput(outputs, name, content);
      content = cutOutput(content, limit, name);
    }
    session.messages.push({ role: 'tool', tool_call_id: input.callId, content });
    const result: ToolRunResult = {
      ok: outcome.ok,
      label: outcome.label,
      ...(outcome.finish ? { finish: outcome.finish } : {}),
      ...(outcome.refused ? { refused: outcome.refused } : {}),
    };
    if (outcome.finish && input.commit) {
      const { message, ...step } = input.commit;
      const commit = await whileHeartbeating(() => commitAgentWork({ repo: input.repo ?? input.workdir, workdir: input.workdir, message: `${message}\n\n${outcome.finish!.summary}`, ...step }));
      result.commit = commit;
    }
    session.tools[input.callId] = result;
    await saveSession(file, session);
    return result;
  }

  return { openAgentSession, runTool };
}

/** Writes an agent's opening messages unless its conversation exists: a retry, or a later turn, finds them and does nothing. */
export async function openSession(paths: MissionPaths, ref: SessionRef, input: FeatureInput): Promise<void> {
  const file = paths.sessionFile(ref.missionKey, ref.name);
  if (await loadSession(file)) return;
  const context = await loadContext(paths.contextFile(input.missionKey));
  const skills = await missionSkills(paths, input.missionKey, context.skills);
  const session = newSession(agentMessages(input, context, skills));
  if (!skills.length) session.noSkills = true;
  if (input.prices) session.prices = input.prices;
  await saveSession(file, session);
}

function findToolCall(messages: { role: string }[], callId: string): ChatCompletionMessageFunctionToolCall | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role: string; tool_calls?: ChatCompletionMessageFunctionToolCall[] };
    const found = message.role === 'assistant' ? message.tool_calls?.find((c) => c.id === callId) : undefined;
    if (found) return found;
  }
  return undefined;
}

