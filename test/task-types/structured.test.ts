import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidAnswerError, ProviderError, ValidationError } from '../../src/errors.js';
import { countChatTokens, countTextTokens } from '../../src/limits/tokens.js';
import { toResponseFormat } from '../../src/providers/openai-body.js';
import { billedSchemaText, SCHEMA_FRAME_TOKENS } from '../../src/providers/simulator/counting.js';
import {
  classificationSchemaFor,
  createRepositoryAnalysisTaskType,
  createTextClassificationTaskType,
  RepositoryAnalysisSchema,
  TEXT_CLASSIFICATION,
} from '../../src/task-types/builtin/index.js';
import {
  answerSchema,
  estimateStructured,
  isSchemaRejection,
  messagesFor,
  parseAnswer,
  resolveStructuredOutputs,
  responseFormatFor,
  SCHEMA_OVERHEAD_TOKENS,
  StructuredOutputMemory,
  schemaPromptTokens,
} from '../../src/task-types/structured.js';
import {
  apiError,
  completion,
  createFetchWorld,
  type FetchedRequest,
  json,
  settleTask,
} from '../providers/openai-engine-helpers.js';

const CLASSIFIED = JSON.stringify({
  category: 'web',
  confidence: 0.8,
  scores: { web: 0.8, data: 0.2 },
});
const DATA = { text: 'A Python web framework', categories: ['web', 'data'] };

const rejectSchema = () =>
  apiError(
    400,
    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
  );

/** A server without Structured Outputs: 400 for `json_schema`, answers JSON mode. */
function noJsonSchemaServer(request: FetchedRequest) {
  const format = request.body.response_format as { type: string } | undefined;
  return format?.type === 'json_schema' ? rejectSchema() : json(200, completion(CLASSIFIED));
}

const formatOf = (r: FetchedRequest) => (r.body.response_format as { type: string }).type;
const messagesOf = (r: FetchedRequest) =>
  r.body.messages as { role: string; content: string; name?: string }[];

describe('answerSchema', () => {
  it('makes the built-in output schemas strict: every property required, no extra ones', () => {
    const schema = answerSchema('repository_analysis', RepositoryAnalysisSchema);
    expect(schema.strict).toBe(true);
    expect(schema.jsonSchema).not.toHaveProperty('$schema');
    expect(schema.jsonSchema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { maturity: { enum: ['experimental', 'active', 'mature'] } },
    });
  });

  it('sends a schema that cannot be strict (optional field, record) with strict: false', () => {
    const optional = answerSchema('x', z.object({ a: z.string(), b: z.string().optional() }));
    expect(optional.strict).toBe(false);
    expect(optional.jsonSchema).toMatchObject({ properties: { b: { type: 'string' } } });
    const record = answerSchema('y', z.object({ r: z.record(z.string(), z.number()) }));
    expect(record.strict).toBe(false);
  });

  it('cleans the schema name to what the API allows', () => {
    expect(answerSchema('my schema/v2', z.object({ a: z.string() })).name).toBe('my_schema_v2');
  });
});

