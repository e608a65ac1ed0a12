/**
 * A virtual-time soak of the limits (issue 15): hours of traffic on a simulated clock — steady
 * submissions and bursts, a provider with its own window that answers 429 with `retry-after`,
 * 5 % of calls failing with a 500, the settings changed every hour (slots, windows, pacing,
 * hourly and daily budgets), budgets counted in a non-UTC zone across midnight — with every
 * guarantee checked as it happens, in O(1) per event:
 *
 * - a task starts only with a free slot;
 * - the server never sees more requests in a window than the queue's window in force allows
 *   (sends counted by their send time, as the server does);
 * - spent + held never exceeds a budget in force when a task starts;
 * - every task ends exactly once, and none is left waiting at the end.
 *
 * ```bash
 * npm run bench:soak -- [--hours 24] [--tasks-per-hour 4000] [--seed 1]
 * ```
 *
 * `test/soak.test.ts` runs an hour of it in `npm test`. Exits 1 when a guarantee broke.
 */
import { pathToFileURL } from 'node:url';
import { SimulatedClock } from 'xstate';
import { z } from 'zod';
import type { AdjustableSettings } from '../src/config/engine-options.js';
import { ProviderError, providerErrorFor } from '../src/errors.js';
import type { AIClient, CallOptions, ChatRequest, ChatResponse } from '../src/providers/types.js';
import { Engine } from '../src/runtime/engine.js';
import type { TaskTypeDefinition } from '../src/task-types/types.js';
import { type RandomSource, seededRandom } from '../src/time/clock.js';
import { parseArgs } from './fixtures.js';

const HOUR = 3_600_000;
const WINDOW_MS = 60_000;
const MAX_TOKENS = 100;
/** The provider's own limit: requests per second. */
const SERVER_LIMIT = 40;

export interface SoakOptions {
  hours: number;
  tasksPerHour: number;
  seed: number;
}

export interface SoakReport {
  tasks: number;
  completed: number;
  failed: number;
  refused429: number;
  failed500: number;
  /** Settings changes applied. */
  changes: number;
  /** Guarantees that broke, each said once with the first time it broke. */
  violations: string[];
  wallMs: number;
}

/** One chat call per task, its prompt tokens as given. */
const soakType: TaskTypeDefinition<{ tokens: number }, string> = {
  name: 'SOAK',
  input: z.object({ tokens: z.number().int().positive() }),
  output: z.string(),
  estimate: (data, env) => ({ model: env.model, promptTokens: data.tokens, maxTokens: MAX_TOKENS }),
  run: async (ctx) => (await ctx.chat({ messages: [{ role: 'user', content: 'x' }] })).content,
};

/**
 * A provider on the simulated clock: a sliding window of `SERVER_LIMIT` requests a second
 * (429 with `retry-after` beyond it), 5 % of calls failing with a 500, latency 50–2,000 ms, and
 * a record of when each request was sent.
 */
class SoakProvider implements AIClient {
  readonly sent: number[] = [];
  private readonly arrivals: number[] = [];
  private head = 0;
  refused = 0;
  failed = 0;
  /** Called with each send's time (the soak counts the queue's windows from it). */
  onSent: (at: number) => void = () => undefined;

  constructor(
    private readonly clock: SimulatedClock,
    private readonly random: RandomSource,
  ) {}

  chat(request: ChatRequest, options: CallOptions): Promise<ChatResponse> {
    options.onSend?.();
    const now = this.clock.now();
    this.onSent(now);
    while (
      this.head < this.arrivals.length &&
      (this.arrivals[this.head] as number) + 1_000 <= now
    ) {
      this.head++;
    }
    if (this.head > 4_096) {
      this.arrivals.splice(0, this.head);
      this.head = 0;
    }
    if (this.arrivals.length - this.head >= SERVER_LIMIT) {
      this.refused++;
      const retryAfterMs = (this.arrivals[this.head] as number) + 1_000 - now;
      return this.later(5, options, () => {
        throw providerErrorFor('429 rate limited', { status: 429, retryAfterMs });
      });
    }
    this.arrivals.push(now);
    if (this.random() < 0.05) {
      this.failed++;
      return this.later(20, options, () => {
        throw providerErrorFor('500 server error', { status: 500 });
      });
    }
    const promptTokens = 10 + Math.floor(this.random() * 400);
    const completionTokens = 1 + Math.floor(this.random() * MAX_TOKENS);
    return this.later(50 + Math.floor(this.random() * 1_950), options, () => ({
      content: 'ok',
      finishReason: 'stop',
      model: request.model,
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
    }));
  }

  embed(): Promise<never> {
    return Promise.reject(new ProviderError('no embeddings here', { retryable: false }));
  }

