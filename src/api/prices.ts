import { z } from 'zod';
import { describeIssues } from './issues';
import type { TokenUsage } from './status';

const usdPerMillion = z.number({ error: 'must be a number of USD per million tokens' }).min(0, 'must be 0 or more');

/** What one model costs, in USD per million tokens. `cachedInput` defaults to `input` (no cache discount). */
export const ModelPrice = z.strictObject({
  input: usdPerMillion,
  cachedInput: usdPerMillion.optional(),
  output: usdPerMillion,
});
export type ModelPrice = z.infer<typeof ModelPrice>;

/** Prices by model name, e.g. `{"qwen2.5-coder": {"input": 0, "output": 0}}`. */
export const PriceTable = z.record(z.string().trim().min(1, 'model names must not be empty'), ModelPrice);
export type PriceTable = z.infer<typeof PriceTable>;

/** The date OpenAI's public prices below were taken from: check them against https://openai.com/api/pricing. */
export const DEFAULT_PRICES_AS_OF = '2025-08-07';

/** Standard (not batch, not priority) prices of common OpenAI models as of DEFAULT_PRICES_AS_OF. */
export const DEFAULT_PRICES: PriceTable = {
  'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
  'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
  'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  o3: { input: 2, cachedInput: 0.5, output: 8 },
  'o3-mini': { input: 1.1, cachedInput: 0.55, output: 4.4 },
  'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
};

/**
 * The price of `model`: by its exact name, else by its name without a dated snapshot suffix
 * (`gpt-4o-2024-08-06` → `gpt-4o`). Undefined when unknown: its cost is then unknown, never $0.
 */
export function priceFor(model: string, table: PriceTable): ModelPrice | undefined {
  return table[model] ?? table[model.replace(/-\d{4}-\d{2}-\d{2}$/, '')];
}

/** USD of one call. Cached prompt tokens are part of the prompt tokens (as OpenAI counts them), billed at `cachedInput`. */
export function costOf(tokens: Pick<TokenUsage, 'prompt' | 'completion' | 'cached'>, price: ModelPrice): number {
  const cached = Math.min(tokens.cached ?? 0, tokens.prompt);
  return ((tokens.prompt - cached) * price.input + cached * (price.cachedInput ?? price.input) + tokens.completion * price.output) / 1_000_000;
}

/**
 * The cost fields of one call's usage: `costUsd` when the model has a price, else its tokens count as `unpriced`.
 * `models`: the names to try in order (the model asked for, then the one the server says answered).
 */
export function priced(tokens: TokenUsage, models: (string | undefined)[], table: PriceTable): TokenUsage {
  const price = models.map((m) => (m ? priceFor(m, table) : undefined)).find(Boolean);
  return price ? { ...tokens, costUsd: costOf(tokens, price) } : { ...tokens, unpriced: tokens.total };
}

/**
 * MISSION_PRICES: a JSON object of model prices that replace or add to the defaults, e.g.
 * `{"my-model": {"input": 0.5, "cachedInput": 0.1, "output": 1.5}}`. Errors name the field.
 */
export function parsePriceSetting(text: string | undefined, name = 'MISSION_PRICES'): PriceTable {
  if (!text?.trim()) return { ...DEFAULT_PRICES };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${name}: not valid JSON (${(err as Error).message}); expected e.g. {"my-model": {"input": 0.5, "cachedInput": 0.1, "output": 1.5}} (USD per million tokens)`, { cause: err });
  }
  const parsed = PriceTable.safeParse(json);
  if (!parsed.success) throw new Error(`${name}: ${describeIssues(parsed.error, PriceTable).map((line) => line.replace(/^\(input\)/, 'the value')).join('; ')}`);
  return { ...DEFAULT_PRICES, ...parsed.data };
}

const usd = (x: number) => `$${x === 0 ? '0.00' : x < 0.01 ? x.toFixed(4) : x.toFixed(2)}`;

/** "$0.0123"; "unknown" when no call had a price; "$0.0123 + unknown (N tokens of unpriced models)" when some had none. */
export function formatCost(t: Pick<TokenUsage, 'total' | 'costUsd' | 'unpriced'>): string {
  // Usage recorded before costs were counted has neither field: unknown, not free.
  const unpriced = t.costUsd === undefined && t.unpriced === undefined ? t.total : (t.unpriced ?? 0);
  if (!unpriced) return usd(t.costUsd ?? 0);
  if (!t.costUsd) return 'unknown (no price for the model)';
  return `${usd(t.costUsd)} + unknown (${unpriced.toLocaleString('en-US')} tokens of unpriced models)`;
}
