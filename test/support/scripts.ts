import type { Plan, PlanFeature, PlanMilestone } from '../../src/api/plan';
import type { ScriptedMessage, ScriptedToolCall } from './model-server';

type FeatureSketch = Partial<PlanFeature> & { id: string };
type MilestoneSketch = Partial<Omit<PlanMilestone, 'features'>> & { id: string; features: FeatureSketch[] };

/** A complete plan from a sketch: only ids, files and dependencies matter to most tests. */
export function makePlan(milestones: MilestoneSketch[], title = 'Test plan'): Plan {
  return {
    title,
    summary: `${title} summary`,
    assumptions: [],
    risks: [],
    milestones: milestones.map((m) => ({
      title: `Milestone ${m.id}`,
      goal: `Goal of ${m.id}`,
      validation: [],
      ...m,
      features: m.features.map((f) => ({
        title: `Feature ${f.id}`,
        description: `Do ${f.id}`,
        acceptanceCriteria: [],
        files: [],
        dependsOn: [],
        ...f,
      })),
    })),
  };
}

export const planReply = (plan: unknown): ScriptedMessage => ({ content: JSON.stringify(plan) });

export const call = (name: string, args: unknown): ScriptedToolCall => ({ name, arguments: args });
export const tools = (...toolCalls: ScriptedToolCall[]): ScriptedMessage => ({ toolCalls });
export const finish = (summary = 'done', status: 'done' | 'blocked' = 'done'): ScriptedMessage => tools(call('finish', { summary, status }));

/** An agent that writes the given files (one turn each) and finishes. */
export function writesFiles(files: Record<string, string>, summary = 'wrote files'): ScriptedMessage[] {
  return [...Object.entries(files).map(([path, content]) => tools(call('write_file', { path, content }))), finish(summary)];
}
