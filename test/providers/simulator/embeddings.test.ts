import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../../src/limits/tokens.js';
import {
  cosineSimilarity,
  embedText,
  type Simulator,
  startSimulator,
} from '../../../src/providers/simulator/index.js';
import { clientFor } from './helpers.js';

const DOCUMENTS: Record<string, string> = {
  flask: 'Flask: a lightweight WSGI web framework for Python',
  django: 'Django: the web framework for perfectionists with deadlines, Python',
  react: 'React: a JavaScript library for building user interfaces',
  kubernetes: 'Kubernetes: production-grade container orchestration and scheduling',
  pytorch: 'PyTorch: tensors and dynamic neural networks with strong GPU acceleration',
  rust: 'The Rust compiler: borrow checking, monomorphisation and LLVM code generation',
  postgres: 'PostgreSQL: an advanced open source relational database',
  redis: 'Redis: an in-memory data store used as a cache and message broker',
};

describe('simulator: POST /v1/embeddings through the openai SDK', () => {
  let sim: Simulator;
  let client: OpenAI;
  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterAll(() => sim.close());

  it('answers OpenAI’s shape with unit vectors and usage counted by countTextTokens', async () => {
    const input = ['first text about queues', 'second text about limits'];
    const response = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input,
      encoding_format: 'float',
    });
    expect(response.object).toBe('list');
    expect(response.model).toBe('text-embedding-3-small');
    expect(response.data.map((d) => [d.object, d.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
    ]);
    for (const item of response.data) {
      expect(item.embedding).toHaveLength(256);
      const norm = Math.sqrt(item.embedding.reduce((s, x) => s + x * x, 0));
      expect(norm).toBeCloseTo(1, 6);
    }
    const tokens = input.reduce((s, t) => s + countTextTokens(t, 'text-embedding-3-small'), 0);
    expect(response.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
  });

  it('takes a single string, and answers base64 (the SDK’s default) with the same vector', async () => {
    const text = 'a single string input';
    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: text,
      encoding_format: 'float',
    });
    // Without encoding_format the SDK asks for base64 and decodes it itself.
    const decoded = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: text,
    });
    expect(floats.data).toHaveLength(1);
    const a = floats.data[0]?.embedding ?? [];
    const b = decoded.data[0]?.embedding ?? [];
    expect(b).toHaveLength(a.length);
    a.forEach((x, i) => {
      expect(b[i]).toBeCloseTo(x, 6);
    });
  });

  it('is deterministic and honours `dimensions`', async () => {
    const request = {
      model: 'text-embedding-3-small',
      input: 'same text',
      encoding_format: 'float' as const,
    };
    const one = await client.embeddings.create(request);
    const two = await client.embeddings.create(request);
    expect(two.data[0]?.embedding).toEqual(one.data[0]?.embedding);
    const small = await client.embeddings.create({ ...request, dimensions: 64 });
    expect(small.data[0]?.embedding).toHaveLength(64);
    await expect(
      client.embeddings.create({ ...request, dimensions: 100_000 }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('ranks the Python web frameworks first for "python web framework"', async () => {
    const names = Object.keys(DOCUMENTS);
    const response = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: [...Object.values(DOCUMENTS), 'python web framework'],
      encoding_format: 'float',
    });
    const vectors = response.data.map((d) => d.embedding);
    const query = vectors[names.length] ?? [];
    const ranked = names
      .map((name, i) => ({ name, score: cosineSimilarity(query, vectors[i] ?? []) }))
      .sort((a, b) => b.score - a.score)
      .map((r) => r.name);
    expect(ranked.slice(0, 3)).toEqual(expect.arrayContaining(['flask', 'django']));
  });

  it('answers 404 for an unknown model and 400 for a bad input', async () => {
    await expect(
      client.embeddings.create({ model: 'text-embedding-9', input: 'x' }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const bad = await fetch(`${sim.url}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 42 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('input');
  });
});

describe('embedText', () => {
  it('puts texts that share words closer than unrelated ones', () => {
    const queue = embedText('priority task queue with rate limits', 256);
    const similar = embedText('a task queue with priorities and rate limiting', 256);
    const unrelated = embedText('baking sourdough bread at home', 256);
    expect(cosineSimilarity(queue, similar)).toBeGreaterThan(cosineSimilarity(queue, unrelated));
  });

  it('gives empty and stop-word-only texts a unit vector too', () => {
    for (const text of ['', 'the of and', '!!!']) {
      const vector = embedText(text, 32);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 9);
    }
  });
});
