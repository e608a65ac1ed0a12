import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateAnswer, generateText } from '../../../src/providers/simulator/answer.js';
import { generateFromSchema } from '../../../src/providers/simulator/schema-answer.js';
import { vocabulary } from '../../../src/providers/simulator/words.js';
import { seededRandom } from '../../../src/time/clock.js';

const WORDS = vocabulary(['Kubernetes operators reconcile the desired state of clusters']);
const source = (seed = 1, words: readonly string[] = WORDS) => ({
  words,
  random: seededRandom(seed),
});

/** Random zod schemas: the shapes task types use, nested a few levels deep. */
const zodSchema = fc.letrec<{ node: z.ZodType; leaf: z.ZodType }>((tie) => ({
  leaf: fc.oneof(
    fc.constant(z.string()),
    fc.tuple(fc.nat(6), fc.nat(30)).map(([min, extra]) =>
      z
        .string()
        .min(min)
        .max(min + extra),
    ),
    fc.tuple(fc.integer({ min: -1_000, max: 1_000 }), fc.nat(1_000)).map(([min, width]) =>
      z
        .number()
        .min(min)
        .max(min + width),
    ),
    fc.tuple(fc.integer({ min: -1_000, max: 1_000 }), fc.nat(50)).map(([min, width]) =>
      z
        .int()
        .min(min)
        .max(min + width),
    ),
    fc.constantFrom(
      z.number(),
      z.int(),
      z.number().positive(),
      z.int().negative(),
      z.number().gt(0).lt(1),
      z.number().multipleOf(0.5).min(1).max(9),
      z.boolean(),
      z.null(),
      z.email(),
      z.uuid(),
      z.url(),
      z.iso.datetime(),
      z.iso.date(),
    ),
    fc
      .uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 })
      .map((values) => z.enum(values as [string, ...string[]])),
    fc.oneof(fc.string(), fc.integer(), fc.boolean()).map((value) => z.literal(value)),
  ),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc
      .dictionary(
        fc.string({ minLength: 1, maxLength: 10 }),
        fc.tuple(tie('node'), fc.constantFrom('plain', 'optional', 'nullable')),
        { minKeys: 1, maxKeys: 4 },
      )
      .map((fields) =>
        z.object(
          Object.fromEntries(
            Object.entries(fields).map(([key, [schema, how]]) => [
              key,
              how === 'optional'
                ? schema.optional()
                : how === 'nullable'
                  ? schema.nullable()
                  : schema,
            ]),
          ),
        ),
      ),
    fc.tuple(tie('node'), fc.nat(3), fc.nat(3)).map(([items, min, extra]) =>
      z
        .array(items)
        .min(min)
        .max(min + extra),
    ),
    fc.tuple(tie('node'), tie('node')).map(([a, b]) => z.union([a, b])),
    fc.tuple(tie('node'), tie('node')).map(([a, b]) => z.tuple([a, b])),
    tie('node').map((values) => z.record(z.string(), values)),
  ),
}));

describe('generateFromSchema', () => {
  it('produces a value valid against any generated zod schema, as z.toJSONSchema describes it', () => {
    fc.assert(
      fc.property(
        zodSchema.node,
        fc.array(fc.string(), { maxLength: 4 }),
        fc.integer(),
        fc.constantFrom('inline', 'ref'),
        (schema, texts, seed, reused) => {
          const jsonSchema = z.toJSONSchema(schema, { reused: reused as 'inline' | 'ref' });
          const value = generateFromSchema(jsonSchema, source(seed, vocabulary(texts)));
          const parsed = schema.safeParse(JSON.parse(JSON.stringify(value)));
          expect(parsed.error?.issues ?? []).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('respects minItems / maxItems and picks enum values deterministically', () => {
    const schema = z.object({
      tags: z
        .array(z.enum(['a', 'b', 'c']))
        .min(2)
        .max(2),
      many: z.array(z.string()).min(5),
      none: z.array(z.string()).max(0),
    });
    const json = z.toJSONSchema(schema);
    const value = schema.parse(generateFromSchema(json, source(5)));
    expect(value.tags).toHaveLength(2);
    expect(value.many.length).toBeGreaterThanOrEqual(5);
    expect(value.none).toEqual([]);
    expect(generateFromSchema(json, source(5))).toEqual(value);
    const enums = new Set(
      Array.from({ length: 30 }, (_, i) =>
        generateFromSchema({ enum: ['x', 'y', 'z'] }, source(i)),
      ),
    );
    expect([...enums].sort()).toEqual(['x', 'y', 'z']);
  });

  it('handles OpenAPI nullable, allOf, $ref to $defs, const and schemas without a type', () => {
    const schema = {
      $defs: { point: { type: 'object', properties: { x: { type: 'integer' } }, required: ['x'] } },
      type: 'object',
      properties: {
        maybe: { type: 'string', nullable: true },
        both: {
          allOf: [
            { type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] },
            { properties: { b: { type: 'number', minimum: 5, maximum: 6 } }, required: ['b'] },
          ],
        },
        at: { $ref: '#/$defs/point' },
        fixed: { const: 42 },
        anything: {},
        onlyNull: { anyOf: [{ type: 'null' }] },
      },
      required: ['maybe', 'both', 'at', 'fixed', 'anything', 'onlyNull'],
      additionalProperties: false,
    };
    const value = generateFromSchema(schema, source(3)) as Record<string, unknown>;
    expect(typeof value.maybe).toBe('string');
    const both = value.both as { a: unknown; b: number };
    expect(typeof both.a).toBe('boolean');
    expect(both.b).toBeGreaterThanOrEqual(5);
    expect(both.b).toBeLessThanOrEqual(6);
    expect(Number.isInteger((value.at as { x: number }).x)).toBe(true);
    expect(value.fixed).toBe(42);
    expect(typeof value.anything).toBe('string');
    expect(value.onlyNull).toBeNull();
  });

  it('stops on a recursive schema', () => {
    const schema = {
      $defs: {
        node: {
          type: 'object',
          properties: { child: { $ref: '#/$defs/node' }, name: { type: 'string' } },
          required: ['child', 'name'],
        },
      },
      $ref: '#/$defs/node',
    };
    const value = generateFromSchema(schema, source());
    expect(JSON.stringify(value).length).toBeLessThan(100_000);
  });
});

describe('generateAnswer', () => {
  it('makes plain text of the prompt’s words', () => {
    const text = generateText(source(9));
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    expect(words.some((w) => WORDS.includes(w))).toBe(true);
    expect(generateText(source(9))).toBe(text);
    expect(generateText(source(10))).not.toBe(text);
  });

  it('answers json_object with an object', () => {
    const content = generateAnswer({ type: 'json_object' }, source());
    expect(JSON.parse(content)).toMatchObject({ answer: expect.any(String) });
  });
});
