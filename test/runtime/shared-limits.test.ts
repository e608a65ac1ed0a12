/**
 * Admission with limits shared with other processes, on virtual time, against a fake of the
 * contract whose answers the test gives: the line waits for each answer (nothing overtakes the
 * head), a refusal holds the head until its time, a take whose task went meanwhile is given back,
 * a budget that no process can pay fails the task, every attempt's take is settled with its cost,
 * and a shared limiter that does not answer is reported and asked again.
 */

import { describe, expect, it } from 'vitest';
import type { SimulatedClock } from 'xstate';
import type {
  SharedLimits,
  SharedLimitsConfig,
  SharedTake,
  SharedVerdict,
} from '../../src/limits/shared.js';
import type { RateLimitHintsData } from '../../src/limits/types.js';
import { Engine } from '../../src/runtime/engine.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { seededRandom } from '../../src/time/clock.js';
import { type Script, ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, createClock, flush } from '../helpers/virtual-time.js';

interface Asked {
  take: SharedTake;
  config: SharedLimitsConfig;
  answer(verdict: SharedVerdict | Error): void;
}

/** Shared limits whose every answer the test gives, in order. */
class FakeShared implements SharedLimits {
  readonly asked: Asked[] = [];
  readonly settled: Array<[string, number]> = [];
  readonly released: string[] = [];

  take(take: SharedTake, config: SharedLimitsConfig): Promise<SharedVerdict> {
    return new Promise((resolve, reject) => {
      this.asked.push({
        take,
        config,
        answer: (v) => (v instanceof Error ? reject(v) : resolve(v)),
      });
    });
  }

  /** Settles that fail before one succeeds (Redis gone for a while). */
  failSettles = 0;

  async settle(take: string, actualMicros: number): Promise<void> {
    if (this.failSettles > 0) {
      this.failSettles -= 1;
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    }
    this.settled.push([take, actualMicros]);
  }

  async release(take: string): Promise<void> {
    this.released.push(take);
  }

  readonly hints: Array<[string, RateLimitHintsData]> = [];

  async hint(model: string, hints: RateLimitHintsData): Promise<void> {
    this.hints.push([model, hints]);
  }

  /** Answers the latest question. */
  answer(verdict: SharedVerdict | Error): void {
    const last = this.asked[this.asked.length - 1];
    if (last === undefined) throw new Error('nothing was asked');
    last.answer(verdict);
  }
}

function promptOf(request: unknown): string {
  return String((request as { messages: { content: string }[] }).messages[0]?.content);
}

/** Shared limits that answer several takes at once: each question is a batch the test answers. */
class FakeSharedMany extends FakeShared {
  readonly batches: { ids: string[]; answer(verdicts: SharedVerdict[]): void }[] = [];

  takeMany(takes: readonly { take: SharedTake; config: SharedLimitsConfig }[]) {
    return new Promise<SharedVerdict[]>((resolve) => {
      this.batches.push({ ids: takes.map((t) => t.take.taskId), answer: resolve });
    });
  }

  /** Answers the latest batch. */
  answerMany(verdicts: SharedVerdict[]): void {
    this.batches[this.batches.length - 1]?.answer(verdicts);
  }
}

function setUp(script?: (request: unknown) => Script, shared = new FakeShared()) {
  const clock: SimulatedClock = createClock();
  const client = new ScriptedClient(
    clock,
    script ??
      ((request) => ({
        kind: 'ok',
        latencyMs: 10,
        content: `answer to ${promptOf(request)}`,
        promptTokens: 10,
        completionTokens: 5,
      })),
  );
  const engine = new Engine(
    {
      model: 'm',
      maxConcurrent: 5,
      budgetLimit: 100,
      prices: { m: { input: 1, output: 2 } },
      taskDefaults: { maxTokens: 100, maxRetries: 1, retryDelay: 1 },
      windows: [{ requests: 100, windowMs: 1000 }],
      modelLimits: { m: { tokensPerMinute: 50_000 } },
    },
    { client, clock, random: seededRandom(1), taskTypes: [echoTaskType], sharedLimits: shared },
  );
  const events: EngineEvent[] = [];
  engine.events$.subscribe((e) => events.push(e));
  engine.start();
  const submit = (prompt: string) => engine.submit({ taskType: 'ECHO', data: { prompt } });
  const prompts = () => client.log.map((c) => promptOf(c.request));
  return { clock, engine, shared, events, submit, prompts };
}

