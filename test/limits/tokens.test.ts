import { describe, expect, it } from 'vitest';
import {
  countChatTokens,
  countTextTokens,
  encodingForModel,
  truncateToTokens,
} from '../../src/limits/tokens.js';

/**
 * Counts published in OpenAI's cookbook "How to count tokens with tiktoken"
 * (github.com/openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb),
 * sections 4–6, as printed by tiktoken itself and by the API's `usage.prompt_tokens`.
 */
describe('countTextTokens: counts published by OpenAI', () => {
  it.each([
    ['tiktoken is great!', 'gpt-4', 6],
    ['antidisestablishmentarianism', 'gpt-4', 6],
    ['antidisestablishmentarianism', 'gpt-4o', 6],
    ['2 + 2 = 4', 'gpt-3.5-turbo', 7],
    ['2 + 2 = 4', 'gpt-4o', 7],
    ['お誕生日おめでとう', 'gpt-4', 9],
    ['お誕生日おめでとう', 'gpt-4o', 8],
    ['hello world', 'gpt-4o', 2],
  ])('%j with %s has %i tokens', (text, model, expected) => {
    expect(countTextTokens(text, model)).toBe(expected);
  });

  it('counts the empty string as 0 tokens', () => {
    expect(countTextTokens('', 'gpt-4o')).toBe(0);
  });

  it('counts special-token markers in user text as plain text instead of throwing', () => {
    expect(countTextTokens('<|endoftext|>', 'gpt-4o')).toBeGreaterThan(1);
    expect(countTextTokens('<|endoftext|>', 'gpt-4')).toBeGreaterThan(1);
  });
});

describe('countChatTokens', () => {
  it('counts 3 per message + role + content + 3 priming tokens', () => {
    const messages = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'hello world' },
    ];
    expect(countChatTokens(messages, 'gpt-4o')).toBe(17);
  });

  it('counts an empty conversation as the 3 priming tokens', () => {
    expect(countChatTokens([], 'gpt-4o')).toBe(3);
  });

  // The cookbook's example conversation, with the prompt_tokens the OpenAI API reported for it.
  const cookbookMessages = [
    {
      role: 'system',
      content:
        'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
    },
    {
      role: 'system',
      name: 'example_user',
      content: 'New synergies will help drive top-line growth.',
    },
    {
      role: 'system',
      name: 'example_assistant',
      content: 'Things working well together will increase revenue.',
    },
    {
      role: 'system',
      name: 'example_user',
      content:
        "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
    },
    {
      role: 'system',
      name: 'example_assistant',
      content: "Let's talk later when we're less busy about how to do better.",
    },
    {
      role: 'user',
      content:
        "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
  ];

  it.each([
    ['gpt-3.5-turbo', 129],
    ['gpt-4-0613', 129],
    ['gpt-4', 129],
    ['gpt-4o', 124],
    ['gpt-4o-mini', 124],
  ])('matches the API on the cookbook conversation for %s (%i tokens)', (model, expected) => {
    expect(countChatTokens(cookbookMessages, model)).toBe(expected);
  });
});

describe('encodingForModel', () => {
  it.each([
    ['gpt-4', 'cl100k_base'],
    ['gpt-4-0613', 'cl100k_base'],
    ['gpt-4-32k', 'cl100k_base'],
    ['gpt-4-turbo', 'cl100k_base'],
    ['gpt-4-turbo-2024-04-09', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['gpt-3.5-turbo-0125', 'cl100k_base'],
    ['gpt-35-turbo', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['text-embedding-3-large', 'cl100k_base'],
    ['text-embedding-ada-002', 'cl100k_base'],
    ['openai/gpt-4', 'cl100k_base'],
    ['ft:gpt-3.5-turbo-0125:acme::8xYz', 'cl100k_base'],
    ['ft:gpt-4o-mini-2024-07-18:acme::8xYz', 'o200k_base'],
    ['gpt-4o', 'o200k_base'],
    ['gpt-4o-mini', 'o200k_base'],
    ['gpt-4o-2024-08-06', 'o200k_base'],
    ['gpt-4.1', 'o200k_base'],
    ['gpt-4.1-nano', 'o200k_base'],
    ['gpt-5', 'o200k_base'],
    ['gpt-5-mini', 'o200k_base'],
    ['o1', 'o200k_base'],
    ['o3-mini', 'o200k_base'],
    ['o4-mini', 'o200k_base'],
    ['llama3.1:8b', 'o200k_base'],
    ['some-unknown-model', 'o200k_base'],
  ] as const)('%s uses %s', (model, encoding) => {
    expect(encodingForModel(model)).toBe(encoding);
  });
});

describe('truncateToTokens', () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);

  it('returns the text unchanged when it fits', () => {
    expect(truncateToTokens('hello world', 2, 'gpt-4o')).toBe('hello world');
    expect(truncateToTokens('hello world', 100, 'gpt-4o')).toBe('hello world');
  });

  it('cuts to a prefix of at most maxTokens tokens', () => {
    for (const max of [1, 5, 17, 100]) {
      const cut = truncateToTokens(text, max, 'gpt-4o');
      expect(text.startsWith(cut)).toBe(true);
      expect(countTextTokens(cut, 'gpt-4o')).toBeLessThanOrEqual(max);
      expect(countTextTokens(cut, 'gpt-4o')).toBe(max);
    }
  });

  it('returns an empty string for 0 or a negative budget', () => {
    expect(truncateToTokens(text, 0, 'gpt-4o')).toBe('');
    expect(truncateToTokens(text, -3, 'gpt-4o')).toBe('');
  });

  it('never ends in half a character', () => {
    const japanese = 'お誕生日おめでとう';
    for (let max = 1; max <= 9; max++) {
      const cut = truncateToTokens(japanese, max, 'gpt-4');
      expect(japanese.startsWith(cut)).toBe(true);
      expect(cut).not.toContain('\uFFFD');
      expect(countTextTokens(cut, 'gpt-4')).toBeLessThanOrEqual(max);
    }
  });
});
