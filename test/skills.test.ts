import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { planMarkdown } from '../src/api/gate';
import { checkPlan, type Plan } from '../src/api/plan';
import type { FeatureInput } from '../src/api/agent';
import { loadContext, readRepoContext, saveContext } from '../src/activities/context';
import { createGitActivities } from '../src/activities/git';
import { createSkillActivities } from '../src/activities/skill-steps';
import { Git } from '../src/activities/gitcore';
import { MissionPaths } from '../src/activities/paths';
import { planJsonSchema } from '../src/activities/plan-format';
import { agentMessages, planMessages } from '../src/activities/prompts';
import { frontMatter, MAX_LISTED_SKILLS, parseSkill, skillLines } from '../src/activities/skills';
import { executeTool, TOOL_DEFINITIONS } from '../src/activities/tools';
import { saveMissionSkills, skillLibrary } from '../src/activities/skill-library';
import { git, makeRepo, tempDir, treeAt } from './support/repo';
import { makePlan } from './support/scripts';

const limits = { maxMilestones: 2, maxFeaturesPerMilestone: 2 };

describe('SKILL.md front matter', () => {
  it('reads name and description: plain, quoted, folded and literal values', () => {
    expect(parseSkill('dir', '---\nname: api-tests\ndescription: Run the API tests. # a comment\nlicense: MIT\n---\n# Body\n')).toEqual({ name: 'api-tests', description: 'Run the API tests.' });
    expect(parseSkill('dir', "---\nname: \"quoted\"\ndescription: 'It''s quoted'\n---\n").description).toBe("It's quoted");
    expect(parseSkill('dir', '---\ndescription: >\n  Folded over\n  two lines.\nmetadata:\n  version: 1\n---\n')).toEqual({ name: 'dir', description: 'Folded over two lines.' });
    expect(frontMatter('---\ndescription: |\n  one\n  two\n---\nbody').fields.description).toBe('one\ntwo');
    expect(parseSkill('dir', '---\ndescription: A plain value\n  continued here.\n---\n').description).toBe('A plain value continued here.');
  });

  it('falls back to the folder name and the first paragraph that is not a heading, bounded', () => {
    expect(parseSkill('style', '# Style\n\nKeep it\nshort.\n\nMore.')).toEqual({ name: 'style', description: 'Keep it short.' });
    expect(parseSkill('Bad_Name', '---\nname: Not Valid\n---\n\nBody line.')).toEqual({ name: 'Bad_Name', description: 'Body line.' });
    expect(parseSkill('long', 'x'.repeat(5000)).description).toHaveLength(1024);
    expect(parseSkill('empty', '').description).toMatch(/no description/);
  });

  it('lists at most MAX_LISTED_SKILLS skills, each description cut for the prompt', () => {
    const many = Array.from({ length: MAX_LISTED_SKILLS + 5 }, (_, i) => ({ name: `s${i}`, description: 'd'.repeat(400), path: 'x' }));
    const lines = skillLines(many);
    expect(lines).toHaveLength(MAX_LISTED_SKILLS + 1);
    expect(lines[0]!.length).toBeLessThan(320);
    expect(lines.at(-1)).toMatch(/and 5 more/);
  });
});

describe('skills in the plan', () => {
  const withSkills = (skills: string[], newSkills?: Plan['newSkills']) => ({ ...makePlan([{ id: 'm1', features: [{ id: 'a', skills }] }]), ...(newSkills ? { newSkills } : {}) });

  it('accepts skills of the repository and of newSkills, and plans without either (older plans)', () => {
    expect(checkPlan(makePlan([{ id: 'm1', features: [{ id: 'a' }] }]), limits)).toEqual([]);
    expect(checkPlan(withSkills(['testing', 'notes'], [{ name: 'notes', description: 'd', content: 'c' }]), limits, ['testing'])).toEqual([]);
  });

  it('refuses unknown skills and bad new skills, saying what to do', () => {
    expect(checkPlan(withSkills(['deploy']), limits, ['testing'])).toEqual([
      'feature "a" names skill "deploy", which is neither a skill of the repository nor one of the plan\'s newSkills; use one of "testing", or write it in newSkills',
    ]);
    expect(checkPlan(withSkills(['x']), limits)[0]).toMatch(/use none \(there are no skills: use \[\]\)/);
    const bad = [
      { name: 'Bad Name', description: 'd', content: 'c' },
      { name: 'testing', description: 'd', content: 'c' },
      { name: 'big', description: 'd'.repeat(501), content: 'c'.repeat(6001) },
      { name: 'big', description: 'd', content: 'c' },
    ];
    const errors = checkPlan(withSkills([], bad), limits, ['testing']);
    expect(errors).toEqual(
      expect.arrayContaining([
        'the plan writes 4 newSkills but at most 3 are allowed; keep the ones the work needs most',
        expect.stringMatching(/^new skill "Bad Name": the name must be/),
        expect.stringMatching(/^new skill "testing" has the name of a skill of the repository/),
        expect.stringMatching(/^new skill "big": the description has 501 characters, at most 500/),
        expect.stringMatching(/^new skill "big": the content has 6001 characters, at most 6000/),
        'new skill "big" is written twice; keep one',
      ]),
    );
  });

  it('asks for skills and newSkills in the JSON schema (strict mode: every property required), bounded', () => {
    type Node = { required?: string[]; maxItems?: number; items?: Node; properties?: Record<string, Node> };
    const schema = planJsonSchema(limits) as Node;
    expect(schema.required).toContain('newSkills');
    expect(schema.properties!.newSkills!.maxItems).toBe(3);
    const feature = schema.properties!.milestones!.items!.properties!.features!.items!;
    expect(feature.required).toContain('skills');
    expect(feature.properties!.skills!.maxItems).toBe(8);
  });

  it('shows assigned skills and the new skills (content cut) in the plan at the gate', () => {
    const content = `# Notes\n\n\`\`\`sh\nnpm test\n\`\`\`\n${'z'.repeat(2000)}`;
    const markdown = planMarkdown(withSkills(['notes'], [{ name: 'notes', description: 'When to take notes.', content }]), 1);
    expect(markdown).toContain('- **a** Feature a — skills: notes');
    expect(markdown).toContain('- **notes**: When to take notes.');
    expect(markdown).toContain('````markdown\n# Notes\n\n```sh');
    expect(markdown).toMatch(/…\(\d+ more characters\)\n````/);
  });
});

