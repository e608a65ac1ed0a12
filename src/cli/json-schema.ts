/**
 * `--schema file.json`: a JSON Schema for the answers of an own prompt. The file is checked
 * against its dialect's meta-schema and compiled with Ajv 8 while the command line is read (a bad
 * schema is bad input, exit 2); each answer is then validated by it. The schema goes to the model
 * as the request's `json_schema` (OpenAI-strict when it meets OpenAI's rules).
 *
 * - Dialect: `$schema` picks draft 2020-12, 2019-09 or draft-07; none means 2020-12 (what
 *   OpenAI's Structured Outputs and the built-in simulator read).
 * - Ajv's strict mode: an unknown keyword (a typo such as `requird`) is refused. `format` is an
 *   annotation: not checked.
 * - Only references inside the file (`#/$defs/…`) are followed.
 */

import { basename, extname, resolve } from 'node:path';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { describeValue } from '../config/index.js';
import type { AnswerSchema } from '../index.js';
import { usage } from './flags.js';
import { readJsonFile } from './input.js';

/** The dialects `--schema` reads, by the `$schema` URI that names them (without `#`). */
const DIALECTS = {
  'https://json-schema.org/draft/2020-12/schema': { name: 'draft 2020-12', Class: Ajv2020 },
  'https://json-schema.org/draft/2019-09/schema': { name: 'draft 2019-09', Class: Ajv2019 },
  'http://json-schema.org/draft-07/schema': { name: 'draft-07', Class: Ajv },
} as const;
type DialectUri = keyof typeof DIALECTS;
const DEFAULT_DIALECT: DialectUri = 'https://json-schema.org/draft/2020-12/schema';

/** Errors of an answer shown at most. */
const SHOWN_ERRORS = 5;

/** A `--schema` file, read and compiled. */
export interface JsonSchemaFile {
  /** The file as given. */
  file: string;
  /** The schema as written (`$schema` included). */
  schema: Record<string, unknown>;
  /** The dialect's name (`draft 2020-12`). */
  dialect: string;
  /** Validates one answer; its `errors` say why not. */
  validate: ValidateFunction;
}

/** The dialect `$schema` names (`http` or `https`, with or without the final `#`). */
function dialectOf(schema: Record<string, unknown>, flag: string): DialectUri {
  const uri = schema.$schema;
  if (uri === undefined) return DEFAULT_DIALECT;
  const normal =
    typeof uri === 'string' ? uri.replace(/#$/, '').replace(/^https?:/, '') : undefined;
  const found = Object.keys(DIALECTS).find((key) => key.replace(/^https?:/, '') === normal);
  if (found !== undefined) return found as DialectUri;
  throw usage(
    `${flag}: "$schema" ${describeValue(uri)} is not a dialect aitq reads: use draft 2020-12 (the default, ${DEFAULT_DIALECT}), 2019-09 or draft-07`,
  );
}

/** What an Ajv error says, with the values it names: `must be equal to one of … ("a", "b")`. */
function problemOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  let detail = '';
  if (Array.isArray(params.allowedValues)) {
    detail = ` (${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')})`;
  } else if (typeof params.additionalProperty === 'string') {
    detail = ` (${JSON.stringify(params.additionalProperty)})`;
  }
  return `${error.message ?? 'is invalid'}${detail}`;
}

/** One Ajv error as a short phrase: `/label: must be equal to one of the allowed values (…)`. */
function ajvErrorText(error: ErrorObject): string {
  return `${error.instancePath === '' ? '(root)' : error.instancePath}: ${problemOf(error)}`;
}

/**
 * Reads, checks and compiles the schema file `file` (relative to `cwd`).
 * @throws CliUsageError naming `--schema` and the file: unreadable, not JSON, not an object, an
 * unknown dialect, not valid against its meta-schema, an unknown keyword, a reference not found
 */
