/**
 * Scalars of a schema answer: integers and numbers within a schema's bounds and `multipleOf`,
 * strings of a `format`, and strings that match a `pattern`.
 */

import type { RandomSource } from '../../time/clock.js';
import { type AnswerSource, intBetween, word } from './prose.js';
import { numberAt, type Schema } from './schema-keywords.js';

/** An integer within the schema's bounds (and `multipleOf`), near 0..100 when they allow it. */
export function generateInteger(schema: Schema, random: RandomSource): number {
  const exclusiveMin = numberAt(schema, 'exclusiveMinimum');
  const exclusiveMax = numberAt(schema, 'exclusiveMaximum');
  const minimum = numberAt(schema, 'minimum');
  const maximum = numberAt(schema, 'maximum');
  let lo = Math.max(
    minimum === undefined ? Number.NEGATIVE_INFINITY : Math.ceil(minimum),
    exclusiveMin === undefined ? Number.NEGATIVE_INFINITY : Math.floor(exclusiveMin) + 1,
  );
  let hi = Math.min(
    maximum === undefined ? Number.POSITIVE_INFINITY : Math.floor(maximum),
    exclusiveMax === undefined ? Number.POSITIVE_INFINITY : Math.ceil(exclusiveMax) - 1,
  );
  [lo, hi] = usualRange(lo, hi);
  let value = intBetween(lo, hi, random);
  const step = numberAt(schema, 'multipleOf');
  if (step !== undefined && step > 0) value = nearestMultiple(value, step, lo, hi);
  return value;
}

/** A number within the schema's bounds (exclusive ones kept), to two decimals when it fits. */
export function generateNumber(schema: Schema, random: RandomSource): number {
  const exclusiveMin = numberAt(schema, 'exclusiveMinimum');
  const exclusiveMax = numberAt(schema, 'exclusiveMaximum');
  const lower = Math.max(
    numberAt(schema, 'minimum') ?? Number.NEGATIVE_INFINITY,
    exclusiveMin ?? Number.NEGATIVE_INFINITY,
  );
  const upper = Math.min(
    numberAt(schema, 'maximum') ?? Number.POSITIVE_INFINITY,
    exclusiveMax ?? Number.POSITIVE_INFINITY,
  );
  const [lo, hi] = usualRange(lower, upper);
  const fits = (v: number) =>
    v >= lower &&
    v <= upper &&
    (exclusiveMin === undefined || v > exclusiveMin) &&
    (exclusiveMax === undefined || v < exclusiveMax);
  // Stay off the bounds (they may be exclusive): somewhere in the middle 90 %.
  let value = lo + (hi - lo) * (0.05 + 0.9 * random());
  const step = numberAt(schema, 'multipleOf');
  if (step !== undefined && step > 0) {
    const multiple = nearestMultiple(value, step, lower, upper);
    return fits(multiple) ? multiple : value;
  }
  const rounded = Math.round(value * 100) / 100;
  if (fits(rounded)) value = rounded;
  return fits(value) ? value : (lo + hi) / 2;
}

/** A candidate that matches `pattern`, or `fallback` when none of them does. */
export function matchingString(pattern: string, fallback: string, source: AnswerSource): string {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch {
    return fallback;
  }
  const w = word(source);
  const n = String(intBetween(0, 9999, source.random));
  const candidates = [fallback, w, w.replace(/[^a-z0-9]/g, ''), `${w}-${n}`, n, w.toUpperCase()];
  return candidates.find((c) => regex.test(c)) ?? fallback;
}

/** A string of `format` (`date-time`, `email`, `uuid`…), or `undefined` for an unknown one. */
export function formattedString(format: string, source: AnswerSource): string | undefined {
  const random = source.random;
  const slug = word(source)
    .normalize('NFKD')
    .replace(/[^a-z0-9]/g, '');
  const name = slug === '' ? 'sample' : slug;
  // Dates between 2020-01-01 and 2025-12-31, to the second.
  const date = new Date(Date.UTC(2020, 0, 1) + Math.floor(random() * 189_302_400) * 1000);
  const iso = date.toISOString().replace('.000', '');
  switch (format) {
    case 'date-time':
      return iso;
    case 'date':
      return iso.slice(0, 10);
    case 'time':
      return iso.slice(11, 19);
    case 'email':
    case 'idn-email':
      return `${name}@example.com`;
    case 'uri':
    case 'url':
    case 'iri':
      return `https://example.com/${name}`;
    case 'hostname':
    case 'idn-hostname':
      return `${name}.example.com`;
    case 'uuid':
      return uuid(random);
    case 'ipv4':
      return Array.from({ length: 4 }, () => intBetween(1, 254, random)).join('.');
    case 'ipv6':
      return `2001:db8::${intBetween(1, 0xffff, random).toString(16)}`;
    case 'duration':
      return `PT${intBetween(1, 59, random)}M`;
    default:
      return undefined;
  }
}

/** A version-4-shaped UUID from `random`. */
function uuid(random: RandomSource): string {
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const variant = (8 + Math.floor(random() * 4)).toString(16);
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
}

/**
 * A generation range inside [lo, hi]: [0, 100] when that fits, otherwise about 100 wide next to
 * the bound that exists (schemas often carry huge safe-integer bounds).
 */
function usualRange(lo: number, hi: number): [number, number] {
  if (lo > hi) return [lo, lo];
  const from = Math.max(lo, 0);
  const to = Math.min(hi, 100);
  if (from <= to && !(from === to && lo < hi)) return [from, to];
  if (Number.isFinite(lo) && Number.isFinite(hi)) {
    return hi - lo <= 100 ? [lo, hi] : lo > 0 ? [lo, lo + 100] : [hi - 100, hi];
  }
  if (Number.isFinite(lo)) return [lo, lo + 100];
  if (Number.isFinite(hi)) return [hi - 100, hi];
  return [0, 100];
}

function nearestMultiple(value: number, step: number, lo: number, hi: number): number {
  let multiple = Math.round(value / step) * step;
  if (multiple < lo) multiple = Math.ceil(lo / step) * step;
  if (multiple > hi) multiple = Math.floor(hi / step) * step;
  // Strip binary noise: 0.1 * 3 = 0.30000000000000004.
  return Number(multiple.toPrecision(12));
}
