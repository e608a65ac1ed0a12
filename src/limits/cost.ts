import type { ModelPrice } from './prices.js';

export type { ModelPrice } from './prices.js';

const MICROS_PER_MILLION_TOKENS = 1_000_000;
const BIG_MILLION = 1_000_000n;

function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
  }
}

/**
 * The cost in integer micro-dollars of a call that used `promptTokens` input tokens and
 * `completionTokens` output tokens: `ceil((prompt × input + completion × output) / 1,000,000)`,
 * computed exactly in integer arithmetic (a fraction of a micro-dollar is rounded up, so costs
 * are never under-counted).
 *
 * @throws RangeError when a token count or a price is negative, fractional or not a safe integer
 *   (a programming error: token counts and {@link ModelPrice} fields are integers), or when the
 *   cost itself exceeds `Number.MAX_SAFE_INTEGER` micro-dollars (about $9 billion).
 */
export function costMicros(
  price: ModelPrice,
  promptTokens: number,
  completionTokens: number,
): number {
  assertCount('promptTokens', promptTokens);
  assertCount('completionTokens', completionTokens);
  assertCount('price.inputPerMillion', price.inputPerMillion);
  assertCount('price.outputPerMillion', price.outputPerMillion);
  const input = promptTokens * price.inputPerMillion;
  const output = completionTokens * price.outputPerMillion;
  const sum = input + output;
  if (Number.isSafeInteger(input) && Number.isSafeInteger(output) && Number.isSafeInteger(sum)) {
    const whole = Math.floor(sum / MICROS_PER_MILLION_TOKENS);
    // `sum` is an exact integer here, so the remainder test is exact too.
    return sum % MICROS_PER_MILLION_TOKENS === 0 ? whole : whole + 1;
  }
  const big =
    BigInt(promptTokens) * BigInt(price.inputPerMillion) +
    BigInt(completionTokens) * BigInt(price.outputPerMillion);
  const whole = big / BIG_MILLION;
  const rounded = big % BIG_MILLION === 0n ? whole : whole + 1n;
  if (rounded > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`cost of ${rounded} micro-dollars exceeds the safe integer range`);
  }
  return Number(rounded);
}

/**
 * The most a call can cost: its prompt tokens plus `maxTokens` output tokens (the `max_tokens`
 * the request carries), in integer micro-dollars. This is the amount held against the budget
 * while the call runs.
 *
 * @throws RangeError under the same conditions as {@link costMicros}.
 */
export function worstCaseCostMicros(
  price: ModelPrice,
  promptTokens: number,
  maxTokens: number,
): number {
  return costMicros(price, promptTokens, maxTokens);
}