describe('the response schema in the estimate', () => {
  const schema = answerSchema(
    'person',
    z.object({ name: z.string().describe('Full name'), tags: z.array(z.enum(['a', 'b'])) }),
  );
  const messages = [
    { role: 'system' as const, content: 'You extract people.' },
    { role: 'user' as const, content: 'Ada Lovelace, mathematician.' },
  ];
  const env = { model: 'gpt-4o-mini', embeddingModel: 'text-embedding-3-small', maxTokens: 100 };
  const settings = (options: Parameters<typeof resolveStructuredOutputs>[0]) =>
    resolveStructuredOutputs({ memory: new StructuredOutputMemory(), ...options });

  it('counts the json_schema object the request carries, plus the fixed overhead', () => {
    const wire = toResponseFormat(responseFormatFor(schema, 'json_schema'));
    const sent = wire.type === 'json_schema' ? JSON.stringify(wire.json_schema) : '';
    expect(sent).toContain('"name":"person"');
    const schemaTokens = countTextTokens(sent, 'gpt-4o-mini') + SCHEMA_OVERHEAD_TOKENS;
    expect(schemaPromptTokens(schema, 'gpt-4o-mini')).toBe(schemaTokens);
    const estimate = estimateStructured(messages, schema, env, settings({}));
    expect(estimate).toEqual({
      model: 'gpt-4o-mini',
      promptTokens: countChatTokens(messages, 'gpt-4o-mini') + schemaTokens,
      maxTokens: 100,
    });
  });

  it('counts the schema once in JSON mode, where it is in the system message', () => {
    const estimate = estimateStructured(
      messages,
      schema,
      env,
      settings({ structuredOutputs: 'json_object' }),
    );
    const sent = messagesFor(messages, schema, 'json_object');
    expect(estimate.promptTokens).toBe(countChatTokens(sent, 'gpt-4o-mini'));
  });

  it('leaves the schema out for a server that does not bill it (countSchemaTokens: false)', () => {
    const estimate = estimateStructured(
      messages,
      schema,
      env,
      settings({ countSchemaTokens: false }),
    );
    expect(estimate.promptTokens).toBe(countChatTokens(messages, 'gpt-4o-mini'));
    expect(settings({}).countSchemaTokens).toBe(true);
  });

  it('refuses a countSchemaTokens that is not a boolean, naming it', () => {
    expect(() => settings({ countSchemaTokens: 'no' as never })).toThrow(ValidationError);
    expect(() => createTextClassificationTaskType({ countSchemaTokens: 1 as never })).toThrow(
      /countSchemaTokens/,
    );
  });

  it("counts with each model's encoding, once per schema and encoding", () => {
    const fresh = answerSchema('pair', z.object({ a: z.number(), b: z.string() }));
    const text = JSON.stringify({ name: fresh.name, schema: fresh.jsonSchema, strict: true });
    for (const model of ['gpt-4o-mini', 'gpt-4', 'gpt-4o', 'gpt-3.5-turbo']) {
      expect(schemaPromptTokens(fresh, model)).toBe(
        countTextTokens(text, model) + SCHEMA_OVERHEAD_TOKENS,
      );
    }
    // a changed schema object is not recounted: schemas are shared and must not be changed
    fresh.jsonSchema.description = 'x'.repeat(1_000);
    expect(schemaPromptTokens(fresh, 'gpt-4o-mini')).toBeLessThan(100);
  });

  it.each([
    ['repository_analysis', answerSchema('repository_analysis', RepositoryAnalysisSchema)],
    ['classification, 2 categories', classificationSchemaFor(['positive', 'negative'])],
    ['classification, 3 categories', classificationSchemaFor(['web', 'data', 'ml'])],
    [
      'classification, 5 categories',
      classificationSchemaFor(['bug', 'feature request', 'question', 'docs', 'security']),
    ],
    ['one boolean', answerSchema('tiny', z.object({ ok: z.boolean() }))],
    ['not strict', answerSchema('opt', z.object({ a: z.string(), b: z.string().optional() }))],
  ])('over-counts the measured rule on a fixture: %s', (_, fixture) => {
    for (const model of ['gpt-4o-mini', 'gpt-4']) {
      const measured =
        countTextTokens(billedSchemaText(fixture.jsonSchema), model) + SCHEMA_FRAME_TOKENS;
      const reserved = schemaPromptTokens(fixture, model);
      // Over, by at least the overhead's margin, and by no more than the schema's own size.
      expect(reserved - measured).toBeGreaterThanOrEqual(
        SCHEMA_OVERHEAD_TOKENS - SCHEMA_FRAME_TOKENS,
      );
      expect(reserved).toBeLessThanOrEqual(2 * measured + SCHEMA_OVERHEAD_TOKENS);
    }
  });
});

