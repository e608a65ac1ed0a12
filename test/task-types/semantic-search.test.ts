import { describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../src/errors.js';
import { embedText } from '../../src/providers/simulator/index.js';
import {
  SEMANTIC_SEARCH,
  semanticSearchTaskType,
} from '../../src/task-types/builtin/semantic-search.js';
import { createWorld, directContext, embedRequests, expectRefused, settle } from './helpers.js';

const DOCUMENTS = [
  { id: '1', text: 'Django: the Python web framework for perfectionists with deadlines' },
  { id: '2', text: 'PostgreSQL: a relational database system' },
  { id: '3', text: 'Flask: a lightweight Python web framework' },
  { id: '4', text: 'Kubernetes: container orchestration for clusters' },
];

type Hits = { results: { id: string; text: string; score: number }[] };

describe('SEMANTIC_SEARCH', () => {
  it('embeds the query and the documents in one call and ranks by cosine similarity', async () => {
    const world = createWorld(() => ({ kind: 'ok' }));
    const id = await world.engine.submit({
      taskType: SEMANTIC_SEARCH,
      data: { query: 'Python web framework', documents: DOCUMENTS, top_k: 2 },
    });
    const outcome = await settle(world, id);
    expect(outcome.ok).toBe(true);
    const { results } = (outcome.ok ? outcome.result : { results: [] }) as Hits;
    expect(results.map((r) => r.id).sort()).toEqual(['1', '3']);
    expect(results[0]?.score).toBeGreaterThanOrEqual(results[1]?.score ?? 1);
    expect(embedRequests(world.client)).toEqual([
      {
        model: 'text-embedding-3-small',
        input: ['Python web framework', ...DOCUMENTS.map((d) => d.text)],
      },
    ]);
  });

  it('uses the embeddings documents carry, embeds only the others, and defaults top_k to 5', async () => {
    const world = createWorld(() => ({ kind: 'ok' }));
    const documents = DOCUMENTS.map((d, i) =>
      i < 2 ? { ...d, embedding: embedText(d.text, 64) } : d,
    );
    const many = [...documents, ...['5', '6', '7'].map((n) => ({ id: n, text: `note ${n}` }))];
    const data = { query: 'relational database', documents: many };
    const estimate = world.engine.estimateCost({ taskType: SEMANTIC_SEARCH, data });
    const id = await world.engine.submit({ taskType: SEMANTIC_SEARCH, data });
    const outcome = await settle(world, id);
    const { results } = (outcome.ok ? outcome.result : { results: [] }) as Hits;
    expect(results).toHaveLength(5);
    expect(results[0]?.id).toBe('2');
    const [request] = embedRequests(world.client);
    expect(request?.input).toEqual([
      'relational database',
      DOCUMENTS[2]?.text,
      DOCUMENTS[3]?.text,
      'note 5',
      'note 6',
      'note 7',
    ]);
    expect(estimate.model).toBe('text-embedding-3-small');
    expect(estimate.maxTokens).toBe(0);
    expect(estimate.promptTokens).toBeGreaterThan(0);
  });

  it('keeps the documents order between equal scores', async () => {
    const world = createWorld(() => ({ kind: 'ok' }));
    const vector = embedText('same', 64);
    const documents = ['a', 'b', 'c'].map((id) => ({ id, text: 'same', embedding: vector }));
    const id = await world.engine.submit({
      taskType: SEMANTIC_SEARCH,
      data: { query: 'same', documents },
    });
    const outcome = await settle(world, id);
    const { results } = (outcome.ok ? outcome.result : { results: [] }) as Hits;
    expect(results.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(results[0]?.score).toBeCloseTo(1, 10);
  });

  it('fails without retrying when carried embeddings do not match the query dimensions', async () => {
    const ctx = directContext(
      semanticSearchTaskType.input.parse({
        query: 'q',
        documents: [{ id: 'x', text: 'x', embedding: [1, 0, 0] }],
      }),
      { embed: async () => ({ vectors: [[1, 0]], model: 'text-embedding-3-small' }) },
    );
    const error = await semanticSearchTaskType.run(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toContain('documents[0].embedding has 3 dimensions');
  });

  it.each([
    [{ documents: [] }, 'data.query'],
    [{ query: 'q', documents: [{ text: 'x' }] }, 'data.documents.0.id'],
    [
      {
        query: 'q',
        documents: [
          { id: 'a', text: 'x' },
          { id: 'a', text: 'y' },
        ],
      },
      'data.documents.1.id',
    ],
    [{ query: 'q', documents: [{ id: 'a', text: '' }] }, 'data.documents.0.text'],
    [
      {
        query: 'q',
        documents: [
          { id: 'a', text: 'x', embedding: [1, 0] },
          { id: 'b', text: 'y', embedding: [1, 0, 0] },
        ],
      },
      'data.documents.1.embedding',
    ],
    [{ query: 'q', documents: [], top_k: 0 }, 'data.top_k'],
  ])('refuses bad data %j at submit, naming %s', (data, field) =>
    expectRefused(SEMANTIC_SEARCH, data, field),
  );
});
