/**
 * `submitBatch` of the built-in `TEXT_CLASSIFICATION` through the public manager, as users call
 * it: a 40-character text and 3 categories per task, the tasks only submitted (the queue is
 * paused, so no call runs): what validation, the estimate (tokenizer, answer schema) and the
 * waiting line cost per task. Run with `npm run bench:submit`. Options: `--tasks N` (default
 * 20,000), `--rounds N` (default 5; the median is reported).
 */
import { AITaskManager } from '../src/manager.js';
import { TaskType } from '../src/task-types/builtin/index.js';
import { median, parseArgs } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const TASKS = Number(args.get('tasks') ?? 20_000);
const ROUNDS = Number(args.get('rounds') ?? 5);
const gc = (globalThis as { gc?: () => void }).gc;

const refuse = async (): Promise<never> => {
  throw new Error('the benchmark makes no call');
};

function batch(round: number) {
  return Array.from({ length: TASKS }, (_, i) => ({
    taskType: TaskType.TEXT_CLASSIFICATION,
    data: {
      text: `a forty character text, round ${round}, item ${String(i).padStart(6, '0')}`.slice(
        0,
        40,
      ),
      categories: ['web', 'data', 'ml'],
    },
  }));
}

async function round(n: number): Promise<number> {
  const manager = new AITaskManager({
    aiClient: { chat: refuse, embed: refuse },
    maxQueueSize: TASKS + 1,
  });
  manager.pause();
  await manager.start();
  const tasks = batch(n);
  gc?.();
  const start = performance.now();
  await manager.submitBatch(tasks);
  const seconds = (performance.now() - start) / 1000;
  await manager.stop({ force: true });
  return TASKS / seconds;
}

await round(-1); // warm-up: modules, the tokenizer's tables, JIT
const rates: number[] = [];
for (let i = 0; i < ROUNDS; i++) rates.push(await round(i));
console.log(
  `submitBatch TEXT_CLASSIFICATION, ${TASKS.toLocaleString('en-US')} tasks, ${ROUNDS} rounds: ` +
    `median ${Math.round(median(rates)).toLocaleString('en-US')} tasks/s ` +
    `(${rates.map((r) => Math.round(r).toLocaleString('en-US')).join(', ')})`,
);
