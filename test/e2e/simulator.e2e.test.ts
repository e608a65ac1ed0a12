/**
 * End to end (issue #5): the manager, with the `OpenAICompatibleClient` it builds from `baseURL`,
 * against the built-in simulator over loopback, in real time. 500 tasks of the five built-in
 * types, 10% injected faults, and the simulator's own request and token limits (a 1 s window) far
 * below the queue's, so that only the `x-ratelimit-*` headers and the 429s can keep the queue in
 * line. Nothing here asserts on timings; the figures are printed for the record.
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AITaskManager,
  type BatchAnalysisResult,
  type BatchTaskInput,
  createAITaskManager,
  type EngineEvent,
  OpenAICompatibleClient,
  type Priority,
  seededRandom,
  type TaskInfo,
  TaskType,
} from '../../src/index.js';
import { costMicros, countTextTokens, resolvePrice } from '../../src/limits/index.js';
import { billedSchemaText, SCHEMA_FRAME_TOKENS } from '../../src/providers/simulator/counting.js';
import {
  type Simulator,
  type SimulatorStats,
  startSimulator,
} from '../../src/providers/simulator/index.js';
import {
  classificationSchemaFor,
  RepositoryAnalysisSchema,
} from '../../src/task-types/builtin/index.js';
import {
  type AnswerSchema,
  answerSchema,
  schemaPromptTokens,
} from '../../src/task-types/structured.js';

type LogEntry = SimulatorStats['log'][number];

/**
 * The simulator's limits, per model as OpenAI counts them (`perModel`): in any 1 s, 50 requests
 * and 30,000 tokens (prompt + `max_tokens`) for the chat model, and as much for the embeddings
 * model. Chat calls mostly meet the token limit, embeddings calls the request limit.
 */
const SIMULATOR_LIMITS = { requests: 50, tokens: 30_000, windowMs: 1_000, perModel: true };
/**
 * The queue's own limits, for all models together, are this many times one model's: five times
 * what the two models may send together, so they never hold anything back.
 */
const QUEUE_HEADROOM = 10;
const TASK_DEFAULTS = {
  maxRetries: 1,
  retryDelay: 0.1,
  maxRetryDelay: 0.5,
  maxRateLimitRetries: 10,
  // Seconds. The `timeout` fault never answers: the attempt's timeout aborts it.
  timeout: 2,
};
/** 10% of the requests the simulator admits get a fault; no 429 is injected (see the 429 test). */
const FAULTS = { error500: 0.04, error503: 0.01, malformed: 0.02, timeout: 0.01, noUsage: 0.02 };

interface Repository {
  name: string;
  full_name: string;
  description: string;
  language: string;
  stargazers_count: number;
  topics: string[];
  readme: string;
}

const REPOSITORIES: Repository[] = JSON.parse(
  readFileSync(new URL('../../examples/repos.json', import.meta.url), 'utf8'),
);
/** `BATCH_ANALYSIS` tasks, and the repositories (child tasks) of each. */
const BATCHES = 30;
const BATCH_SIZE = 3;
const CATEGORIES = ['web', 'data', 'machine learning', 'devops', 'tooling', 'language'];
const QUERIES = ['python web framework', 'relational database', 'container orchestration'];
const PRIORITIES: Priority[] = ['HIGH', 'MEDIUM', 'LOW'];

function repo(i: number): Repository {
  const r = REPOSITORIES[i % REPOSITORIES.length];
  if (r === undefined) throw new Error('examples/repos.json is empty');
  return r;
}

/** The data of a `REPOSITORY_ANALYSIS` task, as `BATCH_ANALYSIS` builds it for each child. */
function analysisData(r: Repository) {
  const { readme, ...repo_info } = r;
  return { repo_info, readme_content: readme };
}

