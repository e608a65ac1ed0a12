import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatResetDuration,
  parseResetDuration,
} from '../../../src/providers/simulator/durations.js';

describe('formatResetDuration', () => {
  it.each([
    [0, '0s'],
    [20, '20ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [8_640, '8.64s'],
    [59_999, '59.999s'],
    [90_000, '1m30s'],
    [360_000, '6m0s'],
    [3_600_000, '1h0m0s'],
    [3_723_500, '1h2m3.5s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });

  it('rounds up to a whole millisecond and treats nonsense as 0', () => {
    expect(formatResetDuration(0.2)).toBe('1ms');
    expect(formatResetDuration(1_000.5)).toBe('1.001s');
    expect(formatResetDuration(-5)).toBe('0s');
    expect(formatResetDuration(Number.NaN)).toBe('0s');
  });
});

describe('parseResetDuration', () => {
  it.each([
    ['0s', 0],
    ['20ms', 20],
    ['1s', 1_000],
    ['8.64s', 8_640],
    ['6m0s', 360_000],
    ['1m30s', 90_000],
    ['1h2m3.5s', 3_723_500],
    ['1.5h', 5_400_000],
    ['250us', 0.25],
    ['500ns', 0.0005],
    [' 2s ', 2_000],
    ['2', 2_000],
    ['0.5', 500],
  ])('%s → %d ms', (text, ms) => {
    expect(parseResetDuration(text)).toBe(ms);
  });

  it.each(['', 's', '-1s', '1x', '1s2', 'abc', '1 s', '1m-2s', '.s'])('refuses %j', (text) => {
    expect(parseResetDuration(text)).toBeUndefined();
  });

  it('round-trips every whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.nat({ max: 400 * 24 * 3_600_000 }), (ms) => {
        expect(parseResetDuration(formatResetDuration(ms))).toBe(ms);
      }),
      { numRuns: 2_000 },
    );
  });

  it('formats back what it parsed from a formatted duration', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), (ms) => {
        const text = formatResetDuration(ms);
        const parsed = parseResetDuration(text);
        expect(parsed).toBe(Math.ceil(ms));
        expect(formatResetDuration(parsed ?? -1)).toBe(text);
      }),
    );
  });
});
