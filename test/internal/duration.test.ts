import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManagerOptionsSchema } from '../../src/config/manager-options.js';
import { ValidationError } from '../../src/errors.js';
import {
  DurationHoursSchema,
  DurationMsSchema,
  DurationSecondsSchema,
  parseDurationMs,
} from '../../src/internal/duration.js';
import { parseOrThrow } from '../../src/internal/validate.js';

describe('parseDurationMs: the grammar', () => {
  it.each([
    ['90s', 90_000],
    ['500ms', 500],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['90 s', 90_000],
    ['  2d ', 172_800_000],
    ['1.5s', 1500],
    ['1.1s', 1100],
    ['0.25h', 900_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
    ['7200s', 7_200_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each([
    '',
    '   ',
    '10',
    '1.5',
    '-5s',
    '+5s',
    '1e3s',
    '.5s',
    '5.s',
    '1H',
    '1S',
    '1w',
    '1y',
    '1 h 30',
    '30m1h',
    '1m1m',
    '500msx',
    'NaN s',
    'Infinitys',
    's',
    '1h,30m',
    `${'9'.repeat(400)}d`,
  ])('%j is refused', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('the duration schemas', () => {
  it('pass numbers through unchanged and resolve strings to their unit', () => {
    expect(DurationSecondsSchema.parse(60_000)).toBe(60_000);
    expect(DurationSecondsSchema.parse('500ms')).toBe(0.5);
    expect(DurationSecondsSchema.parse('1h30m')).toBe(5400);
    expect(DurationMsSchema.parse('1m')).toBe(60_000);
    expect(DurationMsSchema.parse(250)).toBe(250);
    expect(DurationHoursSchema.parse('90m')).toBe(1.5);
    expect(DurationHoursSchema.parse('1d')).toBe(24);
  });

  it('refuse with a ValidationError naming the field and the value received', () => {
    const schema = z.object({ config: z.object({ timeout: DurationSecondsSchema }) });
    const cases: Array<[unknown, RegExp]> = [
      [
        '10',
        /config\.timeout: .*a string needs a unit .*"10s".*a number is in seconds \(received "10"\)/,
      ],
      [
        '',
        /config\.timeout: expected a duration: a number of seconds, or a string with units .*\(received ""\)/,
      ],
      ['-5s', /config\.timeout: expected a duration.*\(received "-5s"\)/],
      ['1w', /config\.timeout: expected a duration.*\(received "1w"\)/],
      [Number.NaN, /config\.timeout: expected a duration.*\(received NaN\)/],
      [Number.POSITIVE_INFINITY, /config\.timeout: expected a duration.*\(received Infinity\)/],
      [-1, /config\.timeout: .*\(received -1\)/],
      [true, /config\.timeout: expected a duration.*\(received true\)/],
      [null, /config\.timeout: expected a duration.*\(received null\)/],
    ];
    for (const [timeout, message] of cases) {
      let thrown: unknown;
      try {
        parseOrThrow(schema, { config: { timeout } }, 'options', { pathPrefix: '' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(timeout)).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).message, String(timeout)).toMatch(message);
      expect((thrown as ValidationError).issues[0]?.path).toBe('config.timeout');
      expect((thrown as ValidationError).issues[0]?.received).toBe(timeout);
    }
  });

  it('keep each option’s own checks after the conversion (whole ms, > 0); no upper threshold', () => {
    const at = (options: unknown) => ManagerOptionsSchema.safeParse(options);
    const window = (windowMs: unknown) => ({ windows: [{ requests: 1, windowMs }] });
    expect(at(window('0.5ms')).error?.issues[0]?.message).toBe(
      'expected a whole number of milliseconds',
    );
    expect(at(window('1.5s')).data?.windows?.[0]?.windowMs).toBe(1500);
    expect(at({ taskDefaults: { timeout: '0s' } }).success).toBe(false);
    expect(at({ taskDefaults: { retryDelay: '0s' } }).data?.taskDefaults.retryDelay).toBe(0);
    expect(at({ taskDefaults: { timeout: 7200 } }).data?.taskDefaults.timeout).toBe(7200);
    expect(at({ maxServerWait: '30d' }).data?.maxServerWait).toBe(2_592_000);
  });
});

const UNITS = [
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
] as const;

describe('duration strings: properties', () => {
  it('a duration written in random units parses back to the same number (ms and seconds)', () => {
    const part = fc.record({
      unit: fc.integer({ min: 0, max: UNITS.length - 1 }),
      whole: fc.integer({ min: 0, max: 10_000 }),
      fraction: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(part, { selector: (p) => p.unit, minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (parts, spaced) => {
          const sorted = [...parts].sort((a, b) => b.unit - a.unit);
          let expectedMs = 0;
          const text = sorted
            .map(({ unit, whole, fraction }) => {
              const [name, ms] = UNITS[unit] as (typeof UNITS)[number];
              const amount =
                fraction === undefined
                  ? `${whole}`
                  : `${whole}.${String(fraction).padStart(3, '0')}`;
              expectedMs += Number(amount) * ms;
              return `${amount}${name}`;
            })
            .join(spaced ? ' ' : '');
          const ms = DurationMsSchema.parse(text);
          expect(ms).toBeCloseTo(expectedMs, 3);
          expect(
            Math.abs(DurationSecondsSchema.parse(text) - expectedMs / 1000),
          ).toBeLessThanOrEqual(1e-9 * Math.max(1, expectedMs / 1000));
        },
      ),
    );
  });

  it('a number of seconds written as "<n>s", "<n*1000>ms" and passed as a number agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (millis) => {
        const seconds = millis / 1000;
        expect(DurationSecondsSchema.parse(seconds)).toBe(seconds);
        expect(DurationSecondsSchema.parse(`${millis}ms`)).toBe(seconds);
        expect(DurationMsSchema.parse(millis)).toBe(millis);
      }),
    );
  });

  it('numbers pass through every duration schema unchanged', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e12, noNaN: true }), (n) => {
        expect(DurationSecondsSchema.parse(n)).toBe(n);
        expect(DurationMsSchema.parse(n)).toBe(n);
        expect(DurationHoursSchema.parse(n)).toBe(n);
      }),
    );
  });
});