export function loadJsonSchema(file: string, cwd: string): JsonSchemaFile {
  const flag = `--schema ${file}`;
  const schema = readJsonFile(resolve(cwd, file), flag);
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw usage(`${flag}: expected a JSON Schema object (received ${describeValue(schema)})`);
  }
  const record = schema as Record<string, unknown>;
  const uri = dialectOf(record, flag);
  const dialect = DIALECTS[uri];
  // Ajv knows each meta-schema by one URI: `http:` for `https:`, or a missing `#`, is the same.
  const checked = record.$schema === undefined ? record : { ...record, $schema: uri };
  const ajv = new dialect.Class({
    allErrors: true,
    strict: true,
    // Type and tuple checks of strict mode would only be logged: nothing is logged.
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    validateFormats: false,
    logger: false,
  });
  if (!ajv.validateSchema(checked)) {
    const first = ajv.errors?.[0];
    throw usage(
      `${flag}: not a valid JSON Schema (${dialect.name}): ${first === undefined ? 'invalid' : ajvErrorText(first)}`,
    );
  }
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(checked as AnySchemaObject);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw usage(`${flag}: not a usable JSON Schema (${dialect.name}): ${message}`);
  }
  return { file, schema: record, dialect: dialect.name, validate };
}

/** The zod schema that checks a value with the compiled JSON Schema (issues at Ajv's paths). */
function outputOf(validate: ValidateFunction): z.ZodType<unknown> {
  return z.unknown().superRefine((value, ctx) => {
    if (validate(value)) return;
    for (const error of (validate.errors ?? []).slice(0, SHOWN_ERRORS)) {
      const path = error.instancePath
        .split('/')
        .slice(1)
        .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
      ctx.addIssue({ code: 'custom', message: problemOf(error), path });
    }
  });
}

/** Keywords OpenAI's strict Structured Outputs accept. */
const STRICT_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'enum',
  'const',
  'description',
  'title',
  '$defs',
  'definitions',
  '$ref',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
]);

/**
 * Whether `schema` meets OpenAI's rules for `strict: true`: the root is an object, every object
 * lists all of its properties in `required` and sets `additionalProperties: false`, and only
 * supported keywords are used. A schema that does not is sent with `strict: false`.
 */
export function isStrictSchema(schema: Record<string, unknown>, root = true): boolean {
  if (root && schema.type !== 'object') return false;
  for (const [key, value] of Object.entries(schema)) {
    if (root && key === '$schema') continue;
    if (!STRICT_KEYWORDS.has(key)) return false;
    if (key === 'properties' || key === '$defs' || key === 'definitions') {
      if (value === null || typeof value !== 'object') return false;
      for (const child of Object.values(value)) if (!isStrictChild(child)) return false;
    }
    if (key === 'items' && !isStrictChild(value)) return false;
    if (key === 'anyOf' && !(Array.isArray(value) && value.every((v) => isStrictChild(v)))) {
      return false;
    }
  }
  const isObject =
    schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
  if (!isObject && schema.properties === undefined) return true;
  const names = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
  const required = Array.isArray(schema.required) ? schema.required : [];
  return schema.additionalProperties === false && names.every((name) => required.includes(name));
}

function isStrictChild(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return isStrictSchema(value as Record<string, unknown>, false);
}

/**
 * The answer schema a structured call carries for a `--schema` file: named by its `title`, else
 * the file's name (letters, digits, `_` and `-`, at most 64), without `$schema`.
 */
export function answerSchemaOf(loaded: JsonSchemaFile): AnswerSchema<unknown> {
  const { $schema: _, ...jsonSchema } = loaded.schema;
  const title = typeof loaded.schema.title === 'string' ? loaded.schema.title : '';
  const base = title !== '' ? title : basename(loaded.file, extname(loaded.file));
  const name = base.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'answer';
  return {
    name,
    output: outputOf(loaded.validate),
    jsonSchema,
    strict: isStrictSchema(loaded.schema),
  };
}
