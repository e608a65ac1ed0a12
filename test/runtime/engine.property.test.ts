import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromTransition } from 'xstate';
import { z } from 'zod';
import { concurrencyTransition } from '../../machines/concurrency.logic.js';
import {
  type RateLimitEvent,
  type RateLimiterState,
  type RateLimitLogic,
  rateLimitTransition,
} from '../../machines/rate-limit.logic.js';
import { isTerminalStatus, type Priority, priorityRank } from '../../machines/task-status.js';
import { BudgetExceededError } from '../../src/errors.js';
import { Engine, type EngineDeps } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import type { TaskTypeDefinition } from '../../src/task-types/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { type Script, ScriptedClient } from '../helpers/scripted-client.js';
import { advance, createClock, flush } from '../helpers/virtual-time.js';

type Step = 'ok' | '5xx' | '429' | 'timeout' | 'invalid';

/** A task type whose answer must be `{"ok":true}`: anything else is an invalid answer. */
const strictType: TaskTypeDefinition<{ key: string; tokens: number }, { ok: true }> = {
  name: 'STRICT',
  input: z.object({ key: z.string(), tokens: z.number().int().positive() }),
  output: z.object({ ok: z.literal(true) }),
  estimate: (data, env) => ({ model: env.model, promptTokens: data.tokens, maxTokens: 50 }),
  run: async (ctx) => {
    const response = await ctx.chat({ messages: [{ role: 'user', content: ctx.data.key }] });
    return JSON.parse(response.content);
  },
};

interface World {
  engine: Engine;
  clock: ReturnType<typeof createClock>;
  client: ScriptedClient;
  events: EngineEvent[];
  plans: Map<string, Step[]>;
  ids: string[];
  violations: string[];
  /** Admissions with the tokens they hold in the windows (reserved, then real usage). */
  admissions: { at: number; taskId: string; tokens: number }[];
  /** Each task's reservation: prompt tokens + max_tokens. */
  reserved: Map<string, number>;
  /** Windows in force, changed by commands. */
  rpm: number;
  tpm: number;
  budgetMicros: number;
  hourlyMicros: number;
  nextKey: number;
  refused: number;
}

function script(plans: Map<string, Step[]>, calls: Map<string, number>) {
  return (request: unknown): Script => {
    const key = (request as { messages: { content: string }[] }).messages[0]?.content ?? '';
    const n = calls.get(key) ?? 0;
    calls.set(key, n + 1);
    const step = plans.get(key)?.[n] ?? 'ok';
    const latencyMs = 50 + ((n * 37) % 200);
    switch (step) {
      case 'ok':
        return {
          kind: 'ok',
          latencyMs,
          content: '{"ok":true}',
          promptTokens: 20,
          completionTokens: 30,
        };
      case 'invalid':
        return {
          kind: 'ok',
          latencyMs,
          content: '{"ok":false}',
          promptTokens: 20,
          completionTokens: 30,
        };
      case '5xx':
        return { kind: 'error', status: 503, latencyMs };
      case '429':
        return { kind: 'error', status: 429, latencyMs, retryAfterMs: 500 };
      case 'timeout':
        return { kind: 'hang' };
    }
  };
}

interface Sabotage {
  concurrency?: boolean;
  window?: boolean;
}

/** The slot pool with an off-by-one: the first slot it hands out is not counted. */
const leakyConcurrency = fromTransition(
  (context: { max: number; used: number }, event: Parameters<typeof concurrencyTransition>[1]) => {
    const next = concurrencyTransition(context, event);
    return event.type === 'slot.acquire' && context.used === 0
      ? { ...next, used: next.used - 1 }
      : next;
  },
  ({ input }: { input: { max: number } }) => ({ max: input.max, used: 0 }),
);

/**
 * The rateLimit actor with an off-by-one: the first reservation it is sent is not recorded, so a
 * window lets one more request through than it allows.
 */
function skippingFirstReserve(): RateLimitLogic {
  let reserves = 0;
  return fromTransition(
    (context: { limiter: RateLimiterState }, event: RateLimitEvent) => {
      if (event.type === 'rate.reserve' && ++reserves === 1) return context;
      return rateLimitTransition(context, event);
    },
    ({ input }: { input: { limiter: RateLimiterState } }) => ({ limiter: input.limiter }),
  );
}