/** The 500 tasks: every type, all from examples/repos.json. */
function workload(): BatchTaskInput[] {
  const counts: Array<[TaskType, number]> = [
    [TaskType.REPOSITORY_ANALYSIS, 100],
    [TaskType.BATCH_ANALYSIS, BATCHES],
    [TaskType.TEXT_CLASSIFICATION, 100],
    [TaskType.EMBEDDING_GENERATION, 135],
    [TaskType.SEMANTIC_SEARCH, 135],
  ];
  const tasks: BatchTaskInput[] = [];
  for (const [taskType, count] of counts) {
    for (let i = 0; i < count; i++) {
      tasks.push({ taskType, data: dataFor(taskType, i), priority: PRIORITIES[i % 3] });
    }
  }
  // Interleave the types, so every window mixes chat and embeddings calls.
  return tasks
    .map((task, i) => ({ task, key: (i * 7919) % tasks.length }))
    .sort((a, b) => a.key - b.key)
    .map(({ task }) => task);
}

function dataFor(taskType: TaskType, i: number): unknown {
  switch (taskType) {
    case TaskType.REPOSITORY_ANALYSIS:
      return analysisData(repo(i));
    case TaskType.BATCH_ANALYSIS:
      return {
        repositories: Array.from({ length: BATCH_SIZE }, (_, k) => repo(BATCH_SIZE * i + k)),
      };
    case TaskType.TEXT_CLASSIFICATION:
      return { text: `${repo(i).name}: ${repo(i).description}`, categories: CATEGORIES };
    case TaskType.EMBEDDING_GENERATION:
      return { text: i % 2 === 0 ? repo(i).description : [repo(i).description, repo(i).readme] };
    case TaskType.SEMANTIC_SEARCH:
      return {
        query: QUERIES[i % QUERIES.length],
        documents: [0, 1, 2, 3, 4, 5].map((k) => ({
          id: repo(i + k).full_name,
          text: repo(i + k).description,
        })),
        top_k: 3,
      };
  }
}

/** What one run left behind: the simulator's log, the queue's tasks, events and statistics. */
interface Run {
  log: LogEntry[];
  tasks: TaskInfo[];
  /** The submitted data of every top-level task, by id. */
  submitted: Map<string, BatchTaskInput>;
  events: EngineEvent[];
  statistics: Awaited<ReturnType<AITaskManager['getStatistics']>>;
  seconds: number;
}

let sim: Simulator;
let manager: AITaskManager;
let run: Run;

