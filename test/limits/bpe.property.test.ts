/**
 * Our byte-pair encoding (`src/limits/bpe.ts`) against tiktoken's own outputs (the test plans
 * `gpt-tokenizer` ships) and against `gpt-tokenizer` itself on generated text: the same tokens,
 * the same counts, for both encodings.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BytePairEncoding } from '../../src/limits/bpe.js';
import { countTextTokens, type EncodingName, encodeText } from '../../src/limits/tokens.js';

const require = createRequire(import.meta.url);

interface Reference {
  encode(text: string, options: { disallowedSpecial: Set<string> }): number[];
}
const reference: Record<EncodingName, Reference> = {
  o200k_base: require('gpt-tokenizer/cjs/encoding/o200k_base') as Reference,
  cl100k_base: require('gpt-tokenizer/cjs/encoding/cl100k_base') as Reference,
};
const PLAIN = { disallowedSpecial: new Set<string>() };
const MODEL: Record<EncodingName, string> = { o200k_base: 'gpt-4o', cl100k_base: 'gpt-4' };
const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;

/** tiktoken's outputs, as `gpt-tokenizer` ships them for its own tests. */
function testPlans(): Array<{ encoding: EncodingName; sample: string; tokens: number[] }> {
  const text = readFileSync(require.resolve('gpt-tokenizer/data/TestPlans.txt'), 'utf8');
  const plans: Array<{ encoding: EncodingName; sample: string; tokens: number[] }> = [];
  for (const block of text.split('\n\n')) {
    const match = /^EncodingName: (\S+)\nSample: ([\s\S]*)\nEncoded: (\[.*\])$/.exec(block.trim());
    if (match === null) continue;
    const [, encoding, sample, tokens] = match as unknown as [string, string, string, string];
    if (encoding !== 'o200k_base' && encoding !== 'cl100k_base') continue;
    plans.push({ encoding, sample, tokens: JSON.parse(tokens) as number[] });
  }
  return plans;
}

describe('the byte-pair encoding', () => {
  const plans = testPlans();

  it('reads tiktoken test plans for both encodings', () => {
    expect(plans.filter((plan) => plan.encoding === 'o200k_base').length).toBeGreaterThan(50);
    expect(plans.filter((plan) => plan.encoding === 'cl100k_base').length).toBeGreaterThan(50);
  });

  it('gives tiktoken’s tokens for every test plan', () => {
    for (const { encoding, sample, tokens } of plans) {
      expect(encodeText(sample, MODEL[encoding]), `${encoding}: ${sample}`).toEqual(tokens);
      expect(countTextTokens(sample, MODEL[encoding])).toBe(tokens.length);
    }
  });

  /** Text from units that exercise the split patterns and the merges, long pieces included. */
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({
      unit: fc.constantFrom(' ', 'a', 'The', 'é', '1', '\n', '\r', "'s", "'", 'ab', '的', '😀'),
      maxLength: 60,
    }),
    fc.string({ unit: fc.constantFrom('-', '|', '=', '.', '*', ':', 'a', '0'), maxLength: 400 }),
  );

  it.each(ENCODINGS)('encodes and counts like gpt-tokenizer (%s)', (encoding) => {
    fc.assert(
      fc.property(text, (sample) => {
        const tokens = reference[encoding].encode(sample, PLAIN);
        expect(encodeText(sample, MODEL[encoding])).toEqual(tokens);
        // Twice: the second count may come from the memory of merged pieces.
        expect(countTextTokens(sample, MODEL[encoding])).toBe(tokens.length);
        expect(countTextTokens(sample, MODEL[encoding])).toBe(tokens.length);
      }),
      { numRuns: 2_000 },
    );
  });

  it('decodes what it encoded back to the text', () => {
    const file = readFileSync(require.resolve('gpt-tokenizer/data/o200k_base.tiktoken'));
    const bpe = BytePairEncoding.fromTiktoken(file, /\S+|\s+/gu);
    expect(bpe.size).toBe(199_998);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (sample) => {
        expect(bpe.decode(bpe.encode(sample))).toBe(sample);
      }),
      { numRuns: 500 },
    );
    expect(() => bpe.decode([199_998])).toThrow(RangeError);
    expect(() => bpe.decode([-1])).toThrow(/token -1 is not in the encoding/);
  });

  it('refuses a malformed table and a pattern without the g and u flags', () => {
    const read = (table: string, split = /\S+/gu) =>
      BytePairEncoding.fromTiktoken(new TextEncoder().encode(table), split);
    expect(read('YQ== 0\nYg== 1\n').size).toBe(2);
    expect(() => read('YQ== 0\nYg== 2\n')).toThrow(/rank 2 out of order \(expected 1\)/);
    expect(() => read('YQ== 0\nYQ== 1\n')).toThrow(/rank 1 repeats the bytes of rank 0/);
    expect(() => read('Y!== 0\n')).toThrow(/malformed base64/);
    expect(() => read('YQ==\n')).toThrow(/malformed line/);
    expect(() => read('YQ== x\n')).toThrow(/malformed rank/);
    expect(() => read('YQ== 0\n', /\S+/u)).toThrow(/needs the g and u flags/);
  });
});