describe('parseAnswer', () => {
  const schema = answerSchema('pair', z.object({ a: z.number(), b: z.string() }));

  it('parses, and reads JSON inside a ```json fence', () => {
    expect(parseAnswer('{"a":1,"b":"x"}', schema)).toEqual({ a: 1, b: 'x' });
    expect(parseAnswer('```json\n{"a":2,"b":"y"}\n```', schema)).toEqual({ a: 2, b: 'y' });
  });

  it.each([
    ['', 'is empty'],
    ['{"a":1,', 'not valid JSON'],
    ['{"a":"1","b":"x"}', 'a: '],
    ['{"a":1}', 'b: '],
  ])('refuses %j (%s) with the raw text kept', (raw, what) => {
    const error = (() => {
      try {
        parseAnswer(raw, schema);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidAnswerError);
    expect((error as InvalidAnswerError).raw).toBe(raw);
    expect((error as InvalidAnswerError).message).toContain(what);
    expect((error as InvalidAnswerError).retryable).toBe(true);
  });

  it('says when the answer was cut off at max_tokens', () => {
    expect(() => parseAnswer('{"a":1,"b":"x', schema, 'length')).toThrow(/cut off at max_tokens/);
  });
});

describe('isSchemaRejection', () => {
  it('is a 400 or 422 that names the response format or schema', () => {
    expect(
      isSchemaRejection(new ProviderError("400 'response_format' unsupported", { status: 400 })),
    ).toBe(true);
    expect(
      isSchemaRejection(new ProviderError('422 json_schema not supported', { status: 422 })),
    ).toBe(true);
    expect(
      isSchemaRejection(new ProviderError('400 context length exceeded', { status: 400 })),
    ).toBe(false);
    expect(isSchemaRejection(new ProviderError('500 response_format', { status: 500 }))).toBe(
      false,
    );
    expect(isSchemaRejection(new Error('response_format'))).toBe(false);
  });
});

describe('a refusal', () => {
  it('fails the task at once, saying what the model said, and is charged', async () => {
    const refused = completion('');
    const choice = (refused.choices as Array<{ message: Record<string, unknown> }>)[0];
    if (choice)
      choice.message = { role: 'assistant', content: null, refusal: "I can't help with that." };
    const world = createFetchWorld(() => json(200, refused), [createTextClassificationTaskType()]);
    const id = await world.engine.submit({ taskType: TEXT_CLASSIFICATION, data: DATA });
    const outcome = await settleTask(world, id);
    expect(outcome.ok).toBe(false);
    const record = await world.engine.getTask(id);
    expect(record?.error).toMatchObject({ code: 'NON_RETRYABLE', retryable: false });
    expect(record?.error?.message).toContain(
      "the model declined to answer: I can't help with that.",
    );
    expect(record?.attempts).toBe(1);
    expect(record?.usage.promptTokens).toBe(40);
    expect(world.requests).toHaveLength(1);
  });
});

describe('JSON-mode fallback', () => {
  it('falls back to JSON mode when the server rejects the schema with a 400, and remembers it', async () => {
    const memory = new StructuredOutputMemory();
    const classify = createTextClassificationTaskType({ memory });
    const world = createFetchWorld(noJsonSchemaServer, [classify]);
    const first = await world.engine.submit({ taskType: TEXT_CLASSIFICATION, data: DATA });
    expect((await settleTask(world, first)).ok).toBe(true);
    // the rejected json_schema request, then the same call at once in JSON mode: one attempt
    expect(world.requests.map(formatOf)).toEqual(['json_schema', 'json_object']);
    expect((await world.engine.getTask(first))?.attempts).toBe(1);
    expect(memory.jsonModeModels).toEqual(['gpt-4o-mini']);
    const instructions = messagesOf(world.requests[1] as FetchedRequest)[0]?.content ?? '';
    expect(instructions).toContain('Answer with one JSON object');
    expect(instructions).toContain('"enum":["web","data"]');

    // the next task goes straight to JSON mode, and its estimate counts the instructions
    const estimate = world.engine.estimateCost({ taskType: TEXT_CLASSIFICATION, data: DATA });
    const second = await world.engine.submit({ taskType: TEXT_CLASSIFICATION, data: DATA });
    expect((await settleTask(world, second)).ok).toBe(true);
    expect(world.requests.map(formatOf)).toEqual(['json_schema', 'json_object', 'json_object']);
    const sent = messagesOf(world.requests[2] as FetchedRequest);
    expect(estimate.promptTokens).toBe(countChatTokens(sent, 'gpt-4o-mini'));
  });

  it("uses JSON mode from the first call with structuredOutputs: 'json_object'", async () => {
    const analysis = createRepositoryAnalysisTaskType({
      structuredOutputs: 'json_object',
      memory: new StructuredOutputMemory(),
    });
    const answer = JSON.stringify({
      summary: 's',
      category: 'c',
      tags: [],
      techStack: [],
      useCases: [],
      audience: 'a',
      maturity: 'active',
    });
    const world = createFetchWorld(() => json(200, completion(answer)), [analysis]);
    const id = await world.engine.submit({
      taskType: 'REPOSITORY_ANALYSIS',
      data: { repo_info: { name: 'x' } },
    });
    expect((await settleTask(world, id)).ok).toBe(true);
    expect(world.requests.map(formatOf)).toEqual(['json_object']);
  });

  it("does not fall back with structuredOutputs: 'json_schema': the 400 fails the task", async () => {
    const memory = new StructuredOutputMemory();
    const classify = createTextClassificationTaskType({ structuredOutputs: 'json_schema', memory });
    const world = createFetchWorld(noJsonSchemaServer, [classify]);
    const id = await world.engine.submit({ taskType: TEXT_CLASSIFICATION, data: DATA });
    const outcome = await settleTask(world, id);
    expect(outcome.ok).toBe(false);
    expect(world.requests).toHaveLength(1);
    expect(memory.jsonModeModels).toEqual([]);
  });

  it('does not fall back for a 400 about something else', async () => {
    const memory = new StructuredOutputMemory();
    const classify = createTextClassificationTaskType({ memory });
    const world = createFetchWorld(
      () =>
        apiError(
          400,
          "This model's maximum context length is 128000 tokens.",
          'context_length_exceeded',
        ),
      [classify],
    );
    const id = await world.engine.submit({ taskType: TEXT_CLASSIFICATION, data: DATA });
    const outcome = await settleTask(world, id);
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.error.message).toContain('maximum context length');
    expect(world.requests).toHaveLength(1);
    expect(memory.jsonModeModels).toEqual([]);
  });

  it('refuses an unknown mode, naming the option', () => {
    expect(() =>
      resolveStructuredOutputs(
        { structuredOutputs: 'xml' as never },
        'TEXT_CLASSIFICATION options',
      ),
    ).toThrow(ValidationError);
    expect(() => createTextClassificationTaskType({ structuredOutputs: 'xml' as never })).toThrow(
      /structuredOutputs/,
    );
  });

  it('puts the schema instructions in the system message in JSON mode', () => {
    const schema = answerSchema('pair', z.object({ a: z.number() }));
    const base = [
      { role: 'system' as const, content: 'You help.' },
      { role: 'user' as const, content: 'Hi' },
    ];
    expect(messagesFor(base, schema, 'json_schema')).toEqual(base);
    const json = messagesFor(base, schema, 'json_object');
    expect(json).toHaveLength(2);
    expect(json[0]?.content).toMatch(/^You help\.\n\nAnswer with one JSON object/);
    const noSystem = messagesFor([{ role: 'user', content: 'Hi' }], schema, 'json_object');
    expect(noSystem[0]?.role).toBe('system');
  });
});
