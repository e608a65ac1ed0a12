import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Turns } from '../../../src/internal/turns.js';
import { countChatTokens, countTextTokens } from '../../../src/limits/tokens.js';
import { PacedCounter } from '../../../src/providers/simulator/counting.js';

/** Texts rich in the places where pre-tokenizers split: letters, marks, digits, contractions. */
const tricky = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      'word',
      'Hello',
      ' ',
      '  ',
      '\n',
      '\r\n',
      '\t',
      "'s",
      "'LL",
      '’',
      '.',
      '...',
      '/',
      '_',
      '-',
      '12345',
      '7',
      'é',
      'e\u0301',
      '東京',
      '😀',
      '<|endoftext|>',
      '\u00a0',
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

describe('PacedCounter', () => {
  it('counts a text in pieces to exactly countTextTokens, in both encodings', async () => {
    await fc.assert(
      fc.asyncProperty(
        tricky,
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom('gpt-4o-mini', 'gpt-4', 'text-embedding-3-small'),
        async (text, pieceChars, model) => {
          const counter = new PacedCounter(model, new Turns(), pieceChars);
          expect(await counter.text(text)).toBe(countTextTokens(text, model));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('counts chat messages to exactly countChatTokens', async () => {
    const message = fc.record(
      { role: fc.constantFrom('system', 'user', 'assistant'), content: tricky, name: tricky },
      { requiredKeys: ['role', 'content'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 4 }), async (messages) => {
        const counter = new PacedCounter('gpt-4o-mini', new Turns(), 5);
        expect(await counter.chat(messages)).toBe(countChatTokens(messages, 'gpt-4o-mini'));
      }),
      { numRuns: 200 },
    );
  });

  it('lets other work run while it counts a long text', async () => {
    const text = 'alpha beta, gamma.\n'.repeat(2_000);
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    let turnsWhenDone = -1;
    const count = new PacedCounter('gpt-4o-mini', new Turns(), 1_000).text(text).then((n) => {
      done = true;
      turnsWhenDone = turns;
      return n;
    });
    expect(await count).toBe(countTextTokens(text, 'gpt-4o-mini'));
    // One turn of the event loop for each piece after the first.
    expect(turnsWhenDone).toBeGreaterThanOrEqual(30);
  });
});
