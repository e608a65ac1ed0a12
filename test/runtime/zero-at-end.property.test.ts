import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AnyActorLogic, AnyActorRef } from 'xstate';
import { budgetLogic } from '../../machines/budget.logic.js';
import { type ConcurrencyContext, concurrencyLogic } from '../../machines/concurrency.logic.js';
import { rateLimitLogic } from '../../machines/rate-limit.logic.js';
import type { Priority } from '../../machines/task-status.js';
import type { AdjustableSettings } from '../../src/config/engine-options.js';
import { BudgetExceededError } from '../../src/errors.js';
import type { RateLimiter } from '../../src/limits/rate-limiter.js';
import { Engine, type EngineDeps } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { seededRandom } from '../../src/time/clock.js';
import { type Script, ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType, fanOutTaskType } from '../helpers/task-types.js';
import { advance, createClock, flush } from '../helpers/virtual-time.js';

/**
 * After any workload has ended, everything the engine took is back: no slot in use, no rate
 * reservation left unreconciled, no money held, no live task actor, and every task ended exactly
 * once. Run on virtual time, then against test-only faulty limiter logic supplied through the
 * engine's `overrides` seam, which the same property must catch.
 */

// ─── what a call does ────────────────────────────────────────────────────────────────────────

/** One attempt's call: an answer, a 5xx, a 429 with retry-after, a 400, or no answer (timeout). */
type Step = 'ok' | '5xx' | '429' | 'fatal' | 'hang';

interface Plan {
  steps: Step[];
  latencyMs: number;
  /** Completion tokens of an answer (real usage, reconciled against the reservation). */
  completion: number;
}

function scriptOf(plans: Map<string, Plan>, calls: Map<string, number>) {
  return (request: unknown): Script => {
    const key = (request as { messages: { content: string }[] }).messages[0]?.content ?? '';
    const n = calls.get(key) ?? 0;
    calls.set(key, n + 1);
    const plan = plans.get(key);
    const latencyMs = plan?.latencyMs ?? 10;
    switch (plan?.steps[n] ?? 'ok') {
      case 'ok':
        return {
          kind: 'ok',
          latencyMs,
          promptTokens: 20,
          completionTokens: plan?.completion ?? 5,
        };
      case '5xx':
        return { kind: 'error', status: 503, latencyMs };
      case '429':
        return { kind: 'error', status: 429, latencyMs, retryAfterMs: 300 };
      case 'fatal':
        return { kind: 'error', status: 400, latencyMs };
      case 'hang':
        return { kind: 'hang' };
    }
  };
}

// ─── test-only faulty logic, supplied through EngineDeps.overrides ───────────────────────────

/**
 * A resource actor's own logic that drops every `n`th event of one type: the event reaches the
 * actor and changes nothing (a release, reconcile or commit that is lost).
 */
function droppingEveryNth<L extends AnyActorLogic>(logic: L, type: string, n: number): L {
  let seen = 0;
  return {
    ...logic,
    transition: (snapshot, event, scope) =>
      event.type === type && ++seen % n === 0 ? snapshot : logic.transition(snapshot, event, scope),
  };
}

type Sabotage = 'none' | 'slot-release' | 'rate-reconcile' | 'budget-commit';

function overridesFor(sabotage: Sabotage): NonNullable<EngineDeps['overrides']> {
  switch (sabotage) {
    case 'none':
      return {};
    case 'slot-release':
      return { concurrency: droppingEveryNth(concurrencyLogic, 'slot.release', 7) };
    case 'rate-reconcile':
      return { rateLimit: droppingEveryNth(rateLimitLogic, 'rate.reconcile', 7) };
    case 'budget-commit':
      return { budget: droppingEveryNth(budgetLogic, 'budget.commit', 5) };
  }
}

// ─── reads of what is taken ──────────────────────────────────────────────────────────────────

/** Reservations the rate limiter still holds. */
function openReservations(limiter: RateLimiter): number {
  return limiter.openReservations;
}

/**
 * The concurrency actor's context, kept up to date from its snapshots while the engine runs, so
 * that it can still be read once `stop()` has stopped the actor system.
 */
function watchConcurrency(engine: Engine): { context: ConcurrencyContext } {
  const ref = engine.supervisor.system.get('concurrency') as AnyActorRef | undefined;
  if (ref === undefined) throw new Error('no concurrency actor');
  const seen = { context: ref.getSnapshot().context as ConcurrencyContext };
  ref.subscribe((snapshot: { context?: ConcurrencyContext }) => {
    if (snapshot.context !== undefined) seen.context = snapshot.context;
  });
  return seen;
}

// ─── workloads ───────────────────────────────────────────────────────────────────────────────

type Command =
  | { kind: 'echo'; priority: Priority; plan: Plan; tokens: number }
  | { kind: 'fanOut'; priority: Priority; plans: Plan[] }
  /** One of the engine's controls of a single task, on a task picked among those submitted. */
  | { kind: 'task'; control: 'cancel' | 'pauseTask' | 'resumeTask'; pick: number }
  | { kind: 'queue'; control: 'pause' | 'resume' }
  | { kind: 'adjust'; changes: AdjustableSettings }
  | { kind: 'advance'; ms: number };

