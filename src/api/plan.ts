import { z } from 'zod';

/** Ids end up in branch names and workflow ids, so they are kept to safe characters. */
const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, 'must be 1-40 letters, digits, "-" or "_", starting with a letter or digit');

export const PlanFeature = z.strictObject({
  id: Id,
  title: z.string().min(1),
  description: z.string().min(1),
  acceptanceCriteria: z.array(z.string()),
  files: z.array(z.string()),
  dependsOn: z.array(z.string()),
  /** Skills (by name) its agent should read before it starts: the repository's or the plan's newSkills. Absent in older plans. */
  skills: z.array(z.string()).optional(),
});
export type PlanFeature = z.infer<typeof PlanFeature>;

export const PlanMilestone = z.strictObject({
  id: Id,
  title: z.string().min(1),
  goal: z.string().min(1),
  validation: z.array(z.string()),
  features: z.array(PlanFeature),
});
export type PlanMilestone = z.infer<typeof PlanMilestone>;

/** A skill the planner wrote for this mission: kept with the mission, shown at the approval gate, committed only when the input asks. */
export const NewSkill = z.strictObject({
  name: z.string(),
  description: z.string().min(1),
  content: z.string().min(1),
});
export type NewSkill = z.infer<typeof NewSkill>;

/** The planner's structured output (`mission_plan`). */
export const Plan = z.strictObject({
  title: z.string().min(1),
  summary: z.string(),
  assumptions: z.array(z.string()),
  risks: z.array(z.string()),
  milestones: z.array(PlanMilestone),
  /** Absent in older plans. */
  newSkills: z.array(NewSkill).optional(),
});
export type Plan = z.infer<typeof Plan>;

/**
 * Feature ids name an agent's conversation file and the end of its child workflow id, beside Mission's own:
 * the planner (`plan`), the report (`report`), integration agents (`integration-<featureId>`), repair agents
 * (`repair-<milestoneId>`), validators (`validator-<milestoneId>`) and retried features (`attempt-<n>-<featureId>`). A feature must not take one of them.
 */
const RESERVED_IDS = new Set(['plan', 'report']);
const RESERVED_PREFIXES = ['integration-', 'repair-', 'validator-', 'compact-', 'attempt-'];

