/**
 * The quick-start demo that `npm start` runs: no API key, no network.
 *
 * Starts the built-in OpenAI-compatible simulator on 127.0.0.1, points the real `openai` SDK
 * (through `OpenAICompatibleClient`) at it, and runs 40 chat tasks of mixed priority through the
 * engine under a concurrency limit, a requests-per-minute window and a budget, while the
 * simulator answers 10% of calls with a server error. Prints what happens and a summary.
 */
import { z } from 'zod';
import { microsToDollars } from '../src/limits/prices.js';
import { countChatTokens } from '../src/limits/tokens.js';
import { OpenAICompatibleClient } from '../src/providers/openai.js';
import { startSimulator } from '../src/providers/simulator/index.js';
import { Engine } from '../src/runtime/engine.js';
import type { TaskTypeDefinition } from '../src/task-types/types.js';

const TOPICS = [
  'rate limiting',
  'token budgets',
  'priority queues',
  'exponential backoff',
  'actor models',
  'sliding windows',
  'structured outputs',
  'embeddings',
  'retries with jitter',
  'statecharts',
];

/** A task type defined in a few lines: one chat call that must return `{ title, tags }`. */
const Headline = z.object({ title: z.string(), tags: z.array(z.string()).max(5) });
const headlineTask: TaskTypeDefinition<{ topic: string }, z.infer<typeof Headline>> = {
  name: 'HEADLINE',
  input: z.object({ topic: z.string().min(1) }),
  output: Headline,
  estimate: (data, env) => ({
    model: env.model,
    promptTokens: countChatTokens(messagesFor(data.topic), env.model),
    maxTokens: 120,
  }),
  run: async (ctx) => {
    const answer = await ctx.chat({
      messages: messagesFor(ctx.data.topic),
      maxTokens: 120,
      responseFormat: {
        type: 'json_schema',
        jsonSchema: {
          name: 'headline',
          schema: z.toJSONSchema(Headline) as Record<string, unknown>,
        },
      },
    });
    return JSON.parse(answer.content);
  },
};

function messagesFor(topic: string) {
  return [
    { role: 'system' as const, content: 'You write short technical headlines as JSON.' },
    { role: 'user' as const, content: `Write a headline and tags about ${topic}.` },
  ];
}

const simulator = await startSimulator({
  latency: { kind: 'uniform', minMs: 20, maxMs: 120 },
  faults: { error500: 0.1 },
  seed: 7,
});
console.log(`simulator: ${simulator.url} (built in; no API key, nothing leaves this machine)`);

const engine = new Engine(
  {
    maxConcurrent: 4,
    requestsPerMinute: 600,
    budgetLimit: 0.05,
    model: 'gpt-4o-mini',
    taskDefaults: { maxRetries: 3, retryDelay: 0.05, maxRetryDelay: 0.5, timeout: 10 },
  },
  { client: new OpenAICompatibleClient({ baseURL: simulator.url }), taskTypes: [headlineTask] },
);

let retries = 0;
engine.events$.subscribe((event) => {
  const id = 'taskId' in event ? event.taskId.slice(0, 8) : '';
  if (event.type === 'task.retrying') {
    retries++;
    console.log(`  retry    ${id} ${event.priority.padEnd(6)} after ${event.error.message}`);
  } else if (event.type === 'task.failed') {
    console.log(`  failed   ${id} ${event.priority.padEnd(6)} ${event.error?.message ?? ''}`);
  } else if (event.type === 'task.completed') {
    console.log(`  done     ${id} ${event.priority.padEnd(6)} after ${event.attempts} attempt(s)`);
  }
});
engine.start();

const priorities = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const;
const started = Date.now();
const ids = await engine.submitMany(
  Array.from({ length: 40 }, (_, i) => ({
    taskType: 'HEADLINE',
    data: { topic: TOPICS[i % TOPICS.length] as string },
    priority: priorities[i % 4],
  })),
);
console.log(`submitted ${ids.length} tasks; at most 4 run at once`);
await engine.onIdle();

let completed = 0;
let failed = 0;
let promptTokens = 0;
let completionTokens = 0;
let costMicros = 0;
let example: unknown;
for (const id of ids) {
  const record = await engine.getTask(id);
  if (!record) continue;
  if (record.status === 'completed') {
    completed++;
    example ??= record.result;
  } else failed++;
  promptTokens += record.usage.promptTokens;
  completionTokens += record.usage.completionTokens;
  costMicros += record.costMicros;
}
await engine.stop();
await simulator.close();

console.log(`\ncompleted ${completed}, failed ${failed}, retries ${retries}`);
console.log(`tokens: ${promptTokens} prompt + ${completionTokens} completion`);
console.log(
  `cost: $${microsToDollars(costMicros).toFixed(6)} of a $0.05 budget (simulated prices)`,
);
console.log(`time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log('an answer:', JSON.stringify(example));
process.exitCode = failed === 0 ? 0 : 1;
