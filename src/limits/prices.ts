/**
 * A dated table of OpenAI's standard-tier prices for text tokens, in integer micro-dollars per
 * million tokens (so $2.50 per 1M tokens is `2_500_000`), and the lookup that maps a model name,
 * dated snapshot names included, to its price.
 */

/** The price of one model, in integer micro-dollars (1e-6 USD) per 1,000,000 tokens. */
export interface ModelPrice {
  /** Price of 1M prompt (input) tokens, in micro-dollars. */
  inputPerMillion: number;
  /** Price of 1M completion (output) tokens, in micro-dollars; 0 for embedding models. */
  outputPerMillion: number;
}

/** The day the prices of {@link DEFAULT_PRICES} were checked (ISO-8601 date). */
export const PRICE_TABLE_DATE = '2026-11-28';

/**
 * Where the prices of {@link DEFAULT_PRICES} come from.
 *
 * The standard tier of OpenAI's published price list (not Batch, Flex or Priority; cached input
 * is not discounted here, so a cached prompt is over-estimated, never under-estimated). Prices
 * were cross-checked against the model data bundled with gpt-tokenizer 4.0.0 where that data is
 * right (gpt-3.5-turbo, gpt-4, gpt-4-turbo, gpt-4-32k, chatgpt-4o-latest, o1, o1-pro, o3-pro, the
 * gpt-5 price through gpt-5-codex); its `price_data` for gpt-4o, gpt-4.1, gpt-5 and o1-mini
 * ($10/$30, gpt-4-turbo's price) is wrong and was not used.
 */
export const PRICE_TABLE_SOURCE =
  'OpenAI API pricing, standard tier, text tokens: https://openai.com/api/pricing ' +
  '(https://platform.openai.com/docs/pricing); cross-checked with gpt-tokenizer 4.0.0 model data';

/** Dollars per 1M tokens → a {@link ModelPrice}. Only used to write the table below legibly. */
function perMillion(inputDollars: number, outputDollars: number): ModelPrice {
  return {
    inputPerMillion: dollarsToMicros(inputDollars),
    outputPerMillion: dollarsToMicros(outputDollars),
  };
}

/**
 * Prices of current OpenAI chat and embedding models, as of {@link PRICE_TABLE_DATE}, from
 * {@link PRICE_TABLE_SOURCE}. Keys are model names as sent in requests; a dated snapshot
 * (`gpt-4o-2024-08-06`) resolves to its base model through {@link resolvePrice} unless it has
 * its own entry because its price differs.
 *
 * gpt-5.4 and gpt-5.5 are listed at their price for prompts up to 272K tokens; OpenAI bills
 * longer prompts at a higher rate, which a caller sending such prompts should set as an override.
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  // GPT-5 family
  'gpt-5.5': perMillion(5, 30),
  'gpt-5.4': perMillion(2.5, 15),
  'gpt-5.4-mini': perMillion(0.75, 4.5),
  'gpt-5.4-nano': perMillion(0.2, 1.25),
  'gpt-5.2': perMillion(1.75, 14),
  'gpt-5.1': perMillion(1.25, 10),
  'gpt-5': perMillion(1.25, 10),
  'gpt-5-chat-latest': perMillion(1.25, 10),
  'gpt-5-codex': perMillion(1.25, 10),
  'gpt-5-mini': perMillion(0.25, 2),
  'gpt-5-nano': perMillion(0.05, 0.4),
  'gpt-5-pro': perMillion(15, 120),
  // GPT-4.1 family
  'gpt-4.1': perMillion(2, 8),
  'gpt-4.1-mini': perMillion(0.4, 1.6),
  'gpt-4.1-nano': perMillion(0.1, 0.4),
  // GPT-4o family
  'gpt-4o': perMillion(2.5, 10),
  'gpt-4o-2024-05-13': perMillion(5, 15),
  'chatgpt-4o-latest': perMillion(5, 15),
  'gpt-4o-mini': perMillion(0.15, 0.6),
  // o-series reasoning models (reasoning tokens are billed as output tokens)
  o1: perMillion(15, 60),
  'o1-pro': perMillion(150, 600),
  'o1-mini': perMillion(1.1, 4.4),
  o3: perMillion(2, 8),
  'o3-pro': perMillion(20, 80),
  'o3-mini': perMillion(1.1, 4.4),
  'o4-mini': perMillion(1.1, 4.4),
  // Older GPT-4 and GPT-3.5 models
  'gpt-4-turbo': perMillion(10, 30),
  'gpt-4-turbo-preview': perMillion(10, 30),
  'gpt-4-0125-preview': perMillion(10, 30),
  'gpt-4-1106-preview': perMillion(10, 30),
  'gpt-4': perMillion(30, 60),
  'gpt-4-32k': perMillion(60, 120),
  'gpt-3.5-turbo': perMillion(0.5, 1.5),
  'gpt-3.5-turbo-1106': perMillion(1, 2),
  'gpt-3.5-turbo-0613': perMillion(1.5, 2),
  'gpt-3.5-turbo-16k-0613': perMillion(3, 4),
  'gpt-3.5-turbo-instruct': perMillion(1.5, 2),
  // Embeddings (no output tokens)
  'text-embedding-3-small': perMillion(0.02, 0),
  'text-embedding-3-large': perMillion(0.13, 0),
  'text-embedding-ada-002': perMillion(0.1, 0),
});

/** `-2024-08-06` (current snapshots) or `-0613` (older ones) at the end of a model name. */
const SNAPSHOT_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{4})$/;

function own(
  table: Readonly<Record<string, ModelPrice>> | undefined,
  model: string,
): ModelPrice | undefined {
  return table !== undefined && Object.hasOwn(table, model) ? table[model] : undefined;
}

/**
 * The price of `model`: its exact name in `overrides`, then in {@link DEFAULT_PRICES}; then, for a
 * dated snapshot name (`gpt-4o-2024-08-06`, `gpt-4-0613`), its base model (`gpt-4o`, `gpt-4`) in
 * the same order. `undefined` when the model is unknown: an unknown model is never assumed free.
 */
export function resolvePrice(
  model: string,
  overrides?: Readonly<Record<string, ModelPrice>>,
): ModelPrice | undefined {
  const exact = own(overrides, model) ?? own(DEFAULT_PRICES, model);
  if (exact !== undefined) return exact;
  const base = model.replace(SNAPSHOT_SUFFIX, '');
  if (base === model) return undefined;
  return own(overrides, base) ?? own(DEFAULT_PRICES, base);
}

/** US dollars → integer micro-dollars, rounded to the nearest micro-dollar. */
export function dollarsToMicros(dollars: number): number {
  return Math.round(dollars * 1e6);
}

/** Integer micro-dollars → US dollars. */
export function microsToDollars(micros: number): number {
  return micros / 1e6;
}
