import { describe, expect, it } from 'vitest';
import { InvalidAnswerError } from '../../src/errors.js';
import { countChatTokens, countTextTokens } from '../../src/limits/tokens.js';
import {
  createRepositoryAnalysisTaskType,
  REPOSITORY_ANALYSIS,
  RepositoryAnalysisSchema,
  repositoryAnalysisMessages,
  repositoryAnalysisTaskType,
} from '../../src/task-types/builtin/repository-analysis.js';
import { answerSchema, schemaPromptTokens } from '../../src/task-types/structured.js';
import {
  ANALYSIS,
  chatRequests,
  createWorld,
  directContext,
  expectRefused,
  failureOf,
  sentSchemaTokens,
  settle,
} from './helpers.js';

const FLASK = {
  repo_info: {
    name: 'flask',
    description: 'The Python micro framework for building web applications.',
    language: 'Python',
    stargazers_count: 68_000,
    topics: ['flask', 'python', 'wsgi'],
    html_url: 'https://github.com/pallets/flask',
    license: { spdx_id: 'BSD-3-Clause', name: 'BSD 3-Clause' },
  },
  readme_content: '# Flask\n\nFlask is a lightweight WSGI web application framework.',
};

/** About 50,000 tokens of README text for gpt-4o-mini. */
function hugeReadme(): string {
  const paragraph =
    'Flask routes requests to view functions, renders Jinja templates, and keeps the core ' +
    'small so that extensions can add databases, forms and authentication as needed. ';
  const text = paragraph.repeat(1_700);
  return text;
}

