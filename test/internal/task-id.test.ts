import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newTaskId } from '../../src/internal/task-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit time at the start of a version 7 UUID, ms. */
const timeOf = (id: string): number => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);

// The generator keeps the last time it used for the whole process: each test starts later
// than every time used before it, as a clock would.
let base = 1_800_000_000_000;
const later = (): number => {
  base += 10_000_000;
  return base;
};

describe('newTaskId', () => {
  it('makes UUIDs of version 7 that carry the time given, none twice, across refills of its pool', () => {
    const at = later();
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const id = newTaskId(at + i);
      expect(id).toMatch(UUID_V7);
      expect(timeOf(id)).toBe(at + i);
      seen.add(id);
    }
    expect(seen.size).toBe(5_000);
  });

  it('makes ids that sort in the order they were made, whatever the clock does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 300 }),
        (steps) => {
          let at = later();
          let previous = newTaskId(at);
          for (const step of steps) {
            at += step; // standing still, stepping back, moving on
            const id = newTaskId(at);
            expect(id > previous).toBe(true);
            // The clock's time, or the last id's while the clock stands or steps back (300 ids
            // cannot run a millisecond's counter over: it starts below 2^11 of 2^12).
            expect(timeOf(id)).toBe(Math.max(at, timeOf(previous)));
            previous = id;
          }
        },
      ),
    );
  });

  it('moves the time on when one millisecond runs out of counter', () => {
    const at = later();
    const ids = Array.from({ length: 5_000 }, () => newTaskId(at));
    for (let i = 1; i < ids.length; i++)
      expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
    // 2^12 values a millisecond at most, from a start below 2^11: 5,000 ids need 2 or 3 of them.
    const last = timeOf(ids.at(-1) as string);
    expect(last - at).toBeGreaterThanOrEqual(1);
    expect(last - at).toBeLessThanOrEqual(2);
  });

  it('uses every hex digit in the random positions', () => {
    const at = later();
    const digits = new Set<string>();
    for (let i = 0; i < 200; i++) {
      for (const c of newTaskId(at + i)
        .replaceAll('-', '')
        .slice(16))
        digits.add(c);
    }
    expect([...digits].sort().join('')).toBe('0123456789abcdef');
  });

  // Last: the time it leaves behind is the greatest the format holds.
  it('clamps times the format cannot hold', () => {
    expect(newTaskId(Number.NaN)).toMatch(UUID_V7);
    expect(timeOf(newTaskId(2 ** 50))).toBe(2 ** 48 - 1);
  });
});