export function isReservedFeatureId(id: string): boolean {
  const lower = id.toLowerCase();
  return RESERVED_IDS.has(lower) || RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

export const MAX_NEW_SKILLS = 3;
export const MAX_NEW_SKILL_CHARS = 6_000;
const MAX_SKILL_DESCRIPTION = 500;
/** Agent Skills names: lowercase letters, digits and single hyphens, at most 64 characters. */
export const SKILL_NAME = /^(?=.{1,64}$)[a-z0-9]+(-[a-z0-9]+)*$/;

export interface PlanLimits {
  maxMilestones: number;
  maxFeaturesPerMilestone: number;
}

/**
 * The rules a schema cannot express. Returns one readable line per problem (empty when the plan is fine);
 * the lines are sent back to the planner verbatim, so each says what to change.
 */
export function checkPlan(plan: Plan, limits: PlanLimits, repoSkills: readonly string[] = []): string[] {
  const errors: string[] = checkNewSkills(plan.newSkills ?? [], repoSkills);
  const known = new Set([...repoSkills, ...(plan.newSkills ?? []).map((s) => s.name)]);
  if (plan.milestones.length === 0) errors.push('the plan has no milestones; add at least one');
  if (plan.milestones.length > limits.maxMilestones) {
    errors.push(`the plan has ${plan.milestones.length} milestones but at most ${limits.maxMilestones} are allowed; merge or drop milestones`);
  }
  const milestoneIds = new Set<string>();
  /** Lower-cased id → the id as first written. */
  const seenFeatures = new Map<string, string>();
  plan.milestones.forEach((milestone, index) => {
    if (milestoneIds.has(milestone.id)) errors.push(`milestone id "${milestone.id}" is used twice; make milestone ids unique`);
    milestoneIds.add(milestone.id);
    const where = `milestone "${milestone.id}"`;
    if (milestone.features.length === 0) errors.push(`${where} has no features; add at least one`);
    if (milestone.features.length > limits.maxFeaturesPerMilestone) {
      errors.push(`${where} has ${milestone.features.length} features but at most ${limits.maxFeaturesPerMilestone} are allowed; split it or merge features`);
    }
    for (const feature of milestone.features) {
      const earlier = seenFeatures.get(feature.id.toLowerCase());
      if (earlier === feature.id) {
        errors.push(`feature id "${feature.id}" is used twice; make feature ids unique across the plan`);
      } else if (earlier !== undefined) {
        errors.push(`feature id "${feature.id}" is used twice (ids are compared without case: "${earlier}" and "${feature.id}" would share files on some systems); make feature ids unique across the plan`);
      }
      seenFeatures.set(feature.id.toLowerCase(), feature.id);
      if (isReservedFeatureId(feature.id)) {
        errors.push(`feature id "${feature.id}" is reserved for Mission's own use ("plan", "report", and ids starting with ${RESERVED_PREFIXES.map((p) => `"${p}"`).join(', ')}); choose another id`);
      }
      for (const file of feature.files) {
        if (file.startsWith('/') || file.split(/[\\/]/).includes('..')) {
          errors.push(`feature "${feature.id}" lists file "${file}"; files must be paths relative to the repository root`);
        }
      }
    }
    for (const feature of milestone.features) {
      for (const skill of feature.skills ?? []) {
        if (known.has(skill)) continue;
        const names = known.size ? `one of ${[...known].map((n) => `"${n}"`).join(', ')}` : 'none (there are no skills: use [])';
        errors.push(`feature "${feature.id}" names skill "${skill}", which is neither a skill of the repository nor one of the plan's newSkills; use ${names}, or write it in newSkills`);
      }
    }
    errors.push(...checkDependencies(milestone, index, plan));
  });
  return errors;
}

function checkNewSkills(skills: NewSkill[], repoSkills: readonly string[]): string[] {
  const errors: string[] = [];
  if (skills.length > MAX_NEW_SKILLS) errors.push(`the plan writes ${skills.length} newSkills but at most ${MAX_NEW_SKILLS} are allowed; keep the ones the work needs most`);
  const seen = new Set<string>();
  for (const skill of skills) {
    const where = `new skill "${skill.name}"`;
    if (!SKILL_NAME.test(skill.name)) errors.push(`${where}: the name must be 1-64 lowercase letters, digits and single "-" (e.g. "api-tests"); rename it`);
    if (repoSkills.includes(skill.name)) errors.push(`${where} has the name of a skill of the repository; name the repository's skill in features instead, or choose another name`);
    if (seen.has(skill.name)) errors.push(`${where} is written twice; keep one`);
    seen.add(skill.name);
    if (skill.description.length > MAX_SKILL_DESCRIPTION) errors.push(`${where}: the description has ${skill.description.length} characters, at most ${MAX_SKILL_DESCRIPTION}; say in one sentence when to use it`);
    if (skill.content.length > MAX_NEW_SKILL_CHARS) errors.push(`${where}: the content has ${skill.content.length} characters, at most ${MAX_NEW_SKILL_CHARS}; shorten it`);
  }
  return errors;
}

function checkDependencies(milestone: PlanMilestone, index: number, plan: Plan): string[] {
  const errors: string[] = [];
  const local = new Set(milestone.features.map((f) => f.id));
  const earlier = new Set(plan.milestones.slice(0, index).flatMap((m) => m.features.map((f) => f.id)));
  for (const feature of milestone.features) {
    for (const dep of feature.dependsOn) {
      if (dep === feature.id) errors.push(`feature "${feature.id}" depends on itself; remove it from dependsOn`);
      else if (!local.has(dep) && !earlier.has(dep)) {
        errors.push(`feature "${feature.id}" depends on "${dep}", which is not a feature of this or an earlier milestone`);
      }
    }
  }
  const cycle = findCycle(milestone.features);
  if (cycle) {
    // The chain reads "depends on"; the edit named is the last link, a concrete step a small model can take.
    const [first, before] = [cycle[0]!, cycle[cycle.length - 2]!];
    errors.push(
      `features ${cycle.map((id) => `"${id}"`).join(' -> ')} depend on each other in a cycle; break the cycle: remove "${first}" from the dependsOn of "${before}" (a feature that must come later depends on the earlier one, never both ways)`,
    );
  }
  return errors;
}

function findCycle(features: PlanFeature[]): string[] | undefined {
  const deps = new Map(features.map((f) => [f.id, f.dependsOn.filter((d) => d !== f.id)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done' || !deps.has(id)) return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const f of features) {
    const cycle = visit(f.id);
    if (cycle) return cycle;
  }
  return undefined;
}