beforeAll(async () => {
  sim = await startSimulator({
    seed: 5,
    limits: SIMULATOR_LIMITS,
    latency: { kind: 'uniform', minMs: 5, maxMs: 40 },
    faults: FAULTS,
  });
  const { requests, tokens, windowMs } = SIMULATOR_LIMITS;
  const perMinute = 60_000 / windowMs;
  manager = await createAITaskManager({
    baseURL: sim.url,
    maxConcurrent: 20,
    requestsPerMinute: requests * perMinute * QUEUE_HEADROOM,
    tokensPerMinute: tokens * perMinute * QUEUE_HEADROOM,
    windows: [{ windowMs, requests: requests * QUEUE_HEADROOM, tokens: tokens * QUEUE_HEADROOM }],
    budgetLimit: 10,
    maxTokens: 512,
    random: seededRandom(5),
    taskDefaults: TASK_DEFAULTS,
  });
  const events: EngineEvent[] = [];
  const subscription = manager.events$.subscribe((e) => events.push(e));
  const tasks = workload();
  const started = performance.now();
  const ids = await manager.submitBatch(tasks);
  await manager.onIdle();
  const seconds = (performance.now() - started) / 1000;
  subscription.unsubscribe();
  const submitted = new Map(ids.map((id, i) => [id, tasks[i] as BatchTaskInput]));
  const all: TaskInfo[] = [];
  let cursor: string | null = null;
  do {
    const page = await manager.getTasks({ limit: 1_000, ...(cursor === null ? {} : { cursor }) });
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  run = {
    log: sim.stats().log,
    tasks: all,
    submitted,
    events,
    statistics: await manager.getStatistics(),
    seconds,
  };
  // ~13 s alone before the queue learned the simulator's limits from its headers; ~17 s since
  // (learned windows reserve a call's worst-case tokens, as OpenAI counts them, while the
  // simulator counts what was generated). Under a loaded CI machine that passed 20 s.
}, 60_000);

afterAll(async () => {
  await manager?.stop({ force: true });
  await sim?.close();
});

/** The `task.retrying` events of each task. */
function retriesByTask(events: readonly EngineEvent[]): Map<string, Array<number | undefined>> {
  const out = new Map<string, Array<number | undefined>>();
  for (const e of events) {
    if (e.type !== 'task.retrying') continue;
    const list = out.get(e.taskId) ?? [];
    list.push(e.error.status);
    out.set(e.taskId, list);
  }
  return out;
}

/** The response schema a call task's request carries, if any. */
function answerSchemaOf(input: BatchTaskInput): AnswerSchema<unknown> | undefined {
  if (input.taskType === TaskType.REPOSITORY_ANALYSIS) {
    return answerSchema('repository_analysis', RepositoryAnalysisSchema);
  }
  if (input.taskType === TaskType.TEXT_CLASSIFICATION) {
    return classificationSchemaFor((input.data as { categories: string[] }).categories);
  }
  return undefined;
}

/**
 * The library's own prompt-token count of each call task: `promptTokens` is what
 * `estimateCost` reports, the count it reserves in the rate windows and holds against the
 * budget; `messages` is its part that counts the very messages or inputs the task sends
 * (OpenAI's tokenizer), the rest being the response schema as the library reserves it; `billed`
 * is the prompt the simulator should bill: the messages, and the schema by the simulator's own
 * rule. A child of `BATCH_ANALYSIS` is counted as the `REPOSITORY_ANALYSIS` task it is.
 */
function libraryCount(task: TaskInfo): {
  model: string;
  promptTokens: number;
  messages: number;
  billed: number;
} {
  const input = inputOf(task);
  const { model, promptTokens } = manager.costController.estimateCost(input);
  const schema = answerSchemaOf(input);
  if (schema === undefined)
    return { model, promptTokens, messages: promptTokens, billed: promptTokens };
  const messages = promptTokens - schemaPromptTokens(schema, model);
  const billedSchema =
    countTextTokens(billedSchemaText(schema.jsonSchema), model) + SCHEMA_FRAME_TOKENS;
  return { model, promptTokens, messages, billed: messages + billedSchema };
}

/** What a task was submitted with; for a child of `BATCH_ANALYSIS`, its repository's analysis. */
function inputOf(task: TaskInfo): BatchTaskInput {
  const own = run.submitted.get(task.taskId);
  if (own !== undefined) return own;
  const parent = run.submitted.get(task.parentId ?? '')?.data as { repositories?: Repository[] };
  const child = parent?.repositories?.[task.metadata.batchIndex as number];
  if (child === undefined) throw new Error(`task ${task.taskId} was not submitted by this test`);
  return { taskType: TaskType.REPOSITORY_ANALYSIS, data: analysisData(child) };
}

/** Counts of `key(x)` over `items`. */
function tally<T>(items: Iterable<T>, key: (item: T) => string, times = (_: T) => 1) {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + times(item));
  return counts;
}

