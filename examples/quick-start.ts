/**
 * The library quick start: no API key, no network.
 *
 * Starts the built-in OpenAI-compatible simulator on 127.0.0.1 and points a manager at it (the
 * real `openai` SDK talks to it over HTTP). Runs 40 `TEXT_CLASSIFICATION` tasks of mixed priority
 * and one `BATCH_ANALYSIS` of three repositories under a concurrency limit, a requests-per-minute
 * window and a budget, while the simulator answers 10% of calls with a server error. Prints what
 * happens and the statistics.
 */
// In an application: `from 'ai-task-queue'` and `from 'ai-task-queue/simulator'`.
import { createAITaskManager, TaskType } from '../src/index.js';
import { startSimulator } from '../src/providers/simulator/index.js';

const TEXTS = [
  'A lightweight WSGI web framework for building APIs in Python',
  'Gradient boosted trees for tabular machine learning',
  'Container orchestration across a cluster of machines',
  'A columnar dataframe library for fast data analysis',
  'Declarative infrastructure as code for cloud resources',
  'A transformer model library for natural language processing',
  'Server-side rendering for a JavaScript web framework',
  'Continuous integration pipelines and deployment automation',
];
const CATEGORIES = ['web', 'data', 'ml', 'devops'];

const simulator = await startSimulator({
  latency: { kind: 'uniform', minMs: 20, maxMs: 120 },
  faults: { error500: 0.1 },
  seed: 7,
});
console.log(`simulator: ${simulator.url} (built in; no API key, nothing leaves this machine)`);

const manager = await createAITaskManager({
  baseURL: simulator.url,
  maxConcurrent: 4,
  requestsPerMinute: 600,
  budgetLimit: 0.05,
  model: 'gpt-4o-mini',
  taskDefaults: { maxRetries: 3, retryDelay: 0.05, maxRetryDelay: 0.5, timeout: 10 },
});

manager.on('task.retrying', (e) =>
  console.log(`  retry    ${e.taskId.slice(0, 8)} ${e.priority.padEnd(6)} ${e.error.message}`),
);
manager.on('task.failed', (e) =>
  console.log(`  failed   ${e.taskId.slice(0, 8)} ${e.priority.padEnd(6)} ${e.error?.message}`),
);

const priorities = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const;
const ids = await manager.submitBatch(
  Array.from({ length: 40 }, (_, i) => ({
    taskType: TaskType.TEXT_CLASSIFICATION,
    data: { text: TEXTS[i % TEXTS.length] as string, categories: CATEGORIES },
    priority: priorities[i % 4],
  })),
);
console.log(`submitted ${ids.length} classification tasks; at most 4 run at once`);

const batchId = await manager.submitTask({
  taskType: TaskType.BATCH_ANALYSIS,
  data: {
    repositories: [
      { name: 'flask', description: 'A micro web framework', language: 'Python' },
      { name: 'django', description: 'The web framework for perfectionists', language: 'Python' },
      { name: 'kubernetes', description: 'Production-grade container orchestration' },
    ],
  },
  priority: 'HIGH',
  config: {
    onProgress: (progress, current, total) =>
      console.log(`  batch    ${current}/${total} repositories (${Math.round(progress * 100)}%)`),
  },
});

const batch = (await manager.waitForTask(batchId, { timeout: 60 })) as Array<{
  repo_name: string;
  success: boolean;
  result?: { category: string; maturity: string };
}>;
await manager.onIdle();
const first = await manager.getTaskStatus(ids[0] as string);
const stats = await manager.getStatistics();
await manager.stop();
await simulator.close();

console.log(`\nfirst classification: ${JSON.stringify(first?.result)}`);
for (const item of batch) {
  console.log(
    `batch: ${item.repo_name} → ${item.success ? `${item.result?.category}, ${item.result?.maturity}` : 'failed'}`,
  );
}
const { performance, tokens, cost } = stats;
console.log(
  `\ncompleted ${performance.totalSucceeded}, failed ${performance.totalFailed}, retries ${performance.totalRetries}, success rate ${performance.successRate.toFixed(1)}%`,
);
console.log(`tokens: ${tokens.prompt} prompt + ${tokens.completion} completion`);
console.log(
  `cost: $${cost.total.cost.toFixed(6)} of a $${cost.total.limit} budget (${cost.total.percentage?.toFixed(2)}%, simulated prices)`,
);
console.log(
  `queue time p95 ${performance.p95QueueTime.toFixed(2)} s, execution time p95 ${performance.p95ExecutionTime.toFixed(2)} s`,
);
process.exitCode = performance.totalFailed === 0 ? 0 : 1;
