import { promises as fs } from 'node:fs';
import path from 'node:path';

/** What the repository tells its agents, read once at prepare from the base commit. */
export interface RepoContext {
  repoName: string;
  baseBranch: string;
  baseCommit: string;
  agentsMd?: string;
  skills: { name: string; path: string; content: string }[];
  files: string[];
  fileCount: number;
}

export async function saveContext(file: string, context: RepoContext): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(context, null, 2));
}

export async function loadContext(file: string): Promise<RepoContext> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as RepoContext;
  } catch {
    // Context only improves prompts; a missing file must not stop the work.
    return { repoName: 'repository', baseBranch: 'main', baseCommit: '', skills: [], files: [], fileCount: 0 };
  }
}

/** AGENTS.md and skills, as a prompt section. */
export function contextSection(context: RepoContext): string {
  const parts: string[] = [];
  if (context.agentsMd) parts.push(`## AGENTS.md (the repository's instructions for agents)\n${context.agentsMd}`);
  for (const skill of context.skills) parts.push(`## Skill: ${skill.name} (${skill.path})\n${skill.content}`);
  return parts.join('\n\n');
}
