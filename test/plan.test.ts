import { checkPlan } from '../src/api/plan';
import { parsePlan } from '../src/activities/llm';
import { makePlan } from './support/scripts';

const limits = { maxMilestones: 2, maxFeaturesPerMilestone: 2 };

describe('plan checks', () => {
  it('accepts a plan within the limits', () => {
    const plan = makePlan([
      { id: 'm1', features: [{ id: 'a' }, { id: 'b', dependsOn: ['a'] }] },
      { id: 'm2', features: [{ id: 'c', dependsOn: ['a'] }] },
    ]);
    expect(checkPlan(plan, limits)).toEqual([]);
  });

  it('names every broken rule', () => {
    const plan = makePlan([
      { id: 'm1', features: [{ id: 'a' }, { id: 'a' }, { id: 'b', dependsOn: ['zzz'] }] },
      { id: 'm1', features: [] },
      { id: 'm3', features: [{ id: 'x', files: ['../outside.ts'] }] },
    ]);
    const errors = checkPlan(plan, limits);
    expect(errors).toEqual(
      expect.arrayContaining([
        'the plan has 3 milestones but at most 2 are allowed; merge or drop milestones',
        'milestone id "m1" is used twice; make milestone ids unique',
        'milestone "m1" has 3 features but at most 2 are allowed; split it or merge features',
        'feature id "a" is used twice; make feature ids unique across the plan',
        'feature "b" depends on "zzz", which is not a feature of this or an earlier milestone',
        'milestone "m1" has no features; add at least one',
        'feature "x" lists file "../outside.ts"; files must be paths relative to the repository root',
      ]),
    );
  });

  it('finds dependency cycles and self-dependencies', () => {
    const plan = makePlan([{ id: 'm1', features: [{ id: 'a', dependsOn: ['b'] }, { id: 'b', dependsOn: ['a', 'b'] }] }]);
    const errors = checkPlan(plan, limits);
    expect(errors).toContain('feature "b" depends on itself; remove it from dependsOn');
    expect(errors.some((e) => e.includes('"a" -> "b" -> "a"'))).toBe(true);
    // A concrete edit (Qwen2.5-Coder-1.5B sent the same cycle back twice after "break the cycle").
    expect(errors).toContain('features "a" -> "b" -> "a" depend on each other in a cycle; break the cycle: remove "a" from the dependsOn of "b" (a feature that must come later depends on the earlier one, never both ways)');
  });

  it('refuses feature ids that collide with Mission\'s own conversations and child workflows', () => {
    const plan = makePlan([
      { id: 'm1', features: [{ id: 'plan' }, { id: 'Report' }, { id: 'integration-x' }, { id: 'repair-m1' }, { id: 'ok' }, { id: 'OK' }] },
    ]);
    const errors = checkPlan(plan, { maxMilestones: 2, maxFeaturesPerMilestone: 6 });
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^feature id "plan" is reserved for Mission's own use/),
        expect.stringMatching(/^feature id "Report" is reserved/),
        expect.stringMatching(/^feature id "integration-x" is reserved/),
        expect.stringMatching(/^feature id "repair-m1" is reserved/),
        'feature id "OK" is used twice (ids are compared without case: "ok" and "OK" would share files on some systems); make feature ids unique across the plan',
      ]),
    );
    expect(errors).toHaveLength(5);
  });

  it('refuses a dependency on a later milestone', () => {
    const plan = makePlan([
      { id: 'm1', features: [{ id: 'a', dependsOn: ['c'] }] },
      { id: 'm2', features: [{ id: 'c' }] },
    ]);
    expect(checkPlan(plan, limits)).toEqual(['feature "a" depends on "c", which is not a feature of this or an earlier milestone']);
  });
});

describe('plan replies', () => {
  it('parses a fenced JSON plan', () => {
    const plan = makePlan([{ id: 'm1', features: [{ id: 'a' }] }]);
    expect(parsePlan('```json\n' + JSON.stringify(plan) + '\n```', null, limits)).toEqual({ plan, errors: [] });
  });

  it('explains non-JSON, schema errors and refusals', () => {
    expect(parsePlan('not json', null, limits).errors[0]).toMatch(/not valid JSON/);
    expect(parsePlan('{"title":"x"}', null, limits).errors).toEqual(expect.arrayContaining([expect.stringMatching(/^milestones: /)]));
    expect(parsePlan('', 'I cannot help', limits).errors).toEqual(['the model refused: I cannot help']);
  });

  it('refuses ids that cannot be branch names', () => {
    const plan = makePlan([{ id: 'm 1', features: [{ id: 'a/b' }] }]);
    const errors = parsePlan(JSON.stringify(plan), null, limits).errors;
    expect(errors.some((e) => e.startsWith('milestones.0.id:'))).toBe(true);
    expect(errors.some((e) => e.startsWith('milestones.0.features.0.id:'))).toBe(true);
  });
});
