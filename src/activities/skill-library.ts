import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missionFailure } from '../api/errors';
import { loadContext } from './context';
import { ToolError } from './file-tools';
import { Git } from './gitcore';
import type { MissionPaths } from './paths';
import { SKILL_NAME } from '../api/plan';
import { missionSkillFile, parseSkill, type SkillInfo } from './skills';

/** read_skill returns at most this much of a file (the rest is named, not sent). */
export const MAX_SKILL_READ = 20_000;
/** Names an unknown-skill error lists. */
const MAX_NAMED = 100;
const MAX_FILES_NAMED = 50;

/** The skills one agent may read: the repository's (at the base commit) and the mission's own (under MISSION_HOME). */
export interface SkillLibrary {
  skills: SkillInfo[];
  /** The text of the skill's SKILL.md, or of another file in its folder; a ToolError the model can act on otherwise. */
  read(name: string, file?: string): Promise<string>;
}

/** The mission's skills: the repository's first, then those the planner wrote (kept under the mission's folder). */
export async function missionSkills(paths: MissionPaths, missionKey: string, repoSkills?: SkillInfo[]): Promise<SkillInfo[]> {
  const repo = repoSkills ?? (await loadContext(paths.contextFile(missionKey))).skills;
  const own = await listMissionSkills(paths.skillsDir(missionKey));
  return [...repo, ...own.filter((s) => !repo.some((r) => r.name === s.name))];
}

async function listMissionSkills(dir: string): Promise<SkillInfo[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => SKILL_NAME.test(n)).sort();
  const found = await Promise.all(
    names.map(async (name) => {
      const text = await fs.readFile(path.join(dir, name, 'SKILL.md'), 'utf8').catch(() => undefined);
      return text === undefined ? [] : [{ name, description: parseSkill(name, text).description, path: 'mission' }];
    }),
  );
  return found.flat();
}

/** Keeps the skills of the approved plan with the mission (idempotent: a retry writes the same files). */
export async function saveMissionSkills(dir: string, skills: { name: string; description: string; content: string }[]): Promise<void> {
  for (const skill of skills) {
    // Checked with the plan already; the name becomes a folder, so again here.
    if (!SKILL_NAME.test(skill.name)) throw missionFailure('INVALID_INPUT', `skill name "${skill.name}" is not a valid skill name (lowercase letters, digits and "-")`);
    await fs.mkdir(path.join(dir, skill.name), { recursive: true });
    await fs.writeFile(path.join(dir, skill.name, 'SKILL.md'), missionSkillFile(skill));
  }
}

export async function skillLibrary(paths: MissionPaths, missionKey: string, workdir: string): Promise<SkillLibrary> {
  const context = await loadContext(paths.contextFile(missionKey));
  const skills = await missionSkills(paths, missionKey, context.skills);
  const git = new Git(workdir);
  const names = () => (skills.length ? `known skills: ${skills.slice(0, MAX_NAMED).map((s) => s.name).join(', ')}${skills.length > MAX_NAMED ? ', …' : ''}` : 'this mission has no skills');

  return {
    skills,
    async read(name, file) {
      const skill = skills.find((s) => s.name === name);
      if (!skill) throw new ToolError(`unknown skill "${name}"; ${names()}`);
      const rel = inside(file ?? 'SKILL.md');
      if (skill.path === 'mission') {
        if (rel !== 'SKILL.md') throw new ToolError(`skill "${name}" was written for this mission and has only SKILL.md; call read_skill without "file"`);
        return `Skill ${name} (written for this mission):\n${clip(await fs.readFile(path.join(paths.skillsDir(missionKey), name, 'SKILL.md'), 'utf8'))}`;
      }
      try {
        return await readRepoSkill(git, context.baseCommit, skill, rel);
      } catch (err) {
        // A git failure here (a context without a base commit) is the model's dead end, not the agent's end.
        if (err instanceof ToolError) throw err;
        throw new ToolError(`skill "${name}" could not be read (${(err as Error).message}); go on without it`);
      }
    },
  };
}

/** A file of a repository skill's folder as committed at the base commit (git objects only: no symlink is followed). */
async function readRepoSkill(git: Git, baseCommit: string, skill: SkillInfo, rel: string): Promise<string> {
  const name = skill.name;
  const dir = path.posix.dirname(skill.path);
  const files = async () => (await git.run(['ls-tree', '-r', '--name-only', baseCommit, '--', `${dir}/`])).split('\n').filter(Boolean).map((f) => f.slice(dir.length + 1));
  const target = `${dir}/${rel}`;
  const type = await git.run(['cat-file', '-t', `${baseCommit}:${target}`]).catch(() => undefined);
  if (type !== 'blob') {
    const listed = (await files()).slice(0, MAX_FILES_NAMED);
    throw new ToolError(`skill "${name}" has no file "${rel}"; its files: ${listed.join(', ')}`);
  }
  const size = Number(await git.run(['cat-file', '-s', `${baseCommit}:${target}`]));
  if (size > 5 * MAX_SKILL_READ) throw new ToolError(`${rel} of skill "${name}" has ${size} bytes, more than read_skill returns; read ${target} with read_file instead`);
  const text = await git.run(['show', `${baseCommit}:${target}`]);
  if (text.includes('\0')) throw new ToolError(`${rel} of skill "${name}" is a binary file`);
  const others = rel === 'SKILL.md' ? (await files()).filter((f) => f !== 'SKILL.md') : [];
  const more = others.length ? `\n\n(Other files of this skill, read with read_skill and "file": ${others.slice(0, MAX_FILES_NAMED).join(', ')})` : '';
  return `Skill ${name} (${target} at the base commit):\n${clip(text)}${more}`;
}

/** A path relative to the skill's folder that stays inside it. */
function inside(file: string): string {
  const rel = path.posix.normalize(file.replace(/\\/g, '/'));
  if (path.posix.isAbsolute(rel) || rel === '..' || rel.startsWith('../') || rel === '.' || rel.includes('\0')) {
    throw new ToolError(`file "${file}" is not inside the skill's folder; give a path relative to it, such as "SKILL.md"`);
  }
  return rel;
}

function clip(text: string): string {
  return text.length > MAX_SKILL_READ ? `${text.slice(0, MAX_SKILL_READ)}\n…[${text.length - MAX_SKILL_READ} more characters not shown]` : text;
}
