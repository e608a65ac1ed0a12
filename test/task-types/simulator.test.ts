import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAICompatibleClient } from '../../src/providers/openai.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { Engine } from '../../src/runtime/engine.js';
import {
  BatchAnalysisResultSchema,
  BUILTIN_TASK_TYPES,
  EmbeddingGenerationSchema,
  RepositoryAnalysisSchema,
  SemanticSearchSchema,
  TaskType,
  TextClassificationSchema,
} from '../../src/task-types/builtin/index.js';

/** A few real repositories, as GitHub describes them. */
const REPOSITORIES = [
  {
    name: 'flask',
    description: 'The Python micro framework for building web applications.',
    language: 'Python',
  },
  {
    name: 'django',
    description: 'The Web framework for perfectionists with deadlines, in Python.',
    language: 'Python',
  },
  {
    name: 'postgres',
    description: 'PostgreSQL: an open source relational database server.',
    language: 'C',
  },
  {
    name: 'redis',
    description: 'An in-memory key-value database and cache server.',
    language: 'C',
  },
  {
    name: 'kubernetes',
    description: 'Production-grade container scheduling and orchestration.',
    language: 'Go',
  },
  {
    name: 'react',
    description: 'The library for web and native user interfaces.',
    language: 'JavaScript',
  },
  {
    name: 'pytorch',
    description: 'Tensors and dynamic neural networks in Python with GPU acceleration.',
    language: 'Python',
  },
];

let sim: Simulator;
let engine: Engine;

beforeAll(async () => {
  sim = await startSimulator({ seed: 3 });
  engine = new Engine(
    { model: 'gpt-4o-mini', maxConcurrent: 4 },
    { client: new OpenAICompatibleClient({ baseURL: sim.url }), taskTypes: BUILTIN_TASK_TYPES },
  );
  engine.start();
});

afterAll(async () => {
  await engine.stop();
  await sim.close();
});

/**
 * The simulator bills the response schema its own way (as OpenAI was measured to), the estimate
 * counts it on the safe side: never under what was billed, and over by less than the schema's
 * `required` lists, the wrapper and the fixed overhead.
 */
function expectCovered(billed: number | undefined, estimated: number): void {
  expect(billed).toBeDefined();
  expect(billed).toBeLessThanOrEqual(estimated);
  expect(estimated - (billed ?? 0)).toBeLessThan(64);
}

async function run(taskType: string, data: unknown): Promise<{ id: string; result: unknown }> {
  const id = await engine.submit({ taskType, data, config: { maxRetries: 0 } });
  return { id, result: await engine.waitFor(id) };
}

describe('the built-in task types against the simulator', () => {
  it('REPOSITORY_ANALYSIS: the simulated answer validates, and the estimate covers the billed prompt', async () => {
    const data = {
      repo_info: { ...REPOSITORIES[0], stargazers_count: 68_000, topics: ['wsgi', 'web'] },
      readme_content: '# Flask\n\nFlask is a lightweight WSGI web application framework.',
    };
    const estimate = engine.estimateCost({ taskType: TaskType.REPOSITORY_ANALYSIS, data });
    const { id, result } = await run(TaskType.REPOSITORY_ANALYSIS, data);
    expect(RepositoryAnalysisSchema.safeParse(result).success).toBe(true);
    const record = await engine.getTask(id);
    expect(record?.usage.estimated).toBe(false);
    expectCovered(record?.usage.promptTokens, estimate.promptTokens);
    expect(record?.attempts).toBe(1);
  });

  it("TEXT_CLASSIFICATION: the category is always one of the request's categories", async () => {
    const categorySets = [
      ['web', 'data', 'ml', 'devops'],
      ['positive', 'negative'],
      ['bug report', 'feature request', 'question'],
    ];
    for (const categories of categorySets) {
      for (const text of ['This is a web framework for Python', 'The app crashes when I log in']) {
        const { id, result } = await run(TaskType.TEXT_CLASSIFICATION, { text, categories });
        const parsed = TextClassificationSchema.parse(result);
        expect(categories).toContain(parsed.category);
        expect(Object.keys(parsed.scores).sort()).toEqual([...categories].sort());
        const estimate = engine.estimateCost({
          taskType: TaskType.TEXT_CLASSIFICATION,
          data: { text, categories },
        });
        expectCovered((await engine.getTask(id))?.usage.promptTokens, estimate.promptTokens);
      }
    }
  });

  it('BATCH_ANALYSIS: one valid analysis per repository, in order, with progress', async () => {
    const repositories = REPOSITORIES.slice(0, 4).map((r) => ({
      ...r,
      readme: `# ${r.name}\n\n${r.description}`,
    }));
    const progress: number[] = [];
    const subscription = engine.events$.subscribe((e) => {
      if (e.type === 'task.progress') progress.push(e.current);
    });
    const { id, result } = await run(TaskType.BATCH_ANALYSIS, { repositories });
    subscription.unsubscribe();
    const results = BatchAnalysisResultSchema.parse(result);
    expect(results.map((r) => [r.repo_name, r.success])).toEqual(
      repositories.map((r) => [r.name, true]),
    );
    expect(progress).toEqual([1, 2, 3, 4]);
    const record = await engine.getTask(id);
    expect(record?.usage.calls).toBe(4);
    expect(record?.costMicros).toBeGreaterThan(0);
  });

  it("EMBEDDING_GENERATION: one vector of the simulator's dimension per text", async () => {
    const texts = REPOSITORIES.map((r) => r.description);
    const { id, result } = await run(TaskType.EMBEDDING_GENERATION, { text: texts });
    const parsed = EmbeddingGenerationSchema.parse(result);
    expect(parsed.dimensions).toBe(256);
    expect(parsed.embeddings).toHaveLength(texts.length);
    const estimate = engine.estimateCost({
      taskType: TaskType.EMBEDDING_GENERATION,
      data: { text: texts },
    });
    expect((await engine.getTask(id))?.usage.promptTokens).toBe(estimate.promptTokens);
  });

  it("SEMANTIC_SEARCH: ranks the repositories sensibly with the simulator's embeddings", async () => {
    const documents = REPOSITORIES.map((r) => ({
      id: r.name,
      text: `${r.name}: ${r.description}`,
    }));
    const search = async (query: string, top_k: number) => {
      const { result } = await run(TaskType.SEMANTIC_SEARCH, { query, documents, top_k });
      return SemanticSearchSchema.parse(result).results.map((r) => r.id);
    };
    expect((await search('Python web framework', 2)).sort()).toEqual(['django', 'flask']);
    expect((await search('relational database server', 1))[0]).toBe('postgres');
    expect((await search('container orchestration', 1))[0]).toBe('kubernetes');
    expect((await search('neural networks on the GPU', 1))[0]).toBe('pytorch');
  });
});
