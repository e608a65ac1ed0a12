import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const tokenizerLoaded = (): boolean =>
  Object.keys(require.cache).some((path) => path.includes('gpt-tokenizer'));

it('loads the tokenizer only on the first count, and only once', async () => {
  const tokens = await import('../../src/limits/tokens.js');
  expect(tokenizerLoaded()).toBe(false);
  expect(tokens.encodingForModel('gpt-4o')).toBe('o200k_base');
  expect(tokenizerLoaded()).toBe(false);
  expect(tokens.countTextTokens('hello world', 'gpt-4o')).toBe(2);
  expect(tokenizerLoaded()).toBe(true);
  const before = Object.keys(require.cache).length;
  expect(tokens.countTextTokens('hello again', 'gpt-4o-mini')).toBe(2);
  expect(Object.keys(require.cache).length).toBe(before);
});
