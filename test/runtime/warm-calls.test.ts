import { describe, expect, it } from 'vitest';
import { KEEP_ALIVE_MS, WarmCalls } from '../../src/runtime/warm-calls.js';

describe('WarmCalls: which calls may wait for a new connection', () => {
  it('the first calls of a model are cold until one ends; its answered() says so', () => {
    const warm = new WarmCalls();
    expect(warm.answered('a')).toBe(false);
    expect([warm.sent('a', 0), warm.sent('a', 0), warm.sent('a', 1)]).toEqual([true, true, true]);
    warm.ended('a', 50, true);
    expect(warm.answered('a')).toBe(true);
    expect(warm.answered('b')).toBe(false);
    // Two cold calls still in flight: the server may still be busy with them.
    expect(warm.sent('a', 60)).toBe(true);
    warm.ended('a', 70, true);
    warm.ended('a', 70, true);
    warm.ended('a', 70, true);
    // None in flight, three connections made.
    expect([warm.sent('a', 80), warm.sent('a', 80), warm.sent('a', 80)]).toEqual([
      false,
      false,
      false,
    ]);
    // A fourth at once needs a new connection.
    expect(warm.sent('a', 81)).toBe(true);
  });

  it('calls within the connections made stay warm; after a pause longer than keep-alive, cold', () => {
    const warm = new WarmCalls();
    warm.sent('a', 0);
    warm.sent('a', 0);
    warm.ended('a', 50, true);
    warm.ended('a', 60, true);
    expect(warm.sent('a', 60 + KEEP_ALIVE_MS)).toBe(false);
    expect(warm.sent('a', 60 + KEEP_ALIVE_MS)).toBe(false);
    warm.ended('a', 100 + KEEP_ALIVE_MS, false);
    warm.ended('a', 100 + KEEP_ALIVE_MS, false);
    expect(warm.sent('a', 101 + 2 * KEEP_ALIVE_MS)).toBe(true);
  });

  it('a long call in flight keeps its own connection only, once the others idled out', () => {
    const warm = new WarmCalls();
    warm.sent('a', 0);
    warm.sent('a', 0);
    warm.sent('a', 0);
    warm.ended('a', 50, true);
    warm.ended('a', 50, true);
    expect(warm.sent('a', 51 + KEEP_ALIVE_MS)).toBe(true);
  });

  it('models are counted apart, and an end with nothing sent changes nothing', () => {
    const warm = new WarmCalls();
    warm.ended('a', 10, false);
    expect(warm.answered('a')).toBe(false);
    warm.sent('a', 0);
    warm.ended('a', 20, true);
    expect(warm.sent('b', 21)).toBe(true);
    expect(warm.sent('a', 21)).toBe(false);
  });
});
