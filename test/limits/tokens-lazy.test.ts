import { expect, it } from 'vitest';

it('loads an encoding only on the first count that needs it, and only once', async () => {
  const tokens = await import('../../src/limits/tokens.js');
  expect(tokens.isEncodingLoaded('o200k_base')).toBe(false);
  expect(tokens.encodingForModel('gpt-4o')).toBe('o200k_base');
  expect(tokens.isEncodingLoaded('o200k_base')).toBe(false);
  expect(tokens.countTextTokens('hello world', 'gpt-4o')).toBe(2);
  expect(tokens.isEncodingLoaded('o200k_base')).toBe(true);
  expect(tokens.isEncodingLoaded('cl100k_base')).toBe(false);
  expect(tokens.preloadEncoding('gpt-4o-mini')).toEqual({ encoding: 'o200k_base', ms: 0 });
  expect(tokens.countTextTokens('hello again', 'gpt-4o-mini')).toBe(2);
});