const stepArb = fc.constantFrom<Step>('ok', 'ok', 'ok', '5xx', '429', 'fatal', 'hang');
const priorityArb = fc.constantFrom<Priority>('LOW', 'MEDIUM', 'HIGH', 'URGENT');
const planArb: fc.Arbitrary<Plan> = fc.record({
  steps: fc.array(stepArb, { maxLength: 3 }),
  latencyMs: fc.integer({ min: 0, max: 400 }),
  completion: fc.integer({ min: 0, max: 100 }),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('echo' as const),
      priority: priorityArb,
      plan: planArb,
      tokens: fc.integer({ min: 1, max: 100 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fanOut' as const),
      priority: priorityArb,
      plans: fc.array(planArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('task' as const),
      control: fc.constantFrom('cancel' as const, 'pauseTask' as const, 'resumeTask' as const),
      pick: fc.nat(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('queue' as const),
      control: fc.constantFrom('pause' as const, 'pause' as const, 'resume' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      changes: fc.oneof(
        fc.record({ maxConcurrent: fc.integer({ min: 1, max: 4 }) }),
        fc.record({ requestsPerMinute: fc.integer({ min: 1, max: 30 }) }),
        // A worst case holds ~63 micro-dollars: the lowest limit leaves room for none.
        fc.record({ budgetLimit: fc.constantFrom(0.00005, 0.0003, 0.001) }),
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 3_000 }),
    }),
  },
);

const workloadArb = fc.array(commandArb, { minLength: 1, maxLength: 40, size: 'medium' });

// ─── one run ─────────────────────────────────────────────────────────────────────────────────

interface World {
  engine: Engine;
  clock: ReturnType<typeof createClock>;
  events: EngineEvent[];
  plans: Map<string, Plan>;
  /** Every task submitted, children included, from `task.submitted`. */
  ids: string[];
  nextKey: number;
  concurrency: { context: ConcurrencyContext };
}

function createWorld(sabotage: Sabotage): World {
  const clock = createClock();
  const plans = new Map<string, Plan>();
  const client = new ScriptedClient(clock, scriptOf(plans, new Map()));
  const engine = new Engine(
    {
      model: 'gpt-4o-mini',
      maxConcurrent: 2,
      maxTokens: 100,
      requestsPerMinute: 20,
      tokensPerMinute: 4_000,
      budgetLimit: 0.001,
      taskDefaults: {
        maxRetries: 2,
        retryDelay: 0.2,
        maxRetryDelay: 1,
        timeout: 1,
        maxRateLimitRetries: 2,
      },
    },
    {
      client,
      clock,
      random: seededRandom(5),
      taskTypes: [echoTaskType, fanOutTaskType],
      overrides: overridesFor(sabotage),
    },
  );
  const events: EngineEvent[] = [];
  const ids: string[] = [];
  engine.events$.subscribe((event) => {
    events.push(event);
    if (event.type === 'task.submitted') ids.push(event.taskId);
  });
  engine.start();
  return {
    engine,
    clock,
    events,
    plans,
    ids,
    nextKey: 0,
    concurrency: watchConcurrency(engine),
  };
}

async function apply(world: World, command: Command): Promise<void> {
  const { engine } = world;
  try {
    switch (command.kind) {
      case 'echo': {
        const key = `k${world.nextKey++}`;
        world.plans.set(key, command.plan);
        await engine.submit({
          taskType: 'ECHO',
          data: { prompt: key, tokens: command.tokens },
          priority: command.priority,
        });
        break;
      }
      case 'fanOut': {
        const prompts = command.plans.map((plan) => {
          const key = `k${world.nextKey++}`;
          world.plans.set(key, plan);
          return key;
        });
        await engine.submit({ taskType: 'FAN_OUT', data: { prompts }, priority: command.priority });
        break;
      }
      case 'task': {
        const id = world.ids[command.pick % Math.max(1, world.ids.length)];
        if (id !== undefined) await engine[command.control](id);
        break;
      }
      case 'queue':
        engine[command.control]();
        break;
      case 'adjust':
        engine.adjustSettings(command.changes);
        break;
      case 'advance':
        await advance(world.clock, command.ms, 50);
        break;
    }
  } catch (error) {
    // The one refusal this workload can meet: a budget that can no longer pay a worst case.
    if (!(error instanceof BudgetExceededError)) throw error;
  }
  await flush();
}

/** Runs the workload, then lets everything end: the queue and every paused task resumed. */
async function run(commands: readonly Command[], sabotage: Sabotage): Promise<World> {
  const world = createWorld(sabotage);
  for (const command of commands) await apply(world, command);
  const { engine, clock } = world;
  engine.resume();
  for (const id of world.ids) engine.resumeTask(id);
  for (
    let i = 0;
    i < 500 && (engine.waitingCount > 0 || engine.runningCount > 0 || engine.liveActorCount > 0);
    i++
  ) {
    const wakeAt = engine.nextWakeAt;
    if (engine.runningCount === 0 && wakeAt !== undefined && wakeAt > clock.now()) {
      // Nothing runs: jump to the supervisor's next wake-up (a window, a retry, a server's wait).
      const ms = wakeAt - clock.now();
      await advance(clock, ms, ms);
    } else {
      await advance(clock, 1_000, 50);
    }
  }
  await flush();
  return world;
}

/** What is still taken after the run, and tasks that did not end exactly once. */
function leftovers(world: World, stopped = false): string[] {
  const { engine } = world;
  const out: string[] = [];
  const used = world.concurrency.context.used;
  if (used !== 0) out.push(`concurrency used ${used}`);
  if (engine.runningCount !== 0) out.push(`runningCount ${engine.runningCount}`);
  const reserved = openReservations(engine.rateLimiter);
  if (reserved !== 0) out.push(`${reserved} rate reservations not reconciled`);
  const held = engine.budget.ledger.held();
  if (held !== 0) out.push(`budget held ${held}`);
  const ends = new Map<string, number>();
  for (const e of world.events) {
    if (e.type === 'task.completed' || e.type === 'task.failed' || e.type === 'task.cancelled') {
      ends.set(e.taskId, (ends.get(e.taskId) ?? 0) + 1);
    }
  }
  let notEnded = 0;
  for (const id of world.ids) {
    const n = ends.get(id) ?? 0;
    if (n === 0) notEnded++;
    // A stop sets waiting tasks aside (for a later run): they end zero times.
    if (n > 1 || (n === 0 && !stopped)) out.push(`task ${id} ended ${n} times`);
  }
  if (engine.waitingCount !== notEnded) {
    out.push(`waiting ${engine.waitingCount}, tasks not ended ${notEnded}`);
  }
  // After a stop too: a task set aside while it waited to retry keeps its state in its record.
  if (engine.liveActorCount !== 0) {
    out.push(`live task actors ${engine.liveActorCount}`);
  }
  return out;
}

const property = (sabotage: Sabotage) =>
  fc.asyncProperty(workloadArb, async (commands) => {
    const world = await run(commands, sabotage);
    const left = leftovers(world);
    await world.engine.stop({ force: true });
    if (left.length > 0) throw new Error(left.join('; '));
  });

/** The workload cut at any command by `stop()`, drained or forced; time runs until it resolves. */
const stopProperty = (sabotage: Sabotage) =>
  fc.asyncProperty(workloadArb, fc.boolean(), fc.nat(), async (commands, force, at) => {
    const world = createWorld(sabotage);
    for (const command of commands.slice(0, at % (commands.length + 1))) {
      await apply(world, command);
    }
    let stopped = false;
    void world.engine.stop({ force }).then(() => {
      stopped = true;
    });
    // A drained stop cancels a child that pauseTask held, so its running parent can end. The
    // children of running parents still drain through the windows in force (one request a
    // minute lets a few of them take several minutes): up to 20 virtual minutes.
    for (let i = 0; i < 120 && !stopped; i++) await advance(world.clock, 10_000, 100);
    const left = leftovers(world, true);
    if (!stopped) left.push('stop() did not resolve');
    if (left.length > 0) throw new Error(left.join('; '));
  });

describe('everything taken is back at zero after any workload (virtual time)', () => {
  it('slots, rate reservations, budget holds and task actors; each task ends once', async () => {
    await fc.assert(property('none'), { numRuns: 200 });
  }, 60_000);

  it('and after stop() at any point, drained or forced: waiting tasks are set aside', async () => {
    await fc.assert(stopProperty('none'), { numRuns: 150 });
  }, 60_000);

  it('the workloads reach the states that take and give back', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(workloadArb, async (commands) => {
        const world = await run(commands, 'none');
        for (const e of world.events) {
          if (e.type === 'task.failed') seen.add(`failed:${e.error?.code}`);
          else seen.add(e.type);
        }
        await world.engine.stop({ force: true });
      }),
      { numRuns: 60, seed: 1 },
    );
    const wanted = ['task.completed', 'task.cancelled', 'task.retrying', 'task.paused'];
    wanted.push('task.resumed', 'failed:PROVIDER_ERROR', 'failed:BUDGET_EXCEEDED');
    expect([...seen]).toEqual(expect.arrayContaining(wanted));
  }, 60_000);
});

describe('the property catches faulty limiter logic (supplied through overrides)', () => {
  it.each([
    ['a slot pool that drops every 7th slot.release', 'slot-release', /concurrency used [1-9]/],
    [
      'a rate limiter that forgets every 7th reconcile',
      'rate-reconcile',
      /rate reservations not reconciled/,
    ],
    ['a budget that forgets every 5th commit', 'budget-commit', /budget held [1-9]/],
  ] as const)(
    '%s',
    async (_name, sabotage, message) => {
      const result = await fc.check(property(sabotage), { numRuns: 100, seed: 1 });
      expect(result.failed).toBe(true);
      expect(String(result.errorInstance)).toMatch(message);
    },
    60_000,
  );
});