describe('the manager against the simulator: 500 tasks, 10% faults, limits below the queue', () => {
  it('ran the whole workload: 500 tasks and their children, several windows of requests', () => {
    const { log, tasks, statistics, seconds } = run;
    const topLevel = tasks.filter((t) => t.parentId === null);
    expect(topLevel).toHaveLength(500);
    expect(new Set(topLevel.map((t) => t.taskType)).size).toBe(5);
    expect(tasks).toHaveLength(500 + BATCHES * BATCH_SIZE);
    // Far more requests than one window admits: the simulator's limits had to be met.
    expect(log.length).toBeGreaterThan(5 * SIMULATOR_LIMITS.requests);
    expect(sim.stats().requests).toBe(log.length); // the log kept every request
    const byStatus = tally(log, (e) => String(e.status));
    const faults = tally(
      log.filter((e) => e.fault !== undefined),
      (e) => e.fault ?? '',
    );
    const failed = tasks.filter((t) => t.status === 'failed').length;
    console.info(
      `e2e: ${tasks.length} tasks (${failed} failed), ${log.length} requests in ${seconds.toFixed(1)} s; ` +
        `statuses ${JSON.stringify(Object.fromEntries(byStatus))}; faults ${JSON.stringify(Object.fromEntries(faults))}; ` +
        `prompt ${statistics.tokens.prompt}, completion ${statistics.tokens.completion} tokens; $${statistics.cost.total.cost}`,
    );
  });

  it('every task ends completed, or failed only where its retries ran out', () => {
    const retries = retriesByTask(run.events);
    const failures = new Map<string, number | undefined>();
    for (const e of run.events)
      if (e.type === 'task.failed') failures.set(e.taskId, e.error?.status);
    for (const task of run.tasks) {
      expect(['completed', 'failed']).toContain(task.status);
      const statuses = retries.get(task.taskId) ?? [];
      // One attempt per retry, plus the last one.
      expect(task.attempts, task.taskId).toBe(statuses.length + 1);
      if (task.status === 'completed') continue;
      const error = task.error;
      expect(error?.retryable, task.taskId).toBe(true);
      const rateLimited = statuses.filter((s) => s === 429).length;
      // The last error decides which allowance ran out: rate-limit retries for a 429, else retries.
      if (failures.get(task.taskId) === 429) {
        expect(rateLimited, task.taskId).toBe(TASK_DEFAULTS.maxRateLimitRetries);
      } else {
        const other = statuses.length - rateLimited;
        expect(other, `${task.taskId}: ${error?.message}`).toBe(TASK_DEFAULTS.maxRetries);
      }
    }
  });

  it("a batch reports each child's outcome, and completes even when a child failed", () => {
    for (const parent of run.tasks.filter((t) => t.taskType === TaskType.BATCH_ANALYSIS)) {
      expect(parent.status).toBe('completed');
      const children = run.tasks.filter((t) => t.parentId === parent.taskId);
      expect(children).toHaveLength(BATCH_SIZE);
      const result = parent.result as BatchAnalysisResult;
      for (const child of children) {
        const item = result[child.metadata.batchIndex as number];
        expect(item?.success).toBe(child.status === 'completed');
      }
    }
  });

  it('429s are at most 5% of all requests: the queue slowed down on the headers', () => {
    const { log } = run;
    const tooMany = log.filter((e) => e.status === 429);
    expect(tooMany.every((e) => e.fault === undefined)).toBe(true); // none injected: all earned
    expect(tooMany.length / log.length).toBeLessThanOrEqual(0.05);
  });

  it('the library counted the messages of every request as the simulator did, and reserved at least its bill', () => {
    // The simulator logs every request it received (answered, refused or hanging) with the
    // prompt tokens it counted. Each attempt of a call task sends its prompt in exactly one
    // request (no input here exceeds one embeddings batch), the same prompt every attempt, and
    // the library's count of its messages is the task's estimate less the response schema (see
    // `libraryCount`). So the multiset "messages and the simulator's schema rule × attempts" over
    // the call tasks is what the simulator should have counted for every request sent, and the
    // log's multiset is what it counted: one message counted differently, or one request more or
    // fewer, and the two differ.
    const callTasks = run.tasks.filter((t) => t.taskType !== TaskType.BATCH_ANALYSIS);
    const counts = new Map(callTasks.map((t) => [t.taskId, libraryCount(t)]));
    const key = (model: string, tokens: number) => `${model} ${tokens}`;
    const library = tally(
      callTasks,
      (t) => {
        const c = counts.get(t.taskId);
        return c === undefined ? '' : key(c.model, c.billed);
      },
      (t) => t.attempts,
    );
    const simulator = tally(run.log, (e) => key(e.model, e.promptTokens));
    expect(Object.fromEntries(library)).toEqual(Object.fromEntries(simulator));
    // The estimate (the reservation and the hold) is never below the bill.
    for (const c of counts.values()) expect(c.promptTokens).toBeGreaterThanOrEqual(c.billed);
    expect([...counts.values()].filter((c) => c.billed > c.messages).length).toBeGreaterThan(100);

    // And the usage each attempt reported is the server's count, or, when the server sent none
    // or never answered, the library's own count of the prompt: the messages and the response
    // schema as the estimate counts it (docs/providers.md, "Usage and cost").
    for (const e of run.events) {
      if (e.type !== 'task.usage' || e.promptTokens === 0) continue;
      const c = counts.get(e.taskId);
      expect([c?.billed, c?.promptTokens], e.taskId).toContain(e.promptTokens);
    }
  });

  it("the cost in getStatistics() equals the cost of the simulator's log, to the micro-dollar", () => {
    // What each logged request is billed, by the rules of docs/providers.md: an answer with a
    // readable body its usage (the tokenizer's count of the same answer when it has no usage);
    // an aborted call (status 0: never answered; 499: the client left) its prompt at the input
    // price; an HTTP error, or a 200 whose body is not JSON, nothing. The library's own count of
    // a prompt is its messages plus the response schema by the estimate's rule, which errs high
    // against the simulator's: the library's schema count per simulator schema count comes from
    // the tasks (one for each, or the test says so).
    const librarySchema = new Map<string, number>();
    for (const t of run.tasks) {
      if (t.taskType === TaskType.BATCH_ANALYSIS) continue;
      const c = libraryCount(t);
      if (c.billed === c.messages) continue;
      const key = `${c.model} ${c.billed - c.messages}`;
      const seen = librarySchema.get(key);
      if (seen !== undefined && seen !== c.promptTokens - c.messages) {
        throw new Error(`two schemas billed ${key} tokens are counted differently`);
      }
      librarySchema.set(key, c.promptTokens - c.messages);
    }
    const countedSchema = (model: string, billed: number | undefined): number =>
      billed === undefined || billed === 0
        ? 0
        : (librarySchema.get(`${model} ${billed}`) ?? Number.NaN);
    let micros = 0;
    let prompt = 0;
    let completion = 0;
    for (const e of run.log) {
      const price = resolvePrice(e.model);
      if (price === undefined) throw new Error(`no price for ${e.model}`);
      let billed = [0, 0] as [number, number];
      const counted =
        e.promptTokens - (e.schemaTokens ?? 0) + countedSchema(e.model, e.schemaTokens);
      if (e.status === 200 && e.fault === 'noUsage') billed = [counted, e.completionTokens];
      else if (e.status === 200 && e.fault !== 'malformed')
        billed = [e.promptTokens, e.completionTokens];
      else if (e.status === 0 || e.status === 499) billed = [counted, 0];
      micros += costMicros(price, ...billed);
      prompt += billed[0];
      completion += billed[1];
    }
    const { cost, tokens } = run.statistics;
    expect(tokens.prompt).toBe(prompt);
    expect(tokens.completion).toBe(completion);
    expect(micros).toBeGreaterThan(0);
    expect(Math.round(cost.total.cost * 1e6)).toBe(micros);
  });
});

