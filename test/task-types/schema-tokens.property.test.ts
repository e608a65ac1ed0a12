/**
 * Issue 15: the worst case held for a structured call covers what the server bills. Random answer
 * schemas (zod schemas made strict by the SDK, or raw JSON schemas with nesting, enums, arrays,
 * `anyOf`, `$defs` and descriptions of any length) and random messages are sent through the
 * `OpenAICompatibleClient` to the simulator, which bills a `json_schema` response format with its
 * own rule (`billedSchemaText`, as OpenAI was measured to bill it), independent of the estimate's.
 */

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OpenAICompatibleClient } from '../../src/providers/openai.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import type { ChatMessage } from '../../src/providers/types.js';
import {
  type AnswerSchema,
  answerSchema,
  estimateStructured,
  messagesFor,
  type RequestForm,
  requestFormFor,
  resolveStructuredOutputs,
  responseFormatFor,
  StructuredOutputMemory,
} from '../../src/task-types/structured.js';

/** `gpt-4o-mini` counts with `o200k_base`, `gpt-4` with `cl100k_base`. */
const MODELS = ['gpt-4o-mini', 'gpt-4'] as const;

let sim: Simulator;
let client: OpenAICompatibleClient;

beforeAll(async () => {
  sim = await startSimulator({ seed: 15, models: [...MODELS], logLimit: 10 });
  client = new OpenAICompatibleClient({ baseURL: sim.url });
});

afterAll(async () => {
  await sim.close();
});

/** Any text: ASCII, accents, CJK, emoji, JSON's own punctuation. */
const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.constantFrom('', '"quoted", {braces}: [x]', 'required', 'additionalProperties'),
  );

/** Property names, including the keywords the simulator leaves out of its count. */
const propertyName = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constantFrom('required', 'additionalProperties', 'properties', 'type', '$schema'),
);

const described = <T extends z.ZodType>(schema: T, description: string | null): z.ZodType =>
  description === null ? schema : schema.describe(description);

/** A zod schema: scalars, enums, arrays, nested objects, optional and nullable fields. */
const zodSchema: fc.Arbitrary<z.ZodType> = fc.letrec<{ node: z.ZodType; object: z.ZodType }>(
  (tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc
        .tuple(fc.constantFrom('string', 'number', 'integer', 'boolean'), fc.option(text(120)))
        .map(([kind, description]) => {
          const base =
            kind === 'string'
              ? z.string()
              : kind === 'number'
                ? z.number()
                : kind === 'integer'
                  ? z.number().int()
                  : z.boolean();
          return described(base, description);
        }),
      fc
        .tuple(fc.uniqueArray(text(24), { minLength: 1, maxLength: 8 }), fc.option(text(80)))
        .map(([values, description]) =>
          described(z.enum(values as [string, ...string[]]), description),
        ),
      fc.tuple(tie('node'), fc.option(text(60))).map(([item, d]) => described(z.array(item), d)),
      tie('object'),
      tie('node').map((node) => node.optional()),
      tie('node').map((node) => node.nullable()),
    ),
    object: fc
      .tuple(
        fc.uniqueArray(fc.tuple(propertyName, tie('node')), {
          selector: ([name]) => name,
          minLength: 1,
          maxLength: 5,
        }),
        fc.option(text(200)),
      )
      .map(([fields, description]) => described(z.object(Object.fromEntries(fields)), description)),
  }),
).object;

