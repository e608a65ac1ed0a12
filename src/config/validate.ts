import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.js';

/** A short, safe rendering of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * Parses `value` with `schema`, or throws a `ValidationError` whose message names every field
 * that failed and the value it received, e.g. `maxConcurrent: expected a positive integer
 * (received -1)`. `what` prefixes field paths (`options`, `data`, `config`…).
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  options: ParseOptions = {},
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const prefix = options.pathPrefix ?? what;
  const redact = new Set(options.redact ?? []);
  const issues: ValidationIssue[] = parsed.error.issues.map((issue) => {
    const own = issue.path.map(String).join('.');
    const path = [prefix, own].filter((p) => p !== '').join('.') || `(${what})`;
    // A secret is never echoed back, not even a malformed one.
    const raw = valueAt(value, issue.path);
    const received = redact.has(own) && raw !== undefined ? REDACTED : raw;
    return { path, message: issue.message, received };
  });
  const text = issues
    .map((i) => {
      const shown = i.received === REDACTED ? REDACTED : describeValue(i.received);
      return `${i.path}: ${i.message} (received ${shown})`;
    })
    .join('; ');
  throw new ValidationError(`invalid ${what}: ${text}`, issues);
}

export interface ParseOptions {
  /** Put before every field path (default: `what`; `''` for none). */
  pathPrefix?: string;
  /** Field paths (`apiKey`) whose received value is never shown. */
  redact?: readonly string[];
}

const REDACTED = '[redacted]';

/** A zod schema for a function-valued option (`fetch`, `clock.now`, callbacks). */
export const functionOf = <T>(what: string) =>
  z.custom<T>((value) => typeof value === 'function', { error: `expected ${what}` });
