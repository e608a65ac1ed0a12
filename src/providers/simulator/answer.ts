/**
 * Deterministic answers: JSON generated from the request's JSON schema (so that it validates for
 * any task type), a small JSON object, or plain text, all made of the prompt's own words so that
 * different inputs get different answers.
 */

import type { RandomSource } from '../../time/clock.js';

/** What a chat request asked for (`response_format`). */
export type AnswerFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: unknown };

/** The material an answer is made of. */
export interface AnswerSource {
  /** The prompt's topical words (never empty). */
  words: readonly string[];
  /** Seeded from the request body and the simulator's seed. */
  random: RandomSource;
}

type Schema = Record<string, unknown>;

/** The longest string the simulator generates: a larger `minLength` is refused. */
export const MAX_STRING_LENGTH = 10_000;
/**
 * The most items of a generated array, and entries of a generated record: a larger `minItems`
 * (or `minProperties`) is refused.
 */
export const MAX_ARRAY_ITEMS = 1_000;
/** The most bytes of the content of a completion (its choices together): a larger one is refused. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/**
 * The most schema nodes one answer may visit, discarded `uniqueItems` duplicates and `allOf`
 * merges included: bounds the work of schemas whose answers are small but whose generation is
 * not (an `allOf` of `$ref`s to the root doubles at every level).
 */
const MAX_GENERATION_STEPS = 4_000_000;

/**
 * A schema asks for more than the simulator generates: a string longer than
 * {@link MAX_STRING_LENGTH}, an array or record larger than {@link MAX_ARRAY_ITEMS}, or an answer
 * larger than {@link MAX_ANSWER_BYTES}. The message names the keyword, its value and where in the
 * answer it applies; the simulator answers it with a 400.
 */
export class AnswerLimitError extends Error {
  override readonly name = 'AnswerLimitError';
}

/** Below this depth, optional parts are left out and nullable parts are `null`. */
const SHALLOW_DEPTH = 6;
/** Past this depth (a recursive schema), generation stops with `null`. */
const MAX_DEPTH = 24;

/** Property names whose strings are sentences rather than a few words. */
const SENTENCE_HINT =
  /summary|description|explanation|reason|rationale|text|content|answer|analysis|comment|detail|message|overview|justification|notes?$/i;
/** Property names whose strings are a word or two. */
const SHORT_HINT = /name|title|label|category|topic|language|tag|keyword|type|kind|key|id$/i;

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function numberAt(schema: Schema, key: string): number | undefined {
  const value = schema[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function pick<T>(items: readonly T[], random: RandomSource): T | undefined {
  return items[Math.floor(random() * items.length)];
}

function intBetween(min: number, max: number, random: RandomSource): number {
  return min + Math.floor(random() * (max - min + 1));
}

function word(source: AnswerSource): string {
  return pick(source.words, source.random) ?? 'value';
}

/** `min`..`max` words of the prompt, distinct while the vocabulary allows it. */
function words(source: AnswerSource, min: number, max: number): string[] {
  const count = intBetween(min, max, source.random);
  const pool = [...source.words];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pool.length === 0) pool.push(...source.words);
    const index = Math.floor(source.random() * pool.length);
    out.push(pool.splice(index, 1)[0] ?? 'value');
  }
  return out;
}

/** Sentence shapes; each `%` is replaced by a word (or two) of the prompt. */
const SENTENCE_TEMPLATES: readonly string[] = [
  '% is closely related to %.',
  'In short, % depends on % and %.',
  'Consider % together with %.',
  'The key point about % is %.',
  '% and % should be reviewed first.',
  'A practical view of % starts from %.',
  'Most of the % comes down to % and %.',
  'Compared with %, % is the better fit here.',
];