/** A raw JSON schema, as a task type written by hand may send it. */
const jsonSchema: fc.Arbitrary<Record<string, unknown>> = fc
  .letrec<{
    node: Record<string, unknown>;
    object: Record<string, unknown>;
  }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record(
        {
          type: fc.constantFrom('string', 'number', 'integer', 'boolean', 'null'),
          description: text(150),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record({ type: fc.constant('string'), enum: fc.uniqueArray(text(20), { minLength: 1 }) }),
      fc.record(
        { type: fc.constant('array'), items: tie('node'), minItems: fc.nat(5) },
        { requiredKeys: ['type', 'items'] },
      ),
      fc.record({ anyOf: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
      tie('object'),
    ),
    object: fc
      .tuple(
        fc.uniqueArray(fc.tuple(propertyName, tie('node')), {
          selector: ([name]) => name,
          maxLength: 5,
        }),
        fc.boolean(),
        fc.option(text(200)),
      )
      .map(([fields, strict, description]) => ({
        type: 'object',
        ...(description === null ? {} : { description }),
        properties: Object.fromEntries(fields),
        ...(strict ? { required: fields.map(([name]) => name), additionalProperties: false } : {}),
      })),
  }))
  .object.chain((root) =>
    fc
      .option(definitions(), { nil: undefined })
      .map((defs) => (defs === undefined ? root : { ...root, $defs: defs })),
  );

function definitions(): fc.Arbitrary<Record<string, unknown>> {
  return fc.dictionary(
    propertyName,
    fc.record({ type: fc.constant('string'), description: text(60) }),
    { maxKeys: 3 },
  );
}

const answer: fc.Arbitrary<AnswerSchema<unknown>> = fc.oneof(
  fc.tuple(text(40), zodSchema).map(([name, schema]) => answerSchema(name, schema)),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), jsonSchema, fc.boolean())
    .map(([name, schema, strict]) => ({ name, output: z.unknown(), jsonSchema: schema, strict })),
);

const message: fc.Arbitrary<ChatMessage> = fc
  .tuple(
    fc.constantFrom('system', 'developer', 'user', 'assistant'),
    text(400),
    fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/), { nil: undefined }),
  )
  .map(([role, content, name]) =>
    name === undefined
      ? ({ role, content } as ChatMessage)
      : ({ role, content, name } as ChatMessage),
  );

interface Case {
  schema: AnswerSchema<unknown>;
  messages: ChatMessage[];
  model: (typeof MODELS)[number];
  mode: RequestForm;
}

const cases: fc.Arbitrary<Case> = fc.record({
  schema: answer,
  messages: fc.array(message, { minLength: 1, maxLength: 4 }),
  model: fc.constantFrom(...MODELS),
  mode: fc.constantFrom<RequestForm>('json_schema', 'json_object'),
});

/** The request a structured call sends (as `chatStructured` builds it), and its billed prompt. */
async function billedPrompt({ schema, messages, model }: Case, form: RequestForm) {
  const response = await client.chat(
    {
      model,
      messages: messagesFor(messages, schema, form),
      maxTokens: 1,
      responseFormat: responseFormatFor(schema, form),
    },
    { signal: new AbortController().signal },
  );
  const billed = response.usage?.promptTokens;
  if (billed === undefined) throw new Error('the simulator sent no usage');
  return billed;
}

/** estimate ≥ billed (and, in JSON mode, where the schema is in the messages, equal). */
function estimateCoversTheBill(countSchemaTokens: boolean) {
  return fc.asyncProperty(cases, async (c) => {
    const settings = resolveStructuredOutputs({
      structuredOutputs: c.mode,
      memory: new StructuredOutputMemory(),
      countSchemaTokens,
    });
    const env = { model: c.model, embeddingModel: 'text-embedding-3-small', maxTokens: 1 };
    const estimate = estimateStructured(c.messages, c.schema, env, settings);
    const form = requestFormFor(c.model, settings);
    const billed = await billedPrompt(c, form);
    expect(estimate.promptTokens).toBeGreaterThanOrEqual(billed);
    if (form === 'json_object') expect(estimate.promptTokens).toBe(billed);
  });
}

describe('the estimate of a structured call against what the simulator bills (property)', () => {
  it('is never below the billed prompt, for any schema, messages, model and form', async () => {
    await fc.assert(estimateCoversTheBill(true), { numRuns: 200 });
  });

  it('can fail: an estimate that leaves the schema out is found below the bill', async () => {
    const details = await fc.check(estimateCoversTheBill(false), { numRuns: 200 });
    expect(details.failed).toBe(true);
  });
});
