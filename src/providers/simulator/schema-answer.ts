/**
 * Answers to `response_format: {type: 'json_schema'}`: a value valid against the request's JSON
 * schema (so that it validates for any task type), walked node by node within the bounds of
 * `answer-limits.ts`.
 */

import {
  AnswerLimitError,
  MAX_ANSWER_BYTES,
  MAX_ARRAY_ITEMS,
  MAX_GENERATION_STEPS,
  MAX_STRING_LENGTH,
  tooLarge,
} from './answer-limits.js';
import { type AnswerSource, hintedText, intBetween, pick, word } from './prose.js';
import { isSchema, mergeSchemas, numberAt, type Schema } from './schema-keywords.js';
import {
  formattedString,
  generateInteger,
  generateNumber,
  matchingString,
} from './schema-scalars.js';

/** Below this depth, optional parts are left out and nullable parts are `null`. */
const SHALLOW_DEPTH = 6;
/** Past this depth (a recursive schema), generation stops with `null`. */
const MAX_DEPTH = 24;

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
        return this.counted(generateInteger(schema, this.source.random));
      case 'number':
        return this.counted(generateNumber(schema, this.source.random));
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

  private string(schema: Schema, hint: string): string {
    const format = typeof schema.format === 'string' ? schema.format : undefined;
    const formatted = format === undefined ? undefined : formattedString(format, this.source);
    let text = formatted ?? hintedText(this.source, hint);
    const pattern = typeof schema.pattern === 'string' ? schema.pattern : undefined;
    if (formatted === undefined && pattern !== undefined)
      text = matchingString(pattern, text, this.source);
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
