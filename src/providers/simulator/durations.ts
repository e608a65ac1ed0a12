/**
 * Durations as OpenAI writes them in `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`
 * (Go's `time.Duration` notation: `20ms`, `1s`, `8.64s`, `6m0s`, `1m30s`, `1h2m3s`).
 */

import { roundToNanosecond } from '../../internal/duration.js';

const MS_PER_SECOND = 1_000;
const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;

/** Milliseconds per unit, for every unit Go's `time.ParseDuration` accepts. */
const UNIT_MS: Readonly<Record<string, number>> = {
  h: MS_PER_HOUR,
  m: MS_PER_MINUTE,
  s: MS_PER_SECOND,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ns: 1e-6,
};

/** `8.640` → `8.64`, `30.000` → `30`. */
function trimFraction(whole: number, thousandths: number): string {
  if (thousandths === 0) return String(whole);
  const fraction = String(thousandths).padStart(3, '0').replace(/0+$/, '');
  return `${whole}.${fraction}`;
}

/**
 * Writes a duration the way OpenAI's rate-limit headers do: `0s`, `20ms`, `1s`, `8.64s`,
 * `6m0s`, `1m30s`, `1h0m0s`. The duration is rounded up to a whole millisecond (a reset time is
 * never understated); negative or non-finite input is treated as 0.
 *
 * @param ms duration in milliseconds
 * @example formatResetDuration(90_000) // '1m30s'
 */
export function formatResetDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : 0;
  if (total === 0) return '0s';
  if (total < MS_PER_SECOND) return `${total}ms`;
  const hours = Math.floor(total / MS_PER_HOUR);
  const minutes = Math.floor((total % MS_PER_HOUR) / MS_PER_MINUTE);
  const restMs = total % MS_PER_MINUTE;
  const seconds = trimFraction(Math.floor(restMs / MS_PER_SECOND), restMs % MS_PER_SECOND);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)/y;
const PLAIN_SECONDS = /^(\d+(?:\.\d*)?|\.\d+)$/;

/**
 * Reads a duration written by {@link formatResetDuration}, by OpenAI, or by any server that uses
 * Go's notation (`1h2m3.5s`, `250ms`, `20us`, `0s`), and, for servers that send plain numbers,
 * a bare number of seconds (`"2"`, `"0.5"`).
 *
 * @returns the duration in milliseconds, or `undefined` when `s` is not a duration (empty,
 * negative, unknown unit, trailing garbage).
 * @example parseResetDuration('6m0s') // 360000
 */
export function parseResetDuration(s: string): number | undefined {
  const text = s.trim();
  if (text === '') return undefined;
  if (PLAIN_SECONDS.test(text)) return roundToNanosecond(Number(text) * MS_PER_SECOND);
  let total = 0;
  let position = 0;
  while (position < text.length) {
    COMPONENT.lastIndex = position;
    const match = COMPONENT.exec(text);
    if (match === null) return undefined;
    const [, amount, unit] = match;
    const factor = unit === undefined ? undefined : UNIT_MS[unit];
    if (amount === undefined || factor === undefined) return undefined;
    total += Number(amount) * factor;
    position = COMPONENT.lastIndex;
  }
  return Number.isFinite(total) ? roundToNanosecond(total) : undefined;
}
