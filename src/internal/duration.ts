/**
 * Durations: every duration option takes a number in its documented unit (seconds, or
 * milliseconds for the keys ending in `Ms`, hours for `olderThanHours`) or a string with units,
 * and resolves to the number in the documented unit.
 *
 * The string grammar: one or more `<amount><unit>` parts, largest unit first, each unit at most
 * once; an amount is digits with an optional decimal fraction (`1.5`); the units are `ms`, `s`,
 * `m` (minutes), `h` and `d` (24 hours), lower case; spaces may surround the parts and separate
 * an amount from its unit. `'90s'`, `'500ms'`, `'1h30m'`, `'1.5s'`, `'1h 30m'`, `'2d'`.
 * Refused: an empty string, a bare number as a string (`'10'`: is it seconds or milliseconds?),
 * signs (`'-5s'`), exponents, other units (`'1w'`, `'1H'`), a unit twice or out of order
 * (`'30m1h'`), and amounts too large to be a finite number.
 */

import { z } from 'zod';

/** The units a duration string may use. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/** A duration as a string with units: `'90s'`, `'500ms'`, `'1h30m'`. Checked at run time. */
export type DurationString = `${number}${DurationUnit}${string}`;

/** Milliseconds in one of each unit, largest first (the order parts must come in). */
const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const UNIT_ORDER = Object.keys(UNIT_MS) as DurationUnit[];

/**
 * Rounds away binary noise (`8.64 * 1000 = 8640.000000000001`, `1.1 * 1000`) at a nanosecond.
 * Used by every duration parser (options here, rate-limit headers in `src/providers`).
 */
export function roundToNanosecond(ms: number): number {
  const nanoseconds = Math.round(ms * 1e6);
  return Number.isSafeInteger(nanoseconds) ? nanoseconds / 1e6 : ms;
}

// `ms` before `m` and `s`, so that `500ms` is one part.
const PART = /\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*/y;

/**
 * The milliseconds a duration string stands for, or `undefined` when it does not follow the
 * grammar (see the module's comment) or overflows. Sums are rounded to the nanosecond, so that
 * `'1.1s'` is exactly 1100 ms. (Rate-limit headers, which follow Go's looser notation, are read by
 * `parseResetDuration` in `src/providers/simulator/durations.ts`.)
 */
export function parseDurationMs(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  let total = 0;
  let last = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return undefined;
    const unit = match[2] as DurationUnit;
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= last) return undefined;
    last = rank;
    total += Number(match[1]) * UNIT_MS[unit];
  }
  return Number.isFinite(total) ? roundToNanosecond(total) : undefined;
}

/** The unit a duration option's number is in. */
type OptionUnit = 'milliseconds' | 'seconds' | 'hours';
const OPTION_UNIT_MS: Readonly<Record<OptionUnit, number>> = {
  milliseconds: 1,
  seconds: 1000,
  hours: 3_600_000,
};

const EXAMPLES = `"90s", "500ms" or "1h30m"`;

/** A duration option's schema: a number in its unit or a `DurationString` in, the number out. */
export type DurationSchema = z.ZodType<number, number | DurationString>;

function durationIn(unit: OptionUnit): DurationSchema {
  const expected = `expected a duration: a number of ${unit}, or a string with units (ms, s, m, h, d) such as ${EXAMPLES}`;
  return z
    .custom<number | DurationString>(
      (value) => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)),
      { error: expected },
    )
    .transform((value, ctx) => {
      if (typeof value === 'number') return value;
      const ms = parseDurationMs(value);
      if (ms !== undefined) return ms / OPTION_UNIT_MS[unit];
      const bare = /^\s*\d+(?:\.\d+)?\s*$/.test(value);
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: bare
          ? `expected a duration: a string needs a unit (ms, s, m, h, d), e.g. "${value.trim()}s"; a number is in ${unit}`
          : expected,
      });
      return z.NEVER;
    })
    .pipe(z.number().nonnegative());
}

/**
 * A duration in seconds: a number of seconds (`90`), or a string with units (`'90s'`,
 * `'1m30s'`, `'500ms'`) that resolves to seconds. Never negative; pipe it into
 * `z.number().positive()` (or any check) for more.
 */
export const DurationSecondsSchema = durationIn('seconds');

/** A duration in milliseconds: a number of milliseconds (`1000`) or a string with units (`'1s'`). */
export const DurationMsSchema = durationIn('milliseconds');

/** A duration in hours: a number of hours (`24`) or a string with units (`'1d'`, `'90m'`). */
export const DurationHoursSchema = durationIn('hours');
