import { SKILL_NAME } from '../api/plan';

/**
 * Skills (Agent Skills: a folder with a SKILL.md whose YAML front matter has `name` and `description`). Prompts
 * offer them by name and description only; an agent reads the one it needs with the read_skill tool
 * (./skill-library.ts), so a repository with many long skills does not fill every prompt with them.
 */

/** A skill as prompts offer it. */
export interface SkillInfo {
  name: string;
  description: string;
  /** Where its SKILL.md is: a path in the repository (`.agents/skills/testing/SKILL.md`), or `mission` for one the planner wrote. */
  path: string;
}

/** SKILL.md files the repository's skills are read from (at the base commit). */
export const SKILL_FILE = /^\.(agents|claude)\/skills\/([^/]+)\/SKILL\.md$/;
/** Kept of a description (the Agent Skills limit); prompts show less (MAX_SHOWN_DESCRIPTION). */
const MAX_DESCRIPTION = 1024;
const MAX_SHOWN_DESCRIPTION = 300;
/** Skills a prompt lists; the rest are named by an unknown-skill error of read_skill. */
export const MAX_LISTED_SKILLS = 30;

/** The name and description of a skill from its SKILL.md: the front matter's, else the folder's name and the first paragraph. */
export function parseSkill(folder: string, text: string): { name: string; description: string } {
  const { fields, body } = frontMatter(text);
  const name = fields.name && SKILL_NAME.test(fields.name) ? fields.name : folder;
  const description = fields.description || firstParagraph(body) || `(no description; read it to see what it is for)`;
  return { name, description: bounded(description, MAX_DESCRIPTION) };
}

/**
 * The `key: value` pairs of a YAML front matter, enough for skills: plain, quoted and block (`|`, `>`) scalars,
 * and plain values continued on indented lines. Nested maps and lists are skipped (their lines are indented).
 */
export function frontMatter(text: string): { fields: Record<string, string>; body: string } {
  const match = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!match) return { fields: {}, body: text };
  const fields: Record<string, string> = {};
  const lines = match[1]!.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const pair = /^([A-Za-z_][\w-]*):(?:[ \t]+(.*))?$/.exec(lines[i]!);
    if (!pair) continue;
    const value = (pair[2] ?? '').replace(/[ \t]+#.*$/, '').trim();
    const more: string[] = [];
    while (i + 1 < lines.length && (/^[ \t]+\S/.test(lines[i + 1]!) || (lines[i + 1]!.trim() === '' && /^[ \t]/.test(lines[i + 2] ?? '')))) more.push(lines[++i]!.trim());
    if (/^[|>][+-]?$/.test(value)) fields[pair[1]!] = value.startsWith('|') ? more.join('\n').trim() : more.filter(Boolean).join(' ');
    else fields[pair[1]!] = unquote([value, ...more].filter(Boolean).join(' '));
  }
  return { fields, body: text.slice(match[0].length) };
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      return JSON.parse(value) as string;
    } catch {
      return value.slice(1, -1);
    }
  }
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1).replace(/''/g, "'");
  return value;
}

/** The first paragraph of Markdown that is not a heading, on one line. */
function firstParagraph(body: string): string {
  for (const block of body.split(/\r?\n[ \t]*\r?\n/)) {
    const text = block.split(/\r?\n/).filter((l) => !/^\s*#/.test(l)).join(' ').replace(/\s+/g, ' ').trim();
    if (text) return text;
  }
  return '';
}

const bounded = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** One line per skill (`- name: description`), at most MAX_LISTED_SKILLS of them. */
export function skillLines(skills: readonly SkillInfo[]): string[] {
  const lines = skills.slice(0, MAX_LISTED_SKILLS).map((s) => `- ${s.name}${s.description ? `: ${bounded(s.description.replace(/\s+/g, ' '), MAX_SHOWN_DESCRIPTION)}` : ''}`);
  if (skills.length > MAX_LISTED_SKILLS) lines.push(`- …and ${skills.length - MAX_LISTED_SKILLS} more (read_skill with an unknown name lists every name)`);
  return lines;
}

/** The SKILL.md written for a skill the planner wrote: its content, under a front matter unless it has one. */
export function missionSkillFile(skill: { name: string; description: string; content: string }): string {
  if (/^---[ \t]*\r?\n/.test(skill.content)) return skill.content;
  return `---\nname: ${skill.name}\ndescription: ${JSON.stringify(skill.description.replace(/\s+/g, ' '))}\n---\n\n${skill.content.trimEnd()}\n`;
}
