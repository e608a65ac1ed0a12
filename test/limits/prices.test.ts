import * as bundledModels from 'gpt-tokenizer/models.gen';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PRICES,
  dollarsToMicros,
  type ModelPrice,
  microsToDollars,
  PRICE_TABLE_DATE,
  PRICE_TABLE_SOURCE,
  resolvePrice,
} from '../../src/limits/prices.js';

/** gpt-tokenizer's model specs by name. */
const bundled = new Map<string, unknown>(Object.entries(bundledModels));

const price = (input: number, output: number): ModelPrice => ({
  inputPerMillion: input,
  outputPerMillion: output,
});

describe('DEFAULT_PRICES', () => {
  it('is dated and sourced', () => {
    expect(PRICE_TABLE_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(PRICE_TABLE_SOURCE).toContain('https://openai.com/api/pricing');
  });

  it('holds integer micro-dollars per 1M tokens', () => {
    for (const [model, p] of Object.entries(DEFAULT_PRICES)) {
      expect(Number.isSafeInteger(p.inputPerMillion), model).toBe(true);
      expect(Number.isSafeInteger(p.outputPerMillion), model).toBe(true);
      expect(p.inputPerMillion, model).toBeGreaterThan(0);
      expect(p.outputPerMillion, model).toBeGreaterThanOrEqual(0);
    }
  });

  it.each([
    ['gpt-4o', 2_500_000, 10_000_000],
    ['gpt-4o-mini', 150_000, 600_000],
    ['gpt-4.1', 2_000_000, 8_000_000],
    ['gpt-4.1-mini', 400_000, 1_600_000],
    ['gpt-4.1-nano', 100_000, 400_000],
    ['gpt-5', 1_250_000, 10_000_000],
    ['gpt-5-mini', 250_000, 2_000_000],
    ['gpt-5-nano', 50_000, 400_000],
    ['o3', 2_000_000, 8_000_000],
    ['o4-mini', 1_100_000, 4_400_000],
    ['gpt-3.5-turbo', 500_000, 1_500_000],
    ['gpt-4-turbo', 10_000_000, 30_000_000],
    ['text-embedding-3-small', 20_000, 0],
    ['text-embedding-3-large', 130_000, 0],
    ['text-embedding-ada-002', 100_000, 0],
  ])('prices %s at %i in / %i out', (model, input, output) => {
    expect(DEFAULT_PRICES[model]).toEqual(price(input, output));
  });

  // gpt-tokenizer's bundled price data is right for these models (it is not for gpt-4o,
  // gpt-4.1, gpt-5 or o1-mini, which it lists at gpt-4-turbo's $10/$30).
  it.each([
    'gpt-3.5-turbo',
    'gpt-3.5-turbo-1106',
    'gpt-3.5-turbo-16k-0613',
    'gpt-3.5-turbo-instruct',
    'gpt-4',
    'gpt-4-turbo',
    'gpt-4-turbo-preview',
    'gpt-4-0125-preview',
    'chatgpt-4o-latest',
    'o1',
    'o1-pro',
    'o3-pro',
    'gpt-5-codex',
  ] as const)('agrees with gpt-tokenizer 4.0.0 on %s', (model) => {
    const main = (
      bundled.get(model) as { price_data?: { main?: { input?: number; output?: number } } }
    ).price_data?.main;
    expect(main).toBeDefined();
    expect(DEFAULT_PRICES[model]).toEqual(
      price(
        dollarsToMicros(main?.input ?? Number.NaN),
        dollarsToMicros(main?.output ?? Number.NaN),
      ),
    );
  });

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(DEFAULT_PRICES)).toBe(true);
  });
});

describe('resolvePrice', () => {
  it('finds a model by its exact name', () => {
    expect(resolvePrice('gpt-4o')).toEqual(price(2_500_000, 10_000_000));
  });

  it('lets overrides win', () => {
    const overrides = { 'gpt-4o': price(1, 2), 'my-model': price(3, 4) };
    expect(resolvePrice('gpt-4o', overrides)).toEqual(price(1, 2));
    expect(resolvePrice('my-model', overrides)).toEqual(price(3, 4));
    expect(resolvePrice('gpt-4o-mini', overrides)).toEqual(DEFAULT_PRICES['gpt-4o-mini']);
  });

  it('falls back from a dated snapshot to its base model', () => {
    expect(resolvePrice('gpt-4o-2024-08-06')).toEqual(DEFAULT_PRICES['gpt-4o']);
    expect(resolvePrice('gpt-4o-mini-2024-07-18')).toEqual(DEFAULT_PRICES['gpt-4o-mini']);
    expect(resolvePrice('gpt-5-2025-08-07')).toEqual(DEFAULT_PRICES['gpt-5']);
    expect(resolvePrice('o3-2025-04-16')).toEqual(DEFAULT_PRICES.o3);
    expect(resolvePrice('gpt-4-0613')).toEqual(DEFAULT_PRICES['gpt-4']);
    expect(resolvePrice('gpt-3.5-turbo-0125')).toEqual(DEFAULT_PRICES['gpt-3.5-turbo']);
    expect(resolvePrice('gpt-4o-2024-08-06', { 'gpt-4o': price(7, 8) })).toEqual(price(7, 8));
  });

  it('keeps the own price of a snapshot priced differently from its base', () => {
    expect(resolvePrice('gpt-4o-2024-05-13')).toEqual(price(5_000_000, 15_000_000));
    expect(resolvePrice('gpt-3.5-turbo-1106')).toEqual(price(1_000_000, 2_000_000));
  });

  it('never makes an unknown model free', () => {
    expect(resolvePrice('llama3.1:8b')).toBeUndefined();
    expect(resolvePrice('unknown-2024-01-01')).toBeUndefined();
    expect(resolvePrice('constructor')).toBeUndefined();
    expect(resolvePrice('toString', {})).toBeUndefined();
  });
});

describe('dollars and micro-dollars', () => {
  it('converts without float drift', () => {
    expect(dollarsToMicros(2.5)).toBe(2_500_000);
    expect(dollarsToMicros(0.15)).toBe(150_000);
    expect(dollarsToMicros(0.1 + 0.2)).toBe(300_000);
    expect(dollarsToMicros(0.0000004)).toBe(0);
    expect(microsToDollars(2_500_000)).toBe(2.5);
    expect(microsToDollars(dollarsToMicros(12.345678))).toBe(12.345678);
  });
});
