import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ResponseFormatJSONObject, ResponseFormatJSONSchema } from 'openai/resources/shared';
import { z } from 'zod';
import { failureType } from '../api/errors';
import { MAX_NEW_SKILLS, Plan, type PlanLimits } from '../api/plan';
import { MAX_QUESTIONS, PlanQuestion } from '../api/questions';

/**
 * How the planner asks for its JSON. Best first: a JSON schema with the plan's limits as `maxItems`
 * (llama.cpp turns it into a grammar, so a 1.5B model cannot return two milestones against a limit of one),
 * the schema without limits, `json_object` with the schema in the prompt, plain text. A server that
 * rejects a format (HTTP 400 naming response_format, json_schema or the keyword) is asked with the next
 * one, and the answer is remembered per endpoint and model, so later missions skip the failing call.
 */
export type PlanFormat = 'json_schema' | 'json_schema_nolimits' | 'json_object' | 'text';

/**
 * JSON schema for `response_format`, without keywords strict structured outputs reject, and with every property
 * required (strict mode wants that): the fields older plans lack (skills, newSkills) are asked for, as [] when empty.
 */
export const PLAN_JSON_SCHEMA = stripUnsupported(z.toJSONSchema(Plan, { target: 'draft-7' })) as Record<string, unknown>;

function stripUnsupported(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripUnsupported);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'minLength' || key === 'maxLength') continue;
    out[key] = stripUnsupported(value);
  }
  if (out.properties && typeof out.properties === 'object') out.required = Object.keys(out.properties);
  return out;
}

/**
 * Upper bounds for the plan's other lists. Not rules of the plan (checkPlan takes longer lists from a server
 * without grammars): under a grammar they end a list, so a small model that repeats one criterion line after
 * line (Qwen2.5-Coder-0.5B did, until its output limit cut the JSON three times: PLAN_INVALID) must move on.
 */
export const PLAN_LIST_BOUNDS = { text: 8, files: 30, dependsOn: 20, skills: 8 } as const;

type SchemaNode = Record<string, unknown> & { properties: Record<string, Record<string, unknown>> };

/** The plan schema with the mission's limits: at least one and at most N milestones, likewise features; every list bounded. */
export function planJsonSchema(limits: PlanLimits): Record<string, unknown> {
  const schema = structuredClone(PLAN_JSON_SCHEMA) as SchemaNode & { properties: { milestones: { items: SchemaNode } } };
  const milestones = schema.properties.milestones;
  const milestone = milestones.items;
  const feature = (milestone.properties.features as { items: SchemaNode }).items;
  Object.assign(milestones, { minItems: 1, maxItems: limits.maxMilestones });
  Object.assign(milestone.properties.features!, { minItems: 1, maxItems: limits.maxFeaturesPerMilestone });
  const { text, files, dependsOn, skills } = PLAN_LIST_BOUNDS;
  for (const list of [schema.properties.assumptions, schema.properties.risks, milestone.properties.validation, feature.properties.acceptanceCriteria]) {
    Object.assign(list!, { maxItems: text });
  }
  Object.assign(feature.properties.files!, { maxItems: files });
  Object.assign(feature.properties.dependsOn!, { maxItems: dependsOn });
  Object.assign(feature.properties.skills!, { maxItems: skills });
  Object.assign(schema.properties.newSkills!, { maxItems: MAX_NEW_SKILLS });
  return schema as unknown as Record<string, unknown>;
}

const QUESTION_JSON_SCHEMA = stripUnsupported(z.toJSONSchema(PlanQuestion, { target: 'draft-7' })) as Record<string, unknown>;

/**
 * While the planner may ask: `{ questions, plan }`, questions first (a model that asks writes them, then `null`),
 * the plan or null (strict structured outputs want an object at the root, and every property required).
 * `limits`: with the plan's limits and the bound on questions as maxItems; without, for servers that refuse them.
 */
export function plannerJsonSchema(limits: PlanLimits | undefined, questions: boolean): Record<string, unknown> {
  const plan = limits ? planJsonSchema(limits) : PLAN_JSON_SCHEMA;
  if (!questions) return plan;
  return {
    type: 'object',
    properties: {
      questions: { type: 'array', items: QUESTION_JSON_SCHEMA, ...(limits ? { maxItems: MAX_QUESTIONS } : {}) },
      plan: { anyOf: [plan, { type: 'null' }] },
    },
    required: ['questions', 'plan'],
    additionalProperties: false,
  };
}

/** `questions`: the planner may ask instead of planning (the reply is `{ questions, plan }`). */
export function responseFormat(format: PlanFormat, limits: PlanLimits, questions = false): ResponseFormatJSONSchema | ResponseFormatJSONObject | undefined {
  if (format === 'json_schema' || format === 'json_schema_nolimits') {
    const schema = plannerJsonSchema(format === 'json_schema' ? limits : undefined, questions);
    return { type: 'json_schema', json_schema: { name: 'mission_plan', strict: true, schema } };
  }
  return format === 'json_object' ? { type: 'json_object' } : undefined;
}

/** Without a schema in response_format the model needs it in words (json_object also requires the word JSON). */
export function withSchemaHint(messages: ChatCompletionMessageParam[], format: PlanFormat, limits: PlanLimits, questions = false): ChatCompletionMessageParam[] {
  if (format === 'json_schema' || format === 'json_schema_nolimits') return messages;
  const hint = `Answer with one JSON object (no prose, no code fence) that matches this JSON schema:\n${JSON.stringify(plannerJsonSchema(limits, questions))}`;
  // Into the system message: some chat templates refuse a system message anywhere but first.
  const [first, ...rest] = messages;
  if (first?.role !== 'system' || typeof first.content !== 'string') return [{ role: 'system', content: hint }, ...messages];
  return [{ role: 'system', content: `${first.content}\n\n${hint}` }, ...rest];
}

/** The format to try after `format` was refused with this error, or undefined when the error is not about the format. */
export function nextFormat(err: unknown, format: PlanFormat): PlanFormat | undefined {
  if (failureType(err) !== 'MODEL_BAD_REQUEST') return undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (format === 'json_schema' && /maxItems|minItems/i.test(message)) return 'json_schema_nolimits';
  if (!/response_format|json_schema|json_object|structured output|grammar/i.test(message)) return undefined;
  if (format === 'json_schema' || format === 'json_schema_nolimits') return 'json_object';
  return format === 'json_object' ? 'text' : undefined;
}

/** What each endpoint+model was found to support, in MISSION_HOME (shared by every mission of the worker). */
export class CapabilityStore {
  constructor(private readonly file: string) {}

  static key(baseURL: string, model: string): string {
    return `${baseURL.replace(/\/+$/, '')} ${model}`;
  }

  async planFormat(key: string): Promise<PlanFormat | undefined> {
    return (await this.read())[key]?.planFormat;
  }

  async remember(key: string, planFormat: PlanFormat): Promise<void> {
    const all = await this.read();
    all[key] = { ...all[key], planFormat };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(all, null, 2));
    await fs.rename(tmp, this.file);
  }

  private async read(): Promise<Record<string, { planFormat?: PlanFormat }>> {
    try {
      return JSON.parse(await fs.readFile(this.file, 'utf8')) as Record<string, { planFormat?: PlanFormat }>;
    } catch {
      return {}; // missing or unreadable: probe again
    }
  }
}
