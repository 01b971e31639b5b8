import { patched } from '@temporalio/workflow';
import type { MissionContext } from './agents';

/** Missions recorded before the planner could write skills have no such step (and no plan with newSkills). */
export const MISSION_SKILLS_PATCH = 'mission-skills';

/**
 * After approval: the skills the planner wrote go with the mission, where agents read them (read_skill), and onto
 * the mission branch only when the input sets skills.commit. Returns the commit the work starts from.
 */
export async function installPlanSkills(ctx: MissionContext, head: string): Promise<string> {
  const { state } = ctx;
  const skills = state.status.plan?.newSkills ?? [];
  if (!skills.length || !patched(MISSION_SKILLS_PATCH)) return head;
  const commit = ctx.input.skills.commit;
  const done = await ctx.acts.steps.installSkills.executeWithOptions({ summary: `skills: ${skills.map((s) => s.name).join(', ')}` }, [
    {
      missionKey: ctx.missionKey,
      repo: ctx.prep.repo,
      worktree: ctx.prep.worktree,
      skills,
      commit,
      step: `${ctx.missionId}/skills/${state.status.planRevision}`,
      since: head,
    },
  ]);
  const names = skills.map((s) => s.name).join(', ');
  if (done.commit) state.record('skills', `the plan's skills (${names}) committed to ${ctx.prep.branch} under .agents/skills/ (commit ${done.commit.slice(0, 8)})`);
  else state.record('skills', `the plan's skills (${names}) kept with the mission${commit ? '' : ' (not committed: set skills.commit in the input to commit them)'}`);
  if (done.skipped?.length) state.record('warning', `not committed, the path exists in the repository: ${done.skipped.join(', ')}`);
  return done.commit ?? head;
}