describe('REPOSITORY_ANALYSIS', () => {
  it('completes with the validated analysis, asking with a strict JSON schema', async () => {
    const world = createWorld(() => ({
      kind: 'ok',
      content: JSON.stringify(ANALYSIS),
      promptTokens: 300,
      completionTokens: 80,
    }));
    const id = await world.engine.submit({ taskType: REPOSITORY_ANALYSIS, data: FLASK });
    const outcome = await settle(world, id);
    expect(outcome).toEqual({ ok: true, result: ANALYSIS });
    const [request] = chatRequests(world.client);
    expect(request?.responseFormat).toMatchObject({
      type: 'json_schema',
      jsonSchema: { name: 'repository_analysis', strict: true },
    });
    const schema =
      request?.responseFormat?.type === 'json_schema' ? request.responseFormat.jsonSchema : null;
    expect(schema?.schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['summary', 'category', 'tags', 'techStack', 'useCases', 'audience', 'maturity'],
    });
    expect(schema?.schema).not.toHaveProperty('$schema');
    // the prompt carries the metadata, passthrough fields GitHub sends are accepted
    const user = request?.messages.find((m) => m.role === 'user')?.content ?? '';
    expect(user).toContain('Repository: flask');
    expect(user).toContain('Stars: 68000');
    expect(user).toContain('License: BSD-3-Clause');
    expect(user).toContain('Topics: flask, python, wsgi');
    expect(request?.maxTokens).toBe(1024);
    const record = await world.engine.getTask(id);
    // gpt-4o-mini: 300 × $0.15/1M + 80 × $0.60/1M = 45 + 48 micro-dollars
    expect(record?.costMicros).toBe(93);
    expect(record?.attempts).toBe(1);
  });

  it('estimates the prompt tokens of the messages it sends and of its response schema', async () => {
    const world = createWorld(() => ({ kind: 'ok', content: JSON.stringify(ANALYSIS) }));
    const estimate = world.engine.estimateCost({ taskType: REPOSITORY_ANALYSIS, data: FLASK });
    const id = await world.engine.submit({ taskType: REPOSITORY_ANALYSIS, data: FLASK });
    await settle(world, id);
    const [request] = chatRequests(world.client);
    expect(request).toBeDefined();
    expect(estimate.promptTokens).toBe(
      countChatTokens(request?.messages ?? [], 'gpt-4o-mini') + sentSchemaTokens(request),
    );
    expect(sentSchemaTokens(request)).toBeGreaterThan(100);
    expect(estimate.maxTokens).toBe(1024);
  });

  it('trims a 50,000-token README to 6,000 tokens: the prompt stays bounded, the estimate matches', async () => {
    const readme = hugeReadme();
    expect(countTextTokens(readme, 'gpt-4o-mini')).toBeGreaterThanOrEqual(50_000);
    const world = createWorld(() => ({ kind: 'ok', content: JSON.stringify(ANALYSIS) }));
    const data = { ...FLASK, readme_content: readme };
    const estimate = world.engine.estimateCost({ taskType: REPOSITORY_ANALYSIS, data });
    const id = await world.engine.submit({ taskType: REPOSITORY_ANALYSIS, data });
    expect((await settle(world, id)).ok).toBe(true);
    const [request] = chatRequests(world.client);
    const sent = countChatTokens(request?.messages ?? [], 'gpt-4o-mini');
    expect(estimate.promptTokens).toBe(sent + sentSchemaTokens(request));
    // 6,000 README tokens plus the instructions and the metadata
    expect(sent).toBeGreaterThan(6_000);
    expect(sent).toBeLessThan(6_400);
    const user = request?.messages.find((m) => m.role === 'user')?.content ?? '';
    expect(user).toContain('README (trimmed to its first 6000 tokens)');
  });

  it('takes the README budget as a factory option', () => {
    const small = createRepositoryAnalysisTaskType({ maxReadmeTokens: 100 });
    const env = { model: 'gpt-4o-mini', embeddingModel: 'text-embedding-3-small', maxTokens: 500 };
    const data = parsedInput({ ...FLASK, readme_content: hugeReadme() });
    const estimate = small.estimate(data, env);
    const messages = repositoryAnalysisMessages(data, 'gpt-4o-mini', 100);
    const schema = answerSchema('repository_analysis', RepositoryAnalysisSchema);
    expect(estimate).toEqual({
      model: 'gpt-4o-mini',
      promptTokens:
        countChatTokens(messages, 'gpt-4o-mini') + schemaPromptTokens(schema, 'gpt-4o-mini'),
      maxTokens: 500,
    });
    expect(estimate.promptTokens).toBeLessThan(500);
    expect(() => createRepositoryAnalysisTaskType({ maxReadmeTokens: 0 })).toThrow(
      /maxReadmeTokens/,
    );
  });

  it.each([
    [{ readme_content: 'x' }, 'data.repo_info'],
    [{ repo_info: {} }, 'data.repo_info.name'],
    [{ repo_info: { name: 'x', stargazers_count: 'many' } }, 'data.repo_info.stargazers_count'],
    [{ repo_info: { name: 'x', topics: 'web' } }, 'data.repo_info.topics'],
    [{ repo_info: { name: 'x' }, readme_content: 42 }, 'data.readme_content'],
  ])('refuses bad data %j at submit, naming %s', (data, field) =>
    expectRefused(REPOSITORY_ANALYSIS, data, field),
  );

  it('retries an answer that is not JSON, then fails keeping the raw text', async () => {
    const world = createWorld(() => ({ kind: 'ok', content: 'Sure! Flask is great.' }));
    const id = await world.engine.submit({
      taskType: REPOSITORY_ANALYSIS,
      data: FLASK,
      config: { maxRetries: 2 },
    });
    const error = failureOf(await settle(world, id), 'INVALID_ANSWER');
    expect(error.message).toContain('not valid JSON');
    expect(error.message).toContain('"Sure! Flask is great."');
    const record = await world.engine.getTask(id);
    expect(record?.attempts).toBe(3);
    expect(world.client.log).toHaveLength(3);
    // every attempt's tokens were paid for: 3 × (10 × 0.15 + 5 × 0.6) → 3 × 5 micro-dollars
    expect(record?.costMicros).toBe(15);
  });

  it('retries an answer that misses fields or has a wrong maturity, naming the fields', async () => {
    const answers = [
      JSON.stringify({ ...ANALYSIS, maturity: 'ancient' }),
      JSON.stringify({ summary: 'x' }),
      JSON.stringify(ANALYSIS),
    ];
    const world = createWorld((_r, i) => ({ kind: 'ok', content: answers[i] ?? '' }));
    const id = await world.engine.submit({ taskType: REPOSITORY_ANALYSIS, data: FLASK });
    const outcome = await settle(world, id);
    expect(outcome).toEqual({ ok: true, result: ANALYSIS });
    const retries = world.events.filter((e) => e.type === 'task.retrying');
    expect(retries.map((e) => (e.type === 'task.retrying' ? e.error.code : ''))).toEqual([
      'INVALID_ANSWER',
      'INVALID_ANSWER',
    ]);
    const first = retries[0]?.type === 'task.retrying' ? retries[0].error.message : '';
    expect(first).toContain('maturity');
    expect(first).toContain('ancient');
    const second = retries[1]?.type === 'task.retrying' ? retries[1].error.message : '';
    expect(second).toContain('category');
  });

  it('keeps the whole raw answer on the InvalidAnswerError it throws', async () => {
    const raw = '{"summary": 1}';
    const ctx = directContext(parsedInput(FLASK), {
      chat: async () => ({ content: raw, finishReason: 'stop', model: 'gpt-4o-mini' }),
    });
    const error = await repositoryAnalysisTaskType.run(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidAnswerError);
    expect((error as InvalidAnswerError).raw).toBe(raw);
    expect((error as InvalidAnswerError).retryable).toBe(true);
  });

  it('has an output schema that accepts the analysis and refuses an unknown maturity', () => {
    expect(RepositoryAnalysisSchema.safeParse(ANALYSIS).success).toBe(true);
    expect(RepositoryAnalysisSchema.safeParse({ ...ANALYSIS, maturity: 'old' }).success).toBe(
      false,
    );
  });
});

/** The task type's parsed input, as the engine hands it to `run` and `estimate`. */
function parsedInput(data: unknown) {
  return repositoryAnalysisTaskType.input.parse(data);
}
