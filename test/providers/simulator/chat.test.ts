import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countChatTokens, countTextTokens } from '../../../src/limits/tokens.js';
import { type Simulator, startSimulator } from '../../../src/providers/simulator/index.js';
import { answerSchema, schemaInstructions } from '../../../src/task-types/structured.js';
import { clientFor } from './helpers.js';

const ClassificationSchema = z.object({
  label: z.enum(['bug', 'feature', 'question', 'documentation']),
  confidence: z.number().min(0).max(1),
  reasons: z.array(z.string().min(1)).min(1).max(3),
});

const RepositorySchema = z.object({
  name: z.string(),
  summary: z.string().min(10).max(400),
  languages: z
    .array(z.enum(['typescript', 'python', 'rust', 'go']))
    .min(1)
    .max(4),
  stars: z.int().nonnegative(),
  metrics: z.object({
    complexity: z.int().min(1).max(10),
    maintainability: z.number().min(0).max(100),
  }),
  risks: z
    .array(z.object({ title: z.string(), severity: z.enum(['low', 'medium', 'high']) }))
    .max(5),
  license: z.string().nullable(),
});

interface Section {
  heading: string;
  children: Section[];
}
const SectionSchema: z.ZodType<Section> = z.object({
  heading: z.string(),
  get children() {
    return z.array(SectionSchema).max(2);
  },
});
const ExtractionSchema = z.object({
  kind: z.literal('extraction'),
  contact: z.object({ email: z.email(), id: z.uuid(), seen: z.iso.datetime() }),
  amount: z.union([z.number().positive(), z.string()]),
  pair: z.tuple([z.string(), z.int()]),
  counts: z.record(z.string(), z.int().min(0)),
  note: z.string().optional(),
  outline: SectionSchema,
  ratio: z.number().multipleOf(0.25).gt(0).lt(5),
});

function jsonSchemaFormat(name: string, schema: z.ZodType) {
  return {
    type: 'json_schema' as const,
    json_schema: { name, schema: z.toJSONSchema(schema) as Record<string, unknown>, strict: true },
  };
}