/** Three tasks in line when admission looks (submitted while paused): one question asks for all. */
async function threeInOneQuestion() {
  const many = new FakeSharedMany();
  const set = setUp(undefined, many);
  set.engine.pause();
  const ids = [await set.submit('a'), await set.submit('b'), await set.submit('c')];
  set.engine.resume();
  await flush();
  expect(many.batches[0]?.ids).toEqual(ids);
  return { ...set, many, ids };
}

describe('admission with shared limits', () => {
  it('waits for each answer: nothing behind the head starts meanwhile, in order', async () => {
    const { clock, engine, shared, submit, prompts } = setUp();
    const a = await submit('a');
    await submit('b');
    await flush();
    expect(shared.asked.map((q) => q.take.taskId)).toEqual([a]);
    const [first] = shared.asked;
    expect(first?.take).toMatchObject({ model: 'm', tokens: 110, micros: 10 * 1 + 100 * 2 });
    expect(first?.config.windows).toEqual([
      { scope: '*', kind: 'requests', limit: 100, windowMs: 1000 },
      { scope: 'm', kind: 'tokens', limit: 50_000, windowMs: 60_000 },
    ]);
    expect(first?.config.budgets).toEqual({ total: 100_000_000 });
    await advance(clock, 100, 10);
    expect(prompts()).toEqual([]);
    shared.answer({ ok: true, take: 'take-a' });
    await flush();
    expect(shared.asked).toHaveLength(2);
    shared.answer({ ok: true, take: 'take-b' });
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a', 'b']);
    // Each attempt's take is settled with what its call cost: 10 × 1 + 5 × 2 µ$.
    expect(shared.settled).toEqual([
      ['take-a', 20],
      ['take-b', 20],
    ]);
    await engine.stop();
  });

  it('asks for the tasks behind the head in the same question, one per free slot', async () => {
    const many = new FakeSharedMany();
    const { clock, engine, submit, prompts } = setUp(undefined, many);
    // Submitted while the queue is paused: all in line when admission looks.
    engine.pause();
    const ids: string[] = [];
    for (const p of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) ids.push(await submit(p));
    engine.resume();
    await flush();
    // Five slots: the first five, in order, in one question.
    expect(many.batches.map((b) => b.ids)).toEqual([ids.slice(0, 5)]);
    // Two taken, the third refused: the ones behind it were not asked, and wait with it.
    many.answerMany([
      { ok: true, take: 'ta' },
      { ok: true, take: 'tb' },
      { ok: false, waitingFor: 'rateLimit', retryAt: clock.now() + 500 },
    ]);
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a', 'b']);
    expect(many.batches).toHaveLength(1);
    expect(engine.headWait()).toMatchObject({ taskId: ids[2], waitingFor: 'rateLimit' });
    await advance(clock, 450, 10);
    expect(many.batches.map((b) => b.ids)).toEqual([ids.slice(0, 5), ids.slice(2, 7)]);
    many.answerMany(ids.slice(2).map((id) => ({ ok: true, take: `t-${id}` })));
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(many.released).toEqual([]);
    await engine.stop();
  });

  it('gives back the takes of a batch that the next step does not start with', async () => {
    const { clock, engine, many, prompts, ids } = await threeInOneQuestion();
    const [a, b, c] = ids as [string, string, string];
    await engine.cancel(b);
    engine.pauseTask(c);
    many.answerMany([a, b, c].map((id) => ({ ok: true, take: `t-${id}` })));
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a']);
    expect(many.released.sort()).toEqual([`t-${b}`, `t-${c}`].sort());
    await engine.stop();
  });

  it('asks again at once for a refused task when a take before it went back unused', async () => {
    const { clock, engine, many, prompts, ids } = await threeInOneQuestion();
    const [a, b, c] = ids as [string, string, string];
    await engine.cancel(b);
    // c was refused with b's take held; b's take goes back, so c is asked for again now, not
    // after the minute the refusal named.
    many.answerMany([
      { ok: true, take: 'ta' },
      { ok: true, take: 'tb' },
      { ok: false, waitingFor: 'rateLimit', retryAt: clock.now() + 60_000 },
    ]);
    await flush();
    expect(many.released).toEqual(['tb']);
    expect(many.batches.map((q) => q.ids)).toEqual([[a, b, c], [c]]);
    many.answerMany([{ ok: true, take: 'tc' }]);
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a', 'c']);
    await engine.stop();
  });

  it('holds the head until the time a refusal gives, then asks again', async () => {
    const { clock, engine, shared, events, submit, prompts } = setUp();
    const id = await submit('a');
    await flush();
    shared.answer({ ok: false, waitingFor: 'rateLimit', retryAt: clock.now() + 500 });
    await advance(clock, 400, 10);
    expect(shared.asked).toHaveLength(1);
    expect(engine.headWait()).toMatchObject({ taskId: id, waitingFor: 'rateLimit' });
    await advance(clock, 200, 10);
    expect(shared.asked).toHaveLength(2);
    shared.answer({ ok: true, take: 'later' });
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a']);
    expect(events.some((e) => e.type === 'task.completed' && e.taskId === id)).toBe(true);
    await engine.stop();
  });

  it('gives back a take whose task was cancelled while it was asked for', async () => {
    const { clock, engine, shared, submit, prompts } = setUp();
    const a = await submit('a');
    await submit('b');
    await flush();
    await engine.cancel(a);
    shared.answer({ ok: true, take: 'for-a' });
    await flush();
    expect(shared.released).toEqual(['for-a']);
    expect(shared.asked.map((q) => q.take.taskId)).toHaveLength(2);
    shared.answer({ ok: true, take: 'for-b' });
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['b']);
    await engine.stop();
  });

  it('fails the head when no process can pay it any more', async () => {
    const { engine, shared, submit } = setUp();
    const id = await submit('a');
    await flush();
    shared.answer({ ok: false, waitingFor: 'budget', never: true });
    const error = await engine.waitFor(id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'BUDGET_EXCEEDED' });
    expect((error as Error).message).toContain('every process');
    await engine.stop();
  });

  it('takes again for each attempt of a task that retries', async () => {
    let calls = 0;
    const { clock, engine, shared, submit } = setUp(() => {
      calls += 1;
      return calls === 1
        ? { kind: 'error', status: 500, message: 'boom', latencyMs: 5 }
        : { kind: 'ok', latencyMs: 5, content: 'ok', promptTokens: 10, completionTokens: 5 };
    });
    await submit('a');
    await flush();
    shared.answer({ ok: true, take: 'first' });
    await advance(clock, 100, 10);
    // The failed attempt's take is settled (what it was charged), the retry asks anew.
    expect(shared.settled.map(([take]) => take)).toEqual(['first']);
    await advance(clock, 2_000, 50);
    expect(shared.asked).toHaveLength(2);
    shared.answer({ ok: true, take: 'second' });
    await advance(clock, 100, 10);
    expect(shared.settled.map(([take]) => take)).toEqual(['first', 'second']);
    await engine.stop();
  });

  it('settles a take again until Redis takes it, reporting the failure once', async () => {
    const { clock, engine, shared, events, submit } = setUp();
    const id = await submit('a');
    await flush();
    shared.failSettles = 2;
    shared.answer({ ok: true, take: 'a' });
    await advance(clock, 100, 10);
    expect(shared.settled).toEqual([]);
    expect(events.filter((e) => e.type === 'store.error')).toMatchObject([{ taskId: id }]);
    await advance(clock, 10_100, 100);
    expect(shared.settled).toEqual([['a', 20]]);
    expect(events.filter((e) => e.type === 'store.error')).toHaveLength(1);
    await engine.stop();
  });

  it('tells the shared limits what a provider’s headers said', async () => {
    const hints = { limitRequests: 60, remainingRequests: 59, resetRequestsMs: 1000 };
    const { clock, engine, shared, submit } = setUp(() => ({
      kind: 'ok',
      latencyMs: 5,
      content: 'ok',
      promptTokens: 10,
      completionTokens: 5,
      hints,
    }));
    await submit('a');
    await flush();
    shared.answer({ ok: true, take: 'a' });
    await advance(clock, 100, 10);
    expect(shared.hints).toEqual([['m', hints]]);
    await engine.stop();
  });

  it('reports a shared limiter that does not answer, and asks again a second later', async () => {
    const { clock, engine, shared, events, submit, prompts } = setUp();
    const id = await submit('a');
    await flush();
    shared.answer(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    await flush();
    expect(events.filter((e) => e.type === 'store.error')).toMatchObject([{ taskId: id }]);
    await advance(clock, 900, 10);
    expect(shared.asked).toHaveLength(1);
    await advance(clock, 200, 10);
    expect(shared.asked).toHaveLength(2);
    shared.answer({ ok: true, take: 'back' });
    await advance(clock, 100, 10);
    expect(prompts()).toEqual(['a']);
    await engine.stop();
  });
});