function createWorld(sabotage: Sabotage): World {
  const clock = createClock();
  const plans = new Map<string, Step[]>();
  const client = new ScriptedClient(clock, script(plans, new Map()));
  const overrides: NonNullable<EngineDeps['overrides']> = {};
  if (sabotage.concurrency) overrides.concurrency = leakyConcurrency;
  if (sabotage.window) overrides.rateLimit = skippingFirstReserve();
  const engine = new Engine(
    {
      model: 'gpt-4o-mini',
      maxConcurrent: 3,
      requestsPerMinute: 6,
      tokensPerMinute: 600,
      // Unpaced: whole windows at once, so slots and windows both fill (the sabotages need it).
      pacing: false,
      budgetLimit: 0.00025,
      hourlyLimit: 0.00012,
      maxQueueSize: 1000,
      taskDefaults: {
        maxRetries: 2,
        retryDelay: 0.2,
        maxRetryDelay: 1,
        timeout: 1,
        maxRateLimitRetries: 3,
      },
    },
    { client, clock, random: seededRandom(3), taskTypes: [strictType], overrides },
  );
  const world: World = {
    engine,
    clock,
    client,
    events: [],
    plans,
    ids: [],
    violations: [],
    admissions: [],
    reserved: new Map(),
    rpm: 6,
    tpm: 600,
    budgetMicros: 250,
    hourlyMicros: 120,
    nextKey: 0,
    refused: 0,
  };
  engine.events$.subscribe((event) => {
    world.events.push(event);
    if (event.type === 'task.started') onStarted(world, event.taskId, event.attempt);
    if (event.type === 'task.usage') {
      for (const a of world.admissions) {
        if (a.taskId === event.taskId && a.tokens < 0)
          a.tokens = event.promptTokens + event.completionTokens;
      }
    }
  });
  engine.start();
  return world;
}

/** Checks the limits at the moment a task is admitted, by brute force. */
function onStarted(world: World, taskId: string, attempt: number): void {
  const { engine, clock } = world;
  const now = clock.now();
  const c = engine.concurrency;
  if (engine.runningCount > c.max) {
    world.violations.push(`running ${engine.runningCount} > maxConcurrent ${c.max} at admission`);
  }
  // This admission's reservation: prompt tokens + max_tokens (50). Settled admissions hold their
  // real usage; a marker of -1 stands for "still reserved" until the usage event arrives.
  world.admissions.push({ at: now, taskId, tokens: -1 });
  const inWindow = world.admissions.filter((a) => a.at > now - 60_000);
  if (inWindow.length > world.rpm) {
    world.violations.push(`${inWindow.length} requests in 60 s > ${world.rpm}`);
  }
  const tokens = inWindow.reduce(
    (sum, a) => sum + (a.tokens < 0 ? (world.reserved.get(a.taskId) ?? 0) : a.tokens),
    0,
  );
  if (tokens > world.tpm) world.violations.push(`${tokens} tokens in 60 s > ${world.tpm}`);
  const record = engine.waitingRecords();
  const started = world.events.find((e) => e.type === 'task.submitted' && e.taskId === taskId) as
    | { priority: Priority }
    | undefined;
  if (attempt === 1 && started) {
    const me = world.ids.indexOf(taskId);
    for (const other of record) {
      if (other.status !== 'queued') continue;
      const higher = priorityRank(other.priority) > priorityRank(started.priority);
      const earlier = other.priority === started.priority && world.ids.indexOf(other.id) < me;
      if (higher || earlier) {
        world.violations.push(
          `${taskId} (${started.priority}) started before ${other.id} (${other.priority})`,
        );
      }
    }
  }
}

function checkBudget(world: World): void {
  const now = world.clock.now();
  const ledger = world.engine.budget.ledger;
  const spentNow = ledger.spent(now);
  const spent = spentNow.total;
  const held = ledger.held();
  if (spent + held > world.budgetMicros) {
    world.violations.push(`spent ${spent} + held ${held} > budget ${world.budgetMicros}`);
  }
  if (spentNow.hourly + held > world.hourlyMicros) {
    world.violations.push(`hour spent ${spentNow.hourly} + held ${held} > ${world.hourlyMicros}`);
  }
  const charged = world.events
    .filter((e) => e.type === 'task.usage')
    .reduce((sum, e) => sum + (e as { costMicros: number }).costMicros, 0);
  if (charged !== spent) world.violations.push(`ledger ${spent} != sum of usage ${charged}`);
}

// ─── commands ────────────────────────────────────────────────────────────────────────────────

const stepArb = fc.constantFrom<Step>('ok', 'ok', 'ok', '5xx', '429', 'timeout', 'invalid');
const priorityArb = fc.constantFrom<Priority>('LOW', 'MEDIUM', 'HIGH', 'URGENT');

type Command =
  | { kind: 'submit'; priority: Priority; plan: Step[]; tokens: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'pauseTask'; pick: number }
  | { kind: 'resumeTask'; pick: number }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'concurrency'; value: number }
  | { kind: 'rpm'; value: number }
  | { kind: 'advance'; ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      priority: priorityArb,
      plan: fc.array(stepArb, { maxLength: 4 }),
      tokens: fc.integer({ min: 1, max: 100 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pauseTask' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resumeTask' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('concurrency' as const),
      value: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rpm' as const),
      value: fc.integer({ min: 1, max: 10 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 20_000 }),
    }),
  },
);

