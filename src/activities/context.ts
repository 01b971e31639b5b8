import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Git } from './gitcore';
import { parseSkill, SKILL_FILE, skillLines, type SkillInfo } from './skills';

/** What the repository tells its agents, read once at prepare from the base commit. */
export interface RepoContext {
  repoName: string;
  baseBranch: string;
  baseCommit: string;
  agentsMd?: string;
  /** Offered by name and description; read on demand (read_skill). */
  skills: SkillInfo[];
  files: string[];
  fileCount: number;
}

const MAX_AGENTS_MD = 20_000;
/** Read of a SKILL.md at prepare: enough for its front matter and first paragraph. */
const MAX_SKILL_HEAD = 8_000;
const MAX_LISTED_FILES = 300;

/** AGENTS.md, the skills (name and description) and the file listing at `commit`. */
export async function readRepoContext(git: Git, repo: string, baseBranch: string, commit: string): Promise<RepoContext> {
  const files = (await git.run(['ls-tree', '-r', '--name-only', commit])).split('\n').filter(Boolean);
  const show = async (file: string, max: number) => (await git.run(['show', `${commit}:${file}`])).slice(0, max);
  const found = await Promise.all(
    files.flatMap((file) => {
      const folder = SKILL_FILE.exec(file)?.[2];
      return folder ? [show(file, MAX_SKILL_HEAD).then((text) => ({ ...parseSkill(folder, text), path: file }))] : [];
    }),
  );
  // The same name twice (.agents and .claude): the first, .agents, is the one offered.
  const skills = found.filter((s, i) => found.findIndex((t) => t.name === s.name) === i);
  return {
    repoName: path.basename(repo),
    baseBranch,
    baseCommit: commit,
    agentsMd: files.includes('AGENTS.md') ? await show('AGENTS.md', MAX_AGENTS_MD) : undefined,
    skills,
    files: files.slice(0, MAX_LISTED_FILES),
    fileCount: files.length,
  };
}

export async function saveContext(file: string, context: RepoContext): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(context, null, 2));
}

export async function loadContext(file: string): Promise<RepoContext> {
  try {
    const context = JSON.parse(await fs.readFile(file, 'utf8')) as RepoContext;
    // Saved before skills were offered by description: each skill kept its (bounded) SKILL.md as `content`.
    context.skills = (context.skills ?? []).map((s) => {
      const old = s as SkillInfo & { content?: string };
      return old.description === undefined ? { ...parseSkill(s.name, old.content ?? ''), path: s.path } : { name: s.name, description: s.description, path: s.path };
    });
    return context;
  } catch {
    // Context only improves prompts; a missing file must not stop the work.
    return { repoName: 'repository', baseBranch: 'main', baseCommit: '', skills: [], files: [], fileCount: 0 };
  }
}

/** AGENTS.md and the skills on offer (name and description, never their bodies), as a prompt section. */
export function contextSection(context: Pick<RepoContext, 'agentsMd'>, skills: readonly SkillInfo[], skillsIntro: string): string {
  const parts: string[] = [];
  if (context.agentsMd) parts.push(`## AGENTS.md (the repository's instructions for agents)\n${context.agentsMd}`);
  if (skills.length) parts.push(`## Skills\n${skillsIntro}\n${skillLines(skills).join('\n')}`);
  return parts.join('\n\n');
}