function sentence(source: AnswerSource): string {
  const template = pick(SENTENCE_TEMPLATES, source.random) ?? '% %.';
  const slots = template.split('%').length - 1;
  const chosen = words(source, slots * 2, slots * 2);
  let slot = 0;
  const text = template.replace(/%/g, () => {
    const first = chosen[slot * 2] ?? 'value';
    const second = chosen[slot * 2 + 1];
    slot++;
    return source.random() < 0.3 && second !== undefined ? `${first} ${second}` : first;
  });
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** Plain text: a topic line and one to three sentences of the prompt's words. */
export function generateText(source: AnswerSource): string {
  const count = intBetween(1, 3, source.random);
  const topic = words(source, 2, 3);
  const last = topic.pop() ?? 'value';
  const list = topic.length > 0 ? `${topic.join(', ')} and ${last}` : last;
  const sentences = [`Simulated answer about ${list}.`];
  for (let i = 0; i < count; i++) sentences.push(sentence(source));
  return sentences.join(' ');
}

/** The small object answered to `response_format: {type: 'json_object'}`. */
export function generateJsonObject(source: AnswerSource): Record<string, unknown> {
  return {
    answer: sentence(source),
    topics: words(source, 2, 4),
    confidence: Math.round(source.random() * 100) / 100,
  };
}

/**
 * The answer's content for `format`, deterministic for a given source.
 *
 * @throws AnswerLimitError when the content would be larger than `maxBytes` (UTF-8), or the
 * schema asks for a string, array or record larger than the simulator generates.
 */
export function generateAnswer(
  format: AnswerFormat,
  source: AnswerSource,
  maxBytes = MAX_ANSWER_BYTES,
): string {
  let content: string;
  switch (format.type) {
    case 'text':
      content = generateText(source);
      break;
    case 'json_object':
      content = JSON.stringify(generateJsonObject(source));
      break;
    case 'json_schema':
      content = JSON.stringify(generateFromSchema(format.schema, source, maxBytes));
      break;
  }
  const bytes = Buffer.byteLength(content);
  if (bytes > maxBytes) throw tooLarge(bytes, maxBytes);
  return content;
}

function tooLarge(bytes: number, maxBytes: number): AnswerLimitError {
  return new AnswerLimitError(
    `the answer to this schema would be larger than ${maxBytes} bytes (${bytes} or more); the simulator answers at most ${MAX_ANSWER_BYTES} bytes (1 MiB) per completion`,
  );
}

/**
 * A value valid against `schema` (JSON Schema draft 2020-12 / OpenAPI subset: `type` (also as an
 * array), `properties` / `required` / `additionalProperties`, `items` / `prefixItems` /
 * `minItems` / `maxItems` / `uniqueItems`, `enum`, `const`, `anyOf` / `oneOf` / `allOf`,
 * `nullable`, local `$ref`s, string `format` / `minLength` / `maxLength` / `pattern`, number
 * bounds and `multipleOf`). Strings are drawn from the prompt's words.
 *
 * Generation is linear in the size of the answer, and bounded: a string has at most
 * {@link MAX_STRING_LENGTH} characters, an array or record at most {@link MAX_ARRAY_ITEMS}
 * entries, and the JSON text at most `maxBytes` bytes.
 *
 * @throws AnswerLimitError when the schema asks for more than these (`minLength`, `minItems`,
 * `minProperties`), or for an answer larger than `maxBytes`.
 */
export function generateFromSchema(
  schema: unknown,
  source: AnswerSource,
  maxBytes = MAX_ANSWER_BYTES,
): unknown {
  const root = isSchema(schema) ? schema : {};
  return new Generator(root, source, maxBytes).value(schema, 0, '');
}

class Generator {
  /** A lower bound of the length of the JSON text generated so far (each UTF-8 byte ≥ 1). */
  private size = 0;
  /** Schema nodes visited so far (see {@link MAX_GENERATION_STEPS}). */
  private steps = 0;
  /** Where in the answer the generator is: property names and item indexes. */
  private readonly path: (string | number)[] = [];

  constructor(
    private readonly root: Schema,
    private readonly source: AnswerSource,
    private readonly maxBytes: number,
  ) {}

  value(input: unknown, depth: number, hint: string): unknown {
    this.step();
    if (depth > MAX_DEPTH) return this.counted(null);
    if (input === false) return this.counted(null);
    if (!isSchema(input)) return this.string({}, hint);
    const schema = this.resolve(input, depth);
    if ('const' in schema) return this.counted(schema.const);
    const choices = schema.enum;
    if (Array.isArray(choices) && choices.length > 0) {
      const nonNull = choices.filter((c) => c !== null);
      return this.counted(pick(nonNull.length > 0 ? nonNull : choices, this.source.random) ?? null);
    }
    const alternatives = Array.isArray(schema.anyOf)
      ? schema.anyOf
      : Array.isArray(schema.oneOf)
        ? schema.oneOf
        : undefined;
    if (alternatives !== undefined && alternatives.length > 0) {
      return this.alternative(schema, alternatives, depth, hint);
    }
    const type = this.typeOf(schema, depth);
    switch (type) {
      case 'null':
        return this.counted(null);
      case 'boolean':
        return this.counted(this.source.random() < 0.5);
      case 'integer':
        return this.counted(this.integer(schema));
      case 'number':
        return this.counted(this.number(schema));
      case 'array':
        return this.array(schema, depth, hint);
      case 'object':
        return this.object(schema, depth);
      default:
        return this.string(schema, hint);
    }
  }

  /** Counts a visited schema node; refuses once there were too many. */
  private step(): void {
    if (++this.steps > MAX_GENERATION_STEPS) {
      throw new AnswerLimitError(
        `generating an answer to this schema takes more than ${MAX_GENERATION_STEPS} steps (nested allOf, $ref or uniqueItems that cannot be satisfied)`,
      );
    }
  }

  /** Adds `length` characters of JSON text to the answer; refuses once it is too large. */
  private grow(length: number): void {
    this.size += length;
    if (this.size > this.maxBytes) throw tooLarge(this.size, this.maxBytes);
  }

  /** A scalar (or a schema's `const` / `enum` value), counted at its JSON length. */
  private counted<T>(value: T): T {
    this.grow((JSON.stringify(value) ?? 'null').length);
    return value;
  }

  /** Refuses a size keyword (`minLength`…) above what the simulator generates. */
  private demand(keyword: string, value: number, limit: number, unit: string): void {
    if (value <= limit) return;
    const at = this.path.length === 0 ? 'the root of the answer' : `'${pathName(this.path)}'`;
    throw new AnswerLimitError(
      `'${keyword}' is ${value} at ${at}; the simulator generates at most ${limit} ${unit}`,
    );
  }

  /** Follows a local `$ref` and folds `allOf` into one schema. */
  private resolve(schema: Schema, depth: number): Schema {
    this.step();
    let current = schema;
    for (let hops = 0; typeof current.$ref === 'string' && hops < 16; hops++) {
      const { $ref, ...rest } = current;
      const target = this.pointer($ref as string);
      current = { ...(isSchema(target) ? target : {}), ...rest };
    }
    if (Array.isArray(current.allOf) && depth <= MAX_DEPTH) {
      const { allOf, ...rest } = current;
      let merged: Schema = {};
      for (const part of allOf) {
        if (isSchema(part)) merged = mergeSchemas(merged, this.resolve(part, depth + 1));
      }
      current = mergeSchemas(merged, rest);
    }
    return current;
  }

  /** The value at a `#/…` JSON pointer in the root schema. */
  private pointer(ref: string): unknown {
    if (ref === '#') return this.root;
    if (!ref.startsWith('#/')) return undefined;
    let current: unknown = this.root;
    for (const raw of ref.slice(2).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isSchema(current)) return undefined;
      current = current[key];
    }
    return current;
  }

  private alternative(
    schema: Schema,
    alternatives: readonly unknown[],
    depth: number,
    hint: string,
  ): unknown {
    const isNull = (s: unknown) => isSchema(s) && s.type === 'null';
    const nonNull = alternatives.filter((s) => !isNull(s));
    if (nonNull.length < alternatives.length && (nonNull.length === 0 || depth >= SHALLOW_DEPTH)) {
      return null;
    }
    const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema;
    const chosen = pick(nonNull, this.source.random);
    const merged = isSchema(chosen) ? mergeSchemas(rest, chosen) : rest;
    return this.value(merged, depth + 1, hint);
  }

  /** The type to generate: the first non-null one declared, or one inferred from keywords. */
  private typeOf(schema: Schema, depth: number): string {
    const declared = schema.type;
    if (typeof declared === 'string') {
      if (declared !== 'null' && schema.nullable === true && depth >= SHALLOW_DEPTH) return 'null';
      return declared;
    }
    if (Array.isArray(declared)) {
      const types = declared.filter((t): t is string => typeof t === 'string');
      const nonNull = types.filter((t) => t !== 'null');
      if (nonNull.length === 0) return 'null';
      if (nonNull.length < types.length && depth >= SHALLOW_DEPTH) return 'null';
      return nonNull[0] ?? 'string';
    }
    if ('properties' in schema || 'additionalProperties' in schema || 'required' in schema) {
      return 'object';
    }
    if ('items' in schema || 'prefixItems' in schema || 'minItems' in schema) return 'array';
    if (
      'minimum' in schema ||
      'maximum' in schema ||
      'exclusiveMinimum' in schema ||
      'exclusiveMaximum' in schema ||
      'multipleOf' in schema
    ) {
      return 'number';
    }
    return 'string';
  }

  private object(schema: Schema, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const properties = isSchema(schema.properties) ? schema.properties : {};
    const required = new Set(
      Array.isArray(schema.required)
        ? schema.required.filter((k): k is string => typeof k === 'string')
        : [],
    );
    const shallow = depth >= SHALLOW_DEPTH;
    const minProperties = numberAt(schema, 'minProperties') ?? 0;
    this.demand('minProperties', minProperties, MAX_ARRAY_ITEMS, 'entries in an object');
    this.grow(2);
    let count = 0;
    const add = (key: string, valueSchema: unknown) => {
      this.grow(key.length + 4); // "key": and a comma
      this.path.push(key);
      // Defined, not assigned: a property named `__proto__` is an ordinary key of the answer.
      Object.defineProperty(out, key, {
        value: this.value(valueSchema, depth + 1, key),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.path.pop();
      count++;
    };
    for (const [key, propertySchema] of Object.entries(properties)) {
      if (shallow && !required.has(key)) continue;
      add(key, propertySchema);
    }
    // Required names without a schema of their own.
    for (const key of required) {
      if (!Object.hasOwn(out, key)) add(key, schema.additionalProperties ?? {});
    }
    const extra = schema.additionalProperties;
    const open = extra === undefined || extra === true || isSchema(extra);
    const hasDeclared = Object.keys(properties).length > 0 || required.size > 0;
    const maxProperties = numberAt(schema, 'maxProperties') ?? Number.POSITIVE_INFINITY;
    if (open && (!hasDeclared || count < minProperties)) {
      // A record (`z.record`) or a free-form object: a few entries keyed by prompt words.
      const wanted = Math.min(
        maxProperties,
        Math.max(minProperties, hasDeclared || shallow ? 0 : intBetween(1, 3, this.source.random)),
      );
      const names = this.propertyNames(schema);
      const valueSchema = isSchema(extra) ? extra : {};
      for (let attempt = 0; count < wanted && attempt < 8 * wanted; attempt++) {
        let key = names !== undefined ? pick(names, this.source.random) : word(this.source);
        if (key === undefined) break;
        if (Object.hasOwn(out, key)) {
          if (names !== undefined) continue;
          key = `${key}_${attempt}`;
        }
        add(key, valueSchema);
      }
    }
    return out;
  }

  /** Allowed keys of a record whose `propertyNames` is an enum. */
  private propertyNames(schema: Schema): string[] | undefined {
    const names = schema.propertyNames;
    if (!isSchema(names) || !Array.isArray(names.enum)) return undefined;
    return names.enum.filter((n): n is string => typeof n === 'string');
  }

  private array(schema: Schema, depth: number, hint: string): unknown[] {
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
    const items = schema.items;
    const closed = items === false;
    const min = Math.max(0, Math.ceil(numberAt(schema, 'minItems') ?? 0));
    this.demand('minItems', min, MAX_ARRAY_ITEMS, 'items in an array');
    let max = Math.floor(numberAt(schema, 'maxItems') ?? Number.POSITIVE_INFINITY);
    if (closed) max = Math.min(max, prefix.length);
    const preferred = depth >= SHALLOW_DEPTH ? 0 : intBetween(1, 3, this.source.random);
    const count = Math.min(
      MAX_ARRAY_ITEMS,
      Math.max(min, Math.min(max, Math.max(preferred, closed ? prefix.length : 0))),
    );
    const unique = schema.uniqueItems === true;
    const seen = new Set<string>();
    const out: unknown[] = [];
    const itemHint = hint.endsWith('s') ? hint.slice(0, -1) : hint;
    this.grow(2);
    for (let i = 0; i < count; i++) {
      const itemSchema = i < prefix.length ? prefix[i] : isSchema(items) ? items : {};
      this.path.push(i);
      // A duplicate that is drawn again does not count towards the size of the answer.
      const size = this.size;
      let item = this.value(itemSchema, depth + 1, itemHint);
      let key = unique ? JSON.stringify(item) : '';
      for (let retry = 0; unique && seen.has(key) && retry < 8; retry++) {
        this.size = size;
        item = this.value(itemSchema, depth + 1, itemHint);
        key = JSON.stringify(item);
      }
      this.path.pop();
      if (unique && seen.has(key)) {
        // Out of distinct values: stop here unless that would break `minItems`.
        if (out.length >= min) {
          this.size = size;
          break;
        }
        if (typeof item === 'string') {
          const suffix = ` ${out.length + 1}`;
          this.grow(suffix.length);
          item = `${item}${suffix}`;
          key = JSON.stringify(item);
        }
      }
      if (unique) seen.add(key);
      this.grow(1); // the comma
      out.push(item);
    }
    return out;
  }

  private integer(schema: Schema): number {
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
    let value = intBetween(lo, hi, this.source.random);
    const step = numberAt(schema, 'multipleOf');
    if (step !== undefined && step > 0) value = nearestMultiple(value, step, lo, hi);
    return value;
  }

  private number(schema: Schema): number {
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
    let value = lo + (hi - lo) * (0.05 + 0.9 * this.source.random());
    const step = numberAt(schema, 'multipleOf');
    if (step !== undefined && step > 0) {
      const multiple = nearestMultiple(value, step, lower, upper);
      return fits(multiple) ? multiple : value;
    }
    const rounded = Math.round(value * 100) / 100;
    if (fits(rounded)) value = rounded;
    return fits(value) ? value : (lo + hi) / 2;
  }

  private string(schema: Schema, hint: string): string {
    const format = typeof schema.format === 'string' ? schema.format : undefined;
    const formatted = format === undefined ? undefined : this.formatted(format);
    let text = formatted ?? this.text(hint);
    const pattern = typeof schema.pattern === 'string' ? schema.pattern : undefined;
    if (formatted === undefined && pattern !== undefined) text = this.matching(pattern, text);
    if (formatted !== undefined) return this.counted(text);
    const minLength = numberAt(schema, 'minLength') ?? 0;
    this.demand('minLength', minLength, MAX_STRING_LENGTH, 'characters in a string');
    const maxLength = Math.min(
      numberAt(schema, 'maxLength') ?? Number.POSITIVE_INFINITY,
      MAX_STRING_LENGTH,
    );
    // Lengths in code points, as JSON Schema counts them; each word is measured once.
    let length = codePoints(text);
    if (length < minLength) {
      const parts = text === '' ? [] : [text];
      for (; length < minLength; ) {
        const next = word(this.source);
        length += codePoints(next) + (parts.length > 0 ? 1 : 0);
        parts.push(next);
      }
      text = parts.join(' ');
    }
    if (length > maxLength) {
      text = [...text].slice(0, maxLength).join('').trimEnd();
      length = codePoints(text);
    }
    if (length < minLength) text += 'x'.repeat(minLength - length);
    return this.counted(text);
  }

  private text(hint: string): string {
    if (SENTENCE_HINT.test(hint)) {
      const first = sentence(this.source);
      return this.source.random() < 0.5 ? first : `${first} ${sentence(this.source)}`;
    }
    if (SHORT_HINT.test(hint)) return words(this.source, 1, 2).join(' ');
    return words(this.source, 1, 4).join(' ');
  }

  /** A candidate that matches `pattern`, or `fallback` when none of them does. */
  private matching(pattern: string, fallback: string): string {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, 'u');
    } catch {
      return fallback;
    }
    const w = word(this.source);
    const n = String(intBetween(0, 9999, this.source.random));
    const candidates = [fallback, w, w.replace(/[^a-z0-9]/g, ''), `${w}-${n}`, n, w.toUpperCase()];
    return candidates.find((c) => regex.test(c)) ?? fallback;
  }

  private formatted(format: string): string | undefined {
    const random = this.source.random;
    const slug = word(this.source)
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
}

/** The length of `text` in code points (what JSON Schema's `minLength` counts). */
function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** Where in an answer a value is, as OpenAI names fields: `items[2].summary`. */
function pathName(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
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

/** Shallow merge of two schemas; `properties` and `required` are combined. */
function mergeSchemas(a: Schema, b: Schema): Schema {
  const merged: Schema = { ...a, ...b };
  if (isSchema(a.properties) || isSchema(b.properties)) {
    merged.properties = {
      ...(isSchema(a.properties) ? a.properties : {}),
      ...(isSchema(b.properties) ? b.properties : {}),
    };
  }
  if (Array.isArray(a.required) || Array.isArray(b.required)) {
    merged.required = [
      ...new Set([
        ...(Array.isArray(a.required) ? a.required : []),
        ...(Array.isArray(b.required) ? b.required : []),
      ]),
    ];
  }
  return merged;
}