async function apply(world: World, command: Command): Promise<void> {
  const { engine } = world;
  const pick = (n: number) => world.ids[n % Math.max(1, world.ids.length)];
  switch (command.kind) {
    case 'submit': {
      const key = `k${world.nextKey++}`;
      world.plans.set(key, command.plan);
      world.reserved.set(key, command.tokens + 50);
      try {
        const id = await engine.submit({
          taskType: 'STRICT',
          data: { key, tokens: command.tokens },
          priority: command.priority,
          id: key,
        });
        world.ids.push(id);
      } catch (error) {
        // The only refusal this workload can meet: the total budget cannot pay the worst case.
        if (!(error instanceof BudgetExceededError)) throw error;
        world.refused++;
      }
      break;
    }
    case 'cancel': {
      const id = pick(command.pick);
      if (id) await engine.cancel(id);
      break;
    }
    case 'pauseTask': {
      const id = pick(command.pick);
      if (id) engine.pauseTask(id);
      break;
    }
    case 'resumeTask': {
      const id = pick(command.pick);
      if (id) engine.resumeTask(id);
      break;
    }
    case 'pause':
      engine.pause();
      break;
    case 'resume':
      engine.resume();
      break;
    case 'concurrency':
      engine.adjustSettings({ maxConcurrent: command.value });
      break;
    case 'rpm':
      world.rpm = command.value;
      engine.adjustSettings({ requestsPerMinute: command.value });
      break;
    case 'advance':
      await advance(world.clock, command.ms, 50);
      break;
  }
  await flush();
  checkBudget(world);
}

async function runScenario(commands: Command[], sabotage: Sabotage = {}): Promise<World> {
  const world = createWorld(sabotage);
  for (const command of commands) await apply(world, command);
  // Let everything finish: resume the queue and every paused task, then run time forward.
  world.engine.resume();
  for (const id of world.ids) world.engine.resumeTask(id);
  for (
    let i = 0;
    i < 2000 && (world.engine.waitingCount > 0 || world.engine.runningCount > 0);
    i++
  ) {
    const wakeAt = world.engine.nextWakeAt;
    if (world.engine.runningCount === 0 && wakeAt !== undefined) {
      // Nothing runs: jump straight to the supervisor's next wake-up (a window, an hour, a retry).
      await advance(
        world.clock,
        Math.max(1, wakeAt - world.clock.now()),
        Math.max(1, wakeAt - world.clock.now()),
      );
    } else {
      await advance(world.clock, 2000, 50);
    }
  }
  checkBudget(world);
  return world;
}

function assertSound(world: World): void {
  expect(world.violations).toEqual([]);
  const terminal = new Map<string, number>();
  for (const e of world.events) {
    if (e.type === 'task.completed' || e.type === 'task.failed' || e.type === 'task.cancelled') {
      terminal.set(e.taskId, (terminal.get(e.taskId) ?? 0) + 1);
    }
  }
  for (const id of world.ids) {
    expect(terminal.get(id), `task ${id} ended exactly once`).toBe(1);
  }
}

describe('engine guarantees (model-based, virtual time)', () => {
  it('holds every limit after every step, and every task ends exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 40 }), async (commands) => {
        const world = await runScenario(commands);
        assertSound(world);
        for (const id of world.ids) {
          const record = await world.engine.getTask(id);
          expect(record && isTerminalStatus(record.status)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

describe('the property catches a broken limiter', () => {
  const property = (sabotage: Sabotage) =>
    fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 40 }), async (commands) => {
      const world = await runScenario(commands, sabotage);
      if (world.violations.length > 0) throw new Error(world.violations.join('; '));
    });

  it('fails against a slot pool with an off-by-one', async () => {
    const result = await fc.check(property({ concurrency: true }), { numRuns: 200, seed: 1 });
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/> maxConcurrent/);
  }, 120_000);

  it('fails against a window check with an off-by-one', async () => {
    const result = await fc.check(property({ window: true }), { numRuns: 200, seed: 1 });
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/requests in 60 s > /);
  }, 120_000);
});

describe('the scenarios exercise the whole lifecycle', () => {
  it('sees retries, 429s, timeouts, invalid answers, cancellations and pauses', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 20, maxLength: 40 }), async (commands) => {
        const world = await runScenario(commands);
        for (const e of world.events) {
          seen.add(e.type);
          if (e.type === 'task.retrying') seen.add(`retry:${e.error.code}:${e.error.status ?? ''}`);
          if (e.type === 'task.failed') seen.add(`failed:${e.error?.code}`);
        }
        if (world.refused > 0) seen.add('budget:refused');
      }),
      { numRuns: 30, seed: 42 },
    );
    for (const kind of [
      'task.completed',
      'task.failed',
      'task.cancelled',
      'task.paused',
      'task.resumed',
      'retry:PROVIDER_ERROR:503',
      'retry:PROVIDER_ERROR:429',
      'retry:TASK_TIMEOUT:',
      'retry:INVALID_ANSWER:',
      'failed:BUDGET_EXCEEDED',
    ]) {
      expect([...seen].sort(), kind).toContain(kind);
    }
  }, 120_000);
});