describe("the simulator's windows: shared by every model, or one per model (limits.perModel)", () => {
  const signal = new AbortController().signal;
  const chat = (client: OpenAICompatibleClient) =>
    client.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], maxTokens: 5 },
      { signal },
    );
  const embed = (client: OpenAICompatibleClient) =>
    client.embed({ model: 'text-embedding-3-small', input: ['hi'] }, { signal });

  async function withLimits(perModel: boolean, body: (client: OpenAICompatibleClient) => unknown) {
    let t = 0;
    const limited = await startSimulator({
      limits: { requests: 1, windowMs: 1_000, perModel },
      now: () => t,
    });
    try {
      await body(new OpenAICompatibleClient({ baseURL: limited.url }));
      t += 1_000; // the window slides past both
      await body(new OpenAICompatibleClient({ baseURL: limited.url }));
    } finally {
      await limited.close();
    }
  }

  it('perModel: each model counts in its own window, and its answers report that window', async () => {
    await withLimits(true, async (client) => {
      expect((await chat(client)).hints).toMatchObject({ limitRequests: 1, remainingRequests: 0 });
      expect((await embed(client)).hints).toMatchObject({ limitRequests: 1, remainingRequests: 0 });
      await expect(chat(client)).rejects.toMatchObject({ status: 429 });
      await expect(embed(client)).rejects.toMatchObject({ status: 429 });
    });
  });

  it('by default, one window counts the requests of every model', async () => {
    await withLimits(false, async (client) => {
      expect((await chat(client)).hints).toMatchObject({ remainingRequests: 0 });
      await expect(embed(client)).rejects.toMatchObject({ status: 429 });
    });
  });
});
