import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readRepositories } from '../../src/cli/records.js';
import { cosineSimilarity, embedText } from '../../src/providers/simulator/index.js';

const EXAMPLE = 'examples/repos.json';

/** Stricter than what `aitq analyze` accepts: the example file fills every field. */
const ExampleRepositorySchema = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/),
  full_name: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
  description: z.string().min(20).max(200),
  language: z.string().min(1),
  stargazers_count: z.int().min(1_000),
  topics: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/)).min(2),
  readme: z.string().min(80).max(600),
});

async function examples() {
  const out = [];
  for await (const item of readRepositories(EXAMPLE))
    out.push(ExampleRepositorySchema.parse(item.value));
  return out;
}

describe('examples/repos.json', () => {
  it('holds 60 or more distinct repositories with every field filled', async () => {
    const repos = await examples();
    expect(repos.length).toBeGreaterThanOrEqual(60);
    expect(new Set(repos.map((r) => r.full_name)).size).toBe(repos.length);
    expect(new Set(repos.map((r) => r.name)).size).toBe(repos.length);
    for (const repo of repos) expect(repo.full_name.endsWith(`/${repo.name}`)).toBe(true);
    expect(repos.map((r) => r.full_name)).toEqual(
      expect.arrayContaining(['pallets/flask', 'django/django']),
    );
  });

  it.each([
    ['description', (r: z.output<typeof ExampleRepositorySchema>) => r.description],
    ['readme', (r: z.output<typeof ExampleRepositorySchema>) => r.readme],
    [
      'name, description and topics',
      (r: z.output<typeof ExampleRepositorySchema>) =>
        `${r.name}: ${r.description} ${r.topics.join(' ')}`,
    ],
  ])('ranks flask and django in the top 3 for "python web framework" (by %s)', async (_, text) => {
    const repos = await examples();
    const query = embedText('python web framework', 256);
    const top = repos
      .map((r) => ({ name: r.name, score: cosineSimilarity(query, embedText(text(r), 256)) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 3)
      .map((r) => r.name);
    expect(top).toEqual(expect.arrayContaining(['flask', 'django']));
  });
});