describe('prompts', () => {
  const context = { repoName: 'r', baseBranch: 'main', baseCommit: 'abc', files: [], fileCount: 0, skills: [
    { name: 'testing', description: 'How to test.', path: '.agents/skills/testing/SKILL.md' },
    { name: 'style', description: 'How to write.', path: '.claude/skills/style/SKILL.md' },
  ] };
  const input = (skills?: string[]): FeatureInput => ({
    missionId: 'm', missionKey: 'm', prompt: 'goal', repo: '/r', workdir: '/w', branch: 'b', startCommit: 'abc', maxTurns: 5,
    task: { role: 'feature', milestone: { id: 'm1', title: 't', goal: 'g' }, feature: { ...makePlan([{ id: 'm1', features: [{ id: 'f' }] }]).milestones[0]!.features[0]!, ...(skills ? { skills } : {}) } },
  });

  it('a feature agent sees its assigned skills first and the others after, by description', () => {
    const user = String(agentMessages(input(['style']), context)[1]!.content);
    expect(user.indexOf('Skills assigned to this task')).toBeLessThan(user.indexOf('Other skills you may read'));
    expect(user).toContain('Skills assigned to this task: read each with read_skill before you start:\n- style: How to write.');
    expect(user).toContain('Other skills you may read with read_skill when they apply:\n- testing: How to test.');
    const plain = String(agentMessages(input(), context)[1]!.content);
    expect(plain).not.toContain('Skills assigned');
    expect(plain).toContain('- style: How to write.');
    expect(String(agentMessages(input(), { ...context, skills: [] })[1]!.content)).not.toContain('## Skills');
  });

  it('the planner is told the skills and how to assign and write them', () => {
    const user = String(planMessages('goal', limits, context)[1]!.content);
    expect(user).toContain('- testing: How to test.');
    expect(user).toMatch(/In each feature's "skills", name those/);
    expect(user).toMatch(/"newSkills" \(else \[\]\): at most 3/);
  });
});

describe('read_skill', () => {
  async function library(files: Record<string, string>) {
    const repo = makeRepo({ 'README.md': '# r\n', ...files });
    const commit = git(repo, 'rev-parse', 'HEAD');
    const paths = new MissionPaths(tempDir());
    await saveContext(paths.contextFile('k'), await readRepoContext(new Git(repo), repo, 'main', commit));
    // Later work in the worktree does not change what a skill says: it is read at the base commit.
    writeFileSync(path.join(repo, '.agents/skills/testing/SKILL.md'), 'CHANGED');
    return { repo, paths };
  }
  const files = {
    '.agents/skills/testing/SKILL.md': '---\nname: testing\ndescription: How to test.\n---\nBODY of testing\n',
    '.agents/skills/testing/scripts/run.sh': 'npm test\n',
    '.claude/skills/testing/SKILL.md': 'shadowed by the .agents one\n',
  };

  it('returns SKILL.md and other files of the skill from the base commit; unknown names and paths outside are errors', async () => {
    const { repo, paths } = await library(files);
    const skills = await skillLibrary(paths, 'k', repo);
    const read = (args: unknown) => executeTool({ root: repo, skills }, 'read_skill', JSON.stringify(args));
    expect(skills.skills.map((s) => s.name)).toEqual(['testing']);
    const body = await read({ name: 'testing' });
    expect(body).toMatchObject({ ok: true, label: 'read_skill testing' });
    expect(body.output).toContain('BODY of testing');
    expect(body.output).toContain('(Other files of this skill, read with read_skill and "file": scripts/run.sh)');
    expect((await read({ name: 'testing', file: 'scripts/run.sh' })).output).toContain('npm test');
    expect(await read({ name: 'nope' })).toMatchObject({ ok: false, output: 'error: unknown skill "nope"; known skills: testing' });
    expect(await read({ name: 'testing', file: '../../../README.md' })).toMatchObject({ ok: false, output: expect.stringMatching(/not inside the skill's folder/) });
    expect(await read({ name: 'testing', file: 'missing.md' })).toMatchObject({ ok: false, output: expect.stringMatching(/has no file "missing.md"; its files: SKILL.md, scripts\/run.sh/) });
    expect(await read({ name: 'testing', file: 'scripts' })).toMatchObject({ ok: false, output: expect.stringMatching(/has no file "scripts"/) });
  });

  it("reads the mission's own skills from the mission folder, and says so when there are none", async () => {
    const { repo, paths } = await library(files);
    await saveMissionSkills(paths.skillsDir('k'), [{ name: 'notes', description: 'When to take notes.', content: 'NOTES body' }]);
    mkdirSync(path.join(paths.skillsDir('k'), 'Not-A-Skill'), { recursive: true });
    const skills = await skillLibrary(paths, 'k', repo);
    expect(skills.skills).toEqual([expect.objectContaining({ name: 'testing' }), { name: 'notes', description: 'When to take notes.', path: 'mission' }]);
    expect(await skills.read('notes')).toMatch(/^Skill notes \(written for this mission\):\n---\nname: notes\ndescription: "When to take notes."\n---\n\nNOTES body/);
    await expect(skills.read('notes', 'other.md')).rejects.toThrow(/has only SKILL.md/);
    expect(await executeTool({ root: repo }, 'read_skill', '{"name":"x"}')).toMatchObject({ ok: false, output: 'error: this mission has no skills' });
  });

  it('is one of the tools offered to agents', () => {
    expect(TOOL_DEFINITIONS.map((t) => t.function.name)).toContain('read_skill');
  });
});

describe('installSkills', () => {
  async function prepared(files: Record<string, string> = { 'README.md': '# r\n' }) {
    const repo = makeRepo(files);
    const paths = new MissionPaths(tempDir('mission-home-'));
    const prep = await createGitActivities({ paths }).prepareMission({ missionId: 'k', missionKey: 'k', runId: 'r', repo, baseBranch: 'main' });
    const input = { missionKey: 'k', repo, worktree: prep.worktree, skills: [NOTES], commit: true, step: 'k/skills/1', since: prep.baseCommit };
    return { repo, paths, prep, input, install: createSkillActivities({ paths }).installSkills };
  }
  const NOTES = { name: 'notes', description: 'When to take notes.', content: 'NOTES body' };

  it('keeps the skills with the mission and commits them once to the mission branch when asked', async () => {
    const { repo, paths, prep, input, install } = await prepared();
    const first = await install(input);
    expect(await install(input)).toEqual(first); // a retry finds its commit
    expect(git(repo, 'rev-list', '--count', `${prep.baseCommit}..${prep.branch}`)).toBe('1');
    expect(treeAt(repo, prep.branch)['.agents/skills/notes/SKILL.md']).toContain('NOTES body');
    expect(readFileSync(path.join(paths.skillsDir('k'), 'notes', 'SKILL.md'), 'utf8')).toContain('NOTES body');
    expect(Object.keys(treeAt(repo, 'main'))).toEqual(['README.md']);
  });

  it('keeps them with the mission only by default, and never writes through a symlink the repository holds', async () => {
    const plain = await prepared();
    expect(await plain.install({ ...plain.input, commit: false })).toEqual({});
    expect(git(plain.repo, 'rev-parse', plain.prep.branch)).toBe(plain.prep.baseCommit);
    const outside = tempDir();
    const linked = await prepared({ 'README.md': '# r\n' });
    symlinkSync(outside, path.join(linked.prep.worktree, '.agents'));
    git(linked.prep.worktree, 'add', '.agents');
    git(linked.prep.worktree, 'commit', '-qm', 'link');
    const since = git(linked.prep.worktree, 'rev-parse', 'HEAD');
    expect(await linked.install({ ...linked.input, since })).toEqual({ skipped: ['.agents/skills/notes/SKILL.md'] });
    expect(readdirSync(outside)).toEqual([]);
  });
});

it('reads a context saved before skills were offered by description (each skill with its content)', async () => {
  const file = path.join(tempDir(), 'context.json');
  writeFileSync(file, JSON.stringify({ repoName: 'r', baseBranch: 'main', baseCommit: 'abc', files: [], fileCount: 0, skills: [{ name: 'testing', path: '.agents/skills/testing/SKILL.md', content: '# Testing\n\nRun npm test.\n' }] }));
  expect((await loadContext(file)).skills).toEqual([{ name: 'testing', description: 'Run npm test.', path: '.agents/skills/testing/SKILL.md' }]);
});