describe('simulator: POST /v1/chat/completions through the openai SDK', () => {
  let sim: Simulator;
  let client: OpenAI;
  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterAll(() => sim.close());

  it('answers in OpenAI’s shape, with usage counted like the library counts it', async () => {
    const messages = [
      { role: 'system' as const, content: 'You are a careful reviewer.' },
      { role: 'user' as const, content: 'Review the retry logic of the task queue.', name: 'ana' },
    ];
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o-mini');
    expect(typeof completion.created).toBe('number');
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('stop');
    expect(choice?.message.role).toBe('assistant');
    const content = choice?.message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    expect(completion.usage?.prompt_tokens).toBe(countChatTokens(messages, 'gpt-4o-mini'));
    expect(completion.usage?.completion_tokens).toBe(countTextTokens(content, 'gpt-4o-mini'));
    expect(completion.usage?.total_tokens).toBe(
      (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0),
    );
  });

  it('prompt_tokens equals countChatTokens for every model it serves', async () => {
    for (const model of ['gpt-4o', 'gpt-4.1-mini', 'gpt-4o-mini']) {
      const messages = [{ role: 'user' as const, content: `Count me, ${model}! <|endoftext|> ✓` }];
      const completion = await client.chat.completions.create({ model, messages });
      expect(completion.usage?.prompt_tokens).toBe(countChatTokens(messages, model));
    }
  });

  it.each([
    [
      'classification',
      ClassificationSchema,
      'Classify this issue: the queue drops tasks on restart',
    ],
    [
      'repository',
      RepositorySchema,
      'Analyse the repository pallets/flask, a Python web framework',
    ],
    ['extraction', ExtractionSchema, 'Extract the invoice: 12 chairs, 3 tables, paid by Ada'],
  ] as const)(
    'answers a %s json_schema request with JSON valid against it',
    async (name, schema, prompt) => {
      for (const variant of ['', ' (second try)', ' with other words entirely']) {
        const completion = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: `${prompt}${variant}` }],
          response_format: jsonSchemaFormat(name, schema),
        });
        const content = completion.choices[0]?.message.content ?? '';
        const parsed = (schema as z.ZodType).safeParse(JSON.parse(content));
        expect(parsed.error?.issues ?? []).toEqual([]);
      }
    },
  );

  it('draws strings from the prompt, so different inputs get different answers', async () => {
    const TopicSchema = z.object({
      topic: z.string(),
      keywords: z.array(z.string()).min(2).max(2),
    });
    const ask = async (content: string) => {
      const completion = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content }],
        response_format: jsonSchemaFormat('topic', TopicSchema),
      });
      return TopicSchema.parse(JSON.parse(completion.choices[0]?.message.content ?? ''));
    };
    const prompt = 'Kubernetes operators reconcile desired cluster state';
    const answer = await ask(prompt);
    const promptWords = new Set(prompt.toLowerCase().split(/\s+/));
    for (const word of [answer.topic, ...answer.keywords].flatMap((s) => s.split(' '))) {
      expect(promptWords.has(word)).toBe(true);
    }
    const other = await ask('Rust borrow checker lifetimes explained');
    expect(other).not.toEqual(answer);
  });

  it('is deterministic: the same request twice gives the same content', async () => {
    const request = {
      model: 'gpt-4o',
      messages: [{ role: 'user' as const, content: 'Summarise the changelog of version 2.0' }],
      response_format: jsonSchemaFormat('repository', RepositorySchema),
    };
    const first = await client.chat.completions.create(request);
    const second = await client.chat.completions.create(request);
    expect(second.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    const plain = { model: 'gpt-4o', messages: request.messages };
    const a = await client.chat.completions.create(plain);
    const b = await client.chat.completions.create(plain);
    expect(b.choices[0]?.message.content).toBe(a.choices[0]?.message.content);
  });

  it('gives a different answer with a different seed', async () => {
    const other = await startSimulator({ seed: 2 });
    try {
      const request = {
        model: 'gpt-4o',
        messages: [{ role: 'user' as const, content: 'Summarise the changelog of version 2.0' }],
      };
      const mine = await client.chat.completions.create(request);
      const theirs = await clientFor(other).chat.completions.create(request);
      expect(theirs.choices[0]?.message.content).not.toBe(mine.choices[0]?.message.content);
    } finally {
      await other.close();
    }
  });

  it('answers json_object with a small JSON object and text otherwise', async () => {
    const messages = [{ role: 'user' as const, content: 'Describe the scheduler in JSON' }];
    const json = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      response_format: { type: 'json_object' },
    });
    const value: unknown = JSON.parse(json.choices[0]?.message.content ?? '');
    expect(value).toBeTypeOf('object');
    expect(Array.isArray(value)).toBe(false);
    const text = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(() => JSON.parse(text.choices[0]?.message.content ?? '')).toThrow();
  });

  it('in JSON mode, answers the JSON Schema the prompt describes, as the JSON-mode fallback sends it', async () => {
    const json = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        {
          role: 'system',
          content: schemaInstructions(answerSchema('classification', ClassificationSchema)),
        },
        { role: 'user', content: 'Classify: the parser crashes on empty input' },
      ],
      response_format: { type: 'json_object' },
    });
    const value: unknown = JSON.parse(json.choices[0]?.message.content ?? '');
    expect(ClassificationSchema.safeParse(value).success).toBe(true);
  });

  it("cuts an answer at max_tokens with finish_reason 'length'", async () => {
    for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
      const completion = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Write a long report about queue fairness' }],
        [field]: 5,
      });
      const choice = completion.choices[0];
      expect(choice?.finish_reason).toBe('length');
      expect(completion.usage?.completion_tokens).toBe(5);
      expect(countTextTokens(choice?.message.content ?? '', 'gpt-4o-mini')).toBe(5);
    }
    const roomy = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Write a long report about queue fairness' }],
      max_tokens: 4_000,
    });
    expect(roomy.choices[0]?.finish_reason).toBe('stop');
  });

  it('answers n choices', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Name a colour' }],
      n: 3,
    });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const total = completion.choices.reduce(
      (sum, c) => sum + countTextTokens(c.message.content ?? '', 'gpt-4o-mini'),
      0,
    );
    expect(completion.usage?.completion_tokens).toBe(total);
  });

  it('answers 404 model_not_found for a model it does not serve', async () => {
    const error = await client.chat.completions
      .create({ model: 'gpt-9-ultra', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const notFound = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(notFound.status).toBe(404);
    expect(notFound.code).toBe('model_not_found');
    expect(notFound.param).toBe('model');
    expect(notFound.type).toBe('invalid_request_error');
  });

  it('answers 400 to a malformed JSON body and to a body of the wrong shape', async () => {
    const post = (body: string) =>
      fetch(`${sim.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const malformed = await post('{"model": "gpt-4o-mini", "messages": [');
    expect(malformed.status).toBe(400);
    const body = (await malformed.json()) as { error: { type: string } };
    expect(body.error.type).toBe('invalid_request_error');

    const noMessages = await post(JSON.stringify({ model: 'gpt-4o-mini' }));
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as { error: { param: string } }).error.param).toBe(
      'messages',
    );

    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: -1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('max_tokens');
  });

  it('answers 404 to an unknown route and 405 to a wrong method', async () => {
    const unknown = await fetch(`${sim.url}/completions/legacy`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
    const wrongMethod = await fetch(`${sim.url}/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    await wrongMethod.body?.cancel();
  });
});

describe('simulator: GET /v1/models', () => {
  it('lists the models it accepts, by default and as configured', async () => {
    const sim = await startSimulator();
    try {
      const page = await clientFor(sim).models.list();
      expect(page.data.map((m) => m.id)).toEqual([
        'gpt-4o-mini',
        'gpt-4o',
        'gpt-4.1-mini',
        'text-embedding-3-small',
      ]);
      for (const model of page.data) {
        expect(model.object).toBe('model');
        expect(model.owned_by).toBe('ai-task-queue-simulator');
        expect(typeof model.created).toBe('number');
      }
      const one = await clientFor(sim).models.retrieve('gpt-4o');
      expect(one.id).toBe('gpt-4o');
    } finally {
      await sim.close();
    }
    const custom = await startSimulator({ models: ['llama3', 'nomic-embed-text'] });
    try {
      const client = clientFor(custom);
      expect((await client.models.list()).data.map((m) => m.id)).toEqual([
        'llama3',
        'nomic-embed-text',
      ]);
      const answer = await client.chat.completions.create({
        model: 'llama3',
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(answer.model).toBe('llama3');
      await expect(
        client.chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'x' }],
        }),
      ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    } finally {
      await custom.close();
    }
  });
});

describe('simulator: auth', () => {
  it('answers 401 invalid_api_key to a wrong or missing key, and never echoes the key', async () => {
    const sim = await startSimulator({ apiKey: 'sk-right-key' });
    try {
      const wrong = await clientFor(sim, 'sk-wrong-key')
        .models.list()
        .catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
      const auth = wrong as InstanceType<typeof OpenAI.AuthenticationError>;
      expect(auth.status).toBe(401);
      expect(auth.code).toBe('invalid_api_key');
      expect(auth.message).not.toContain('sk-wrong-key');
      expect(auth.message).not.toContain('sk-right-key');

      const missing = await fetch(`${sim.url}/models`);
      expect(missing.status).toBe(401);
      await missing.body?.cancel();

      const ok = await clientFor(sim, 'sk-right-key').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(ok.choices).toHaveLength(1);
    } finally {
      await sim.close();
    }
  });
});
