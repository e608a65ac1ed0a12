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

/** The value at `path` inside `root` (`undefined` where the path leaves the objects). */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

interface SchemaDef {
  type?: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** The keys an object schema knows at `path` (through optional, default and pipes), if any. */
function knownKeysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let node = schema;
  for (let i = 0; i <= path.length; i++) {
    for (let def = defOf(node); def !== undefined && def.type !== 'object'; def = defOf(node)) {
      const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
      if (inner === undefined) return [];
      node = inner;
    }
    const shape = defOf(node)?.shape;
    if (shape === undefined) return [];
    if (i === path.length) return Object.keys(shape);
    node = shape[String(path[i])];
  }
  return [];
}

/** Edit distance, for "did you mean" hints on short option names. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(
        (row[j - 1] ?? 0) + 1,
        (previous[j] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * The one of `known` closest to the mistyped `word` (`maxConcurent`: `maxConcurrent`), when one is
 * close enough to be a typo (an edit or so per four letters); the "did you mean" of config keys
 * and of the CLI's flags and commands.
 */
export function closestName(word: string, known: readonly string[]): string | undefined {
  return known
    .map((k) => ({ k, d: distance(word, k) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(word.length / 4)))
    .sort((x, y) => x.d - y.d)[0]?.k;
}

/** `Unrecognized key: "maxConcurent"` + ` (did you mean "maxConcurrent"?)` when one is close. */
export function withHint(issue: z.core.$ZodIssue, schema: unknown): string {
  return hinted(issue, schema, {});
}

/** `withHint`, where a key of `renamed` is pointed to what replaces it, close or not. */
function hinted(
  issue: z.core.$ZodIssue,
  schema: unknown,
  renamed: Readonly<Record<string, string>>,
): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const known = knownKeysAt(schema, issue.path);
  const hints = issue.keys.flatMap((key) => {
    const near = Object.hasOwn(renamed, key) ? renamed[key] : closestName(key, known);
    if (near === undefined) return [];
    return [issue.keys.length === 1 ? `"${near}"` : `"${near}" for "${key}"`];
  });
  return hints.length === 0
    ? issue.message
    : `${issue.message} (did you mean ${hints.join(', ')}?)`;
}

/** A schema of an object that has the named methods (a clock, a store, a tracer…). */
export const objectWith = <T>(what: string, methods: readonly string[]) =>
  z.custom<T>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function'),
    { error: `expected ${what} (an object with ${methods.join(', ')})` },
  );

/**
 * Parses `value` with `schema`, or throws a `ValidationError` whose message names each field
 * that failed and the value it received, e.g. `maxConcurrent: expected a positive integer
 * (received -1)` (the first ten; `issues` holds them all). `what` prefixes field paths
 * (`options`, `data`, `config`…).
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
  const redact = options.redact ?? [];
  const issues: ValidationIssue[] = parsed.error.issues.map((issue) => {
    const own = issue.path.map(String).join('.');
    const path = [prefix, own].filter((p) => p !== '').join('.') || `(${what})`;
    // A secret is never echoed back, not even a malformed one; nor is a string given where the
    // options object holding one was expected (`new OpenAICompatibleClient('sk-…')`, as the
    // seed's `APIConfig(api_key, …)` would be ported).
    const raw = valueAt(value, issue.path);
    const secret =
      isRedactedPath(own, redact) || (redact.length > 0 && own === '' && typeof raw === 'string');
    const received = secret && raw !== undefined ? REDACTED : raw;
    return { path, message: hinted(issue, schema, options.renamed ?? {}), received };
  });
  const shown = issues.slice(0, MESSAGE_ISSUES).map((i) => {
    const value = i.received === REDACTED ? REDACTED : describeValue(i.received);
    return `${i.path}: ${i.message} (received ${value})`;
  });
  const more = issues.length - shown.length;
  if (more > 0) shown.push(`and ${more.toLocaleString('en-US')} more (all in error.issues)`);
  throw new ValidationError(`invalid ${what}: ${shown.join('; ')}`, issues);
}

/**
 * How many issues a message names; the rest are counted. A batch of 1,000 tasks that all miss
 * a field makes 1,000 issues: its message stays a line, and `error.issues` has every one.
 */
const MESSAGE_ISSUES = 10;

export interface ParseOptions {
  /** Put before every field path (default: `what`; `''` for none). */
  pathPrefix?: string;
  /**
   * Field paths (`apiKey`, `defaultHeaders`) whose received value is never shown, nor any value
   * under them (`defaultHeaders.api-key`).
   */
  redact?: readonly string[];
  /**
   * Unknown keys and what to use instead, named in the "did you mean" however far they are from
   * it (the Python seed's `callback`: `config.onComplete`).
   */
  renamed?: Readonly<Record<string, string>>;
}

/**
 * Whether the value at the dotted `path` is secret: `path` is one of `redact` or lies under one
 * (`defaultHeaders.api-key` under `defaultHeaders`).
 */
export function isRedactedPath(path: string, redact: readonly string[]): boolean {
  return redact.some((secret) => path === secret || path.startsWith(`${secret}.`));
}

export const REDACTED = '[redacted]';

/** A zod schema for a function-valued option (`fetch`, `clock.now`, callbacks). */
export const functionOf = <T>(what: string) =>
  z.custom<T>((value) => typeof value === 'function', { error: `expected ${what}` });

/**
 * An object of string keys whose own `"__proto__"` key (which `JSON.parse` keeps) is refused,
 * in `submitTask`'s `metadata` and in the CLI's lines: a copy of the object would drop it, or
 * take it for its prototype.
 */
export const OwnKeysRecordSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({
        code: 'custom',
        path: ['__proto__'],
        message: `a "__proto__" key is refused: it would be dropped, or become the object's prototype`,
      });
    }
  })
  .pipe(z.record(z.string(), z.unknown()));
