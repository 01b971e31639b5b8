import { approvePlanSignal } from '../src/api/messages';
import { renderReport } from '../src/api/report';
import { progressLines } from '../src/cli/progress';
import { useHarness } from './support/harness';
import { makeRepo, treeAt } from './support/repo';
import { call, makePlan, planReply, tools, writesFiles } from './support/scripts';

/** Issue 17, item 6: skills offered by name and description, read on demand, assigned and written by the planner. */

const h = useHarness('skills');

const TESTING = ['---', 'name: testing', 'description: How to run and write the tests of this repository.', '---', '', '# Testing', '', 'TESTING-BODY: run npm test.', ''].join('\n');
const STYLE = '# Style\n\nKeep functions short and named for what they do.\n\nSTYLE-BODY: no abbreviations.\n';
const SKILLS = { 'README.md': '# demo\n', '.agents/skills/testing/SKILL.md': TESTING, '.claude/skills/style/SKILL.md': STYLE };

const text = (messages: { content?: unknown }[]) => messages.map((m) => String(m.content ?? '')).join('\n');
const toolAnswers = (messages: { role: string; content?: unknown }[]) => messages.filter((m) => m.role === 'tool').map((m) => String(m.content));

test('skills are offered by description, assigned by the plan, and read on demand with read_skill', async () => {
  const repo = makeRepo(SKILLS);
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'f', files: ['f.txt'], skills: ['testing'] }] }]))]);
  h.model.script('feature f', [tools(call('read_skill', { name: 'testing' })), tools(call('read_skill', { name: 'nope' })), ...writesFiles({ 'f.txt': 'f' })]);

  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');

  const plan = text(h.model.requestsFor('plan')[0]!.body.messages);
  expect(plan).toContain('- testing: How to run and write the tests of this repository.');
  expect(plan).toContain('- style: Keep functions short and named for what they do.');
  expect(plan).not.toContain('TESTING-BODY');
  expect(plan).not.toContain('STYLE-BODY');

  const [first, second, third] = h.model.requestsFor('feature f');
  const task = text(first!.body.messages);
  expect(task).toMatch(/Skills assigned to this task: read each with read_skill before you start:\n- testing: How to run and write the tests/);
  expect(task).toMatch(/Other skills you may read with read_skill when they apply:\n- style: Keep functions short/);
  expect(task).not.toContain('TESTING-BODY');
  expect(task).not.toContain('STYLE-BODY');
  expect(first!.body.tools?.map((t) => t.function?.name)).toContain('read_skill');
  // The read returns the body, from the base commit; an unknown name is an error naming the known skills.
  expect(toolAnswers(second!.body.messages).at(-1)).toContain('TESTING-BODY: run npm test.');
  expect(toolAnswers(third!.body.messages).at(-1)).toBe('error: unknown skill "nope"; known skills: testing, style');

  const status = await h.waitFor(handle, (s) => s.phase === 'completed');
  expect(status.milestones[0]!.features[0]).toMatchObject({ id: 'f', skills: ['testing'], skillsRead: ['testing'] });
  expect(progressLines(status).join('\n')).toContain(' · skills testing (read: testing)');
  expect(renderReport(result)).toContain('- f: assigned testing; read testing');
}, 120_000);

test('a plan naming an unknown skill goes back to the planner with the known names', async () => {
  const repo = makeRepo(SKILLS);
  h.model.script('plan', [
    planReply(makePlan([{ id: 'm1', features: [{ id: 'g', files: ['g.txt'], skills: ['deploy'] }] }])),
    planReply(makePlan([{ id: 'm1', features: [{ id: 'g', files: ['g.txt'], skills: ['style'] }] }])),
  ]);
  h.model.script('feature g', writesFiles({ 'g.txt': 'g' }));

  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  const fix = h.model.requestsFor('plan')[1]!.body.messages.at(-1)!;
  expect(String(fix.content)).toContain('feature "g" names skill "deploy", which is neither a skill of the repository nor one of the plan\'s newSkills; use one of "testing", "style"');
  expect(text(h.model.requestsFor('feature g')[0]!.body.messages)).toMatch(/Skills assigned to this task: read each with read_skill before you start:\n- style: /);
}, 120_000);

const NEW_SKILL = { name: 'api-notes', description: 'What the HTTP API of this mission must keep.', content: '# API notes\n\nAPI-NOTES-BODY: every route returns JSON.\n' };

test.each([
  ['kept with the mission only', undefined, false],
  ['committed to the mission branch when the input asks', { commit: true }, true],
])('a skill the planner writes is shown at the gate and readable by agents: %s', async (_name, skills, committed) => {
  const repo = makeRepo();
  const plan = { ...makePlan([{ id: 'm1', features: [{ id: 'n', files: ['n.txt'], skills: ['api-notes'] }] }]), newSkills: [NEW_SKILL] };
  h.model.script('plan', [planReply(plan)]);
  h.model.script('feature n', [tools(call('read_skill', { name: 'api-notes' })), ...writesFiles({ 'n.txt': 'n' })]);

  const handle = await h.start({ prompt: 'x', repo, ...(skills ? { skills } : {}) });
  await h.waitFor(handle, (s) => s.phase === 'awaiting-approval');
  const { currentDetails } = (await handle.query('__temporal_workflow_metadata')) as { currentDetails: string };
  expect(currentDetails).toContain('- **n** Feature n — `n.txt` — skills: api-notes');
  expect(currentDetails).toContain('- **api-notes**: What the HTTP API of this mission must keep.');
  expect(currentDetails).toContain('API-NOTES-BODY: every route returns JSON.');
  expect(text(h.model.requestsFor('plan')[0]!.body.messages)).toContain('The repository has no skills.');
  await handle.signal(approvePlanSignal);
  const result = await handle.result();
  expect(result.outcome).toBe('completed');

  const [first, second] = h.model.requestsFor('feature n');
  expect(text(first!.body.messages)).toMatch(/Skills assigned to this task: read each with read_skill before you start:\n- api-notes: What the HTTP API/);
  expect(text(first!.body.messages)).not.toContain('API-NOTES-BODY');
  expect(toolAnswers(second!.body.messages).at(-1)).toContain('API-NOTES-BODY: every route returns JSON.');
  const tree = treeAt(repo, result.branch!);
  expect(tree['n.txt']).toBe('n');
  if (committed) expect(tree['.agents/skills/api-notes/SKILL.md']).toContain('API-NOTES-BODY');
  else expect(Object.keys(tree).filter((f) => f.startsWith('.agents/'))).toEqual([]);
  expect(Object.keys(treeAt(repo, 'main'))).toEqual(['README.md']);
}, 120_000);

test('without any skill, read_skill is not offered and the task has no skills section', async () => {
  const repo = makeRepo();
  h.model.script('plan', [planReply(makePlan([{ id: 'm1', features: [{ id: 'p', files: ['p.txt'] }] }]))]);
  h.model.script('feature p', writesFiles({ 'p.txt': 'p' }));
  const handle = await h.start({ prompt: 'x', repo, requirePlanApproval: false });
  expect((await handle.result()).outcome).toBe('completed');
  const [first] = h.model.requestsFor('feature p');
  expect(first!.body.tools?.map((t) => t.function?.name)).not.toContain('read_skill');
  expect(first!.body.tools?.map((t) => t.function?.name)).toContain('finish');
  expect(text(first!.body.messages)).not.toContain('## Skills');
}, 120_000);
