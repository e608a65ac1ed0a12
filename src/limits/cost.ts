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
  const tally = new CostTally();
  tally.add(price, promptTokens, completionTokens);
  return tally.micros;
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

/**
 * A running cost over several calls, rounded up to a micro-dollar **once**, on the exact sum of
 * tokens × price per million, not call by call. A task's budget hold is one rounding of its
 * estimate; rounding each of its calls up would let a task of several calls (embedding batches)
 * spend a micro-dollar more per extra call than it held.
 */
export class CostTally {
  /** The exact sum, in millionths of a micro-dollar, while it is a safe integer. */
  #units = 0;
  /** The exact sum once it is not. */
  #big: bigint | undefined;

  add(price: ModelPrice, promptTokens: number, completionTokens: number): void {
    assertCount('promptTokens', promptTokens);
    assertCount('completionTokens', completionTokens);
    assertCount('price.inputPerMillion', price.inputPerMillion);
    assertCount('price.outputPerMillion', price.outputPerMillion);
    if (this.#big === undefined) {
      const input = promptTokens * price.inputPerMillion;
      const output = completionTokens * price.outputPerMillion;
      const sum = this.#units + input + output;
      if (
        Number.isSafeInteger(input) &&
        Number.isSafeInteger(output) &&
        Number.isSafeInteger(sum)
      ) {
        this.#units = sum;
        return;
      }
      this.#big = BigInt(this.#units);
    }
    this.#big +=
      BigInt(promptTokens) * BigInt(price.inputPerMillion) +
      BigInt(completionTokens) * BigInt(price.outputPerMillion);
  }

  /** The total in micro-dollars, rounded up. */
  get micros(): number {
    if (this.#big === undefined) {
      const whole = Math.floor(this.#units / MICROS_PER_MILLION_TOKENS);
      return this.#units % MICROS_PER_MILLION_TOKENS === 0 ? whole : whole + 1;
    }
    const whole = this.#big / BIG_MILLION;
    const rounded = this.#big % BIG_MILLION === 0n ? whole : whole + 1n;
    if (rounded > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`cost of ${rounded} micro-dollars exceeds the safe integer range`);
    }
    return Number(rounded);
  }
}