  private later<T>(ms: number, options: CallOptions, answer: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.clock.clearTimeout(timer);
        reject(new ProviderError('Request was aborted.', { retryable: true }));
      };
      const timer = this.clock.setTimeout(() => {
        options.signal.removeEventListener('abort', onAbort);
        try {
          resolve(answer());
        } catch (error) {
          reject(error);
        }
      }, ms);
      options.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The sends in the last `windowMs`, counted in O(1) amortised per send. */
class SendWindow {
  private readonly times: number[] = [];
  private head = 0;
  count(at: number, windowMs: number): number {
    this.times.push(at);
    while ((this.times[this.head] as number) + windowMs <= at) this.head++;
    if (this.head > 65_536) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
}

/** The settings for hour `h`: drawn from the seeded source, every key the soak varies. */
function settingsFor(random: RandomSource): AdjustableSettings & { requestsPerMinute: number } {
  return {
    maxConcurrent: 5 + Math.floor(random() * 45),
    requestsPerMinute: 60 + Math.floor(random() * 2_400),
    tokensPerMinute: 200_000 + Math.floor(random() * 800_000),
    pacing: random() < 0.5 ? 'auto' : false,
    hourlyLimit: 0.05 + random() * 0.3,
    dailyLimit: 2 + random() * 4,
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const wallStart = performance.now();
  const random = seededRandom(options.seed);
  const clock = new SimulatedClock();
  // 18:00 in New York: the budget's day rolls over six hours in.
  clock.set(Date.UTC(2026, 2, 7, 23, 0, 0));
  const provider = new SoakProvider(clock, seededRandom(options.seed + 1));
  let settings = settingsFor(random);
  const engine = new Engine(
    {
      ...settings,
      budgetTimeZone: 'America/New_York',
      maxQueueSize: 10_000_000,
      windowMarginMs: 0,
      taskDefaults: { maxRetries: 3, retryDelay: 1, maxRateLimitRetries: 50, timeout: 30 },
    },
    { client: provider, clock, random: seededRandom(options.seed + 2), taskTypes: [soakType] },
  );
  const violations = new Map<string, number>();
  const violate = (what: string) => {
    if (!violations.has(what)) violations.set(what, clock.now());
  };
  const window = new SendWindow();
  provider.onSent = (at) => {
    const count = window.count(at, WINDOW_MS);
    if (count > settings.requestsPerMinute) {
      violate(`${count} requests sent in ${WINDOW_MS} ms > ${settings.requestsPerMinute}`);
    }
  };
  const ended = new Map<string, number>();
  let completed = 0;
  let failed = 0;
  engine.events$.subscribe((event) => {
    if (event.type === 'task.started') {
      if (engine.runningCount > engine.concurrency.max) {
        violate(`running ${engine.runningCount} > maxConcurrent ${engine.concurrency.max}`);
      }
      const now = clock.now();
      const ledger = engine.budget.ledger;
      const spent = ledger.spent(now);
      const held = ledger.held();
      if (spent.hourly + held > Math.ceil((settings.hourlyLimit as number) * 1e6)) {
        violate(`hour: spent ${spent.hourly} + held ${held} > ${settings.hourlyLimit}`);
      }
      if (spent.daily + held > Math.ceil((settings.dailyLimit as number) * 1e6)) {
        violate(`day: spent ${spent.daily} + held ${held} > ${settings.dailyLimit}`);
      }
    }
    if (event.type === 'task.completed' || event.type === 'task.failed') {
      const n = (ended.get(event.taskId) ?? 0) + 1;
      ended.set(event.taskId, n);
      if (n > 1) violate(`task ${event.taskId} ended twice`);
      if (event.type === 'task.completed') completed++;
      else failed++;
    }
  });
  engine.start();

  let submitted = 0;
  let changes = 0;
  const stepMs = 1_000;
  const steps = (options.hours * HOUR) / stepMs;
  const steady = options.tasksPerHour / 2 / (HOUR / stepMs);
  let owed = 0;
  for (let step = 0; step < steps; step++) {
    const now = step * stepMs;
    if (now > 0 && now % HOUR === 0) {
      settings = settingsFor(random);
      engine.adjustSettings(settings);
      changes++;
    }
    // Half the traffic steady, half in bursts every 15 minutes.
    owed += steady;
    let n = Math.floor(owed);
    owed -= n;
    if (now % (HOUR / 4) === 0) n += Math.floor(options.tasksPerHour / 8);
    if (n > 0) {
      const inputs = Array.from({ length: n }, () => ({
        taskType: 'SOAK',
        data: { tokens: 50 + Math.floor(random() * 450) },
      }));
      submitted += (await engine.submitMany(inputs)).length;
    }
    clock.increment(stepMs);
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
  // Drain: no new work; the budgets and windows let the rest through within a day at most.
  settings = { ...settings, hourlyLimit: 1e6, dailyLimit: 1e6, requestsPerMinute: 6_000 };
  engine.adjustSettings(settings);
  for (let i = 0; i < 24 * 3_600 && ended.size < submitted; i++) {
    clock.increment(stepMs);
    for (let k = 0; k < 20; k++) await Promise.resolve();
  }
  if (ended.size < submitted) violate(`${submitted - ended.size} tasks never ended`);
  await engine.stop({ force: true });
  return {
    tasks: submitted,
    completed,
    failed,
    refused429: provider.refused,
    failed500: provider.failed,
    changes,
    violations: [...violations].map(([what, at]) => `${new Date(at).toISOString()}: ${what}`),
    wallMs: performance.now() - wallStart,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const report = await runSoak({
    hours: Number(args.get('hours') ?? 24),
    tasksPerHour: Number(args.get('tasks-per-hour') ?? 4_000),
    seed: Number(args.get('seed') ?? 1),
  });
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.violations.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
