import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missionFailure } from '../api/errors';
import type { NewSkill } from '../api/plan';
import { Git } from './gitcore';
import { withRepoLock } from './locks';
import type { MissionPaths } from './paths';
import { saveMissionSkills } from './skill-library';
import { missionSkillFile } from './skills';

export interface InstallSkillsInput {
  missionKey: string;
  repo: string;
  /** The mission worktree (on the mission branch). */
  worktree: string;
  skills: NewSkill[];
  /** The input's skills.commit: also commit them to the mission branch under .agents/skills/. */
  commit: boolean;
  step: string;
  /** The mission branch's head before this step (its commit, if any, is found after it on a retry). */
  since: string;
}

/**
 * The skills of the approved plan: always kept with the mission (MISSION_HOME), where agents read them with
 * read_skill; committed to the mission branch only when the input asks. Never on the user's branch.
 */
export function createSkillActivities(deps: { paths: MissionPaths }) {
  async function installSkills(input: InstallSkillsInput): Promise<{ commit?: string; skipped?: string[] }> {
    await saveMissionSkills(deps.paths.skillsDir(input.missionKey), input.skills);
    if (!input.commit) return {};
    return withRepoLock(input.repo, async () => {
      const git = new Git(input.worktree);
      const done = await git.findStepCommit(input.step, input.since);
      if (done) return { commit: done };
      await git.requireMissionBranch();
      const skipped: string[] = [];
      for (const skill of input.skills) {
        const dir = path.join('.agents', 'skills', skill.name);
        const file = path.join(input.worktree, dir, 'SKILL.md');
        // No agent has run yet, but the repository itself may hold a symlink on the way: never write through one.
        if ((await blockedPath(input.worktree, dir)) || (await fs.lstat(file).catch(() => undefined))) {
          skipped.push(`${dir}/SKILL.md`);
          continue;
        }
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, missionSkillFile(skill));
      }
      const names = input.skills.map((s) => s.name).join(', ');
      const commit = await git.commitAll(`Mission skills: ${names}`, input.step);
      if (!commit && skipped.length < input.skills.length) throw missionFailure('GIT_FAILED', `committing the mission's skills (${names}) in ${input.worktree} made no commit`);
      return { ...(commit ? { commit } : {}), ...(skipped.length ? { skipped } : {}) };
    });
  }

  return { installSkills };
}

async function blockedPath(root: string, rel: string): Promise<boolean> {
  let current = root;
  for (const part of rel.split(path.sep)) {
    current = path.join(current, part);
    const stat = await fs.lstat(current).catch(() => undefined);
    if (!stat) return false;
    if (!stat.isDirectory()) return true;
  }
  return false;
}
