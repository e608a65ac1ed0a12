import { type HrTime, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { AITaskManagerOptions } from '../../src/config/manager-options.js';
import { ValidationError } from '../../src/errors.js';
import { AITaskManager } from '../../src/manager.js';
import { traceTasks } from '../../src/observability/tracing.js';
import type { EngineEvent, EventOf } from '../../src/runtime/events.js';
import { createTestManager } from '../helpers/manager.js';
import { type Script, ScriptedClient } from '../helpers/scripted-client.js';
import { echoTaskType } from '../helpers/task-types.js';
import { advance, advanceUntil, flush } from '../helpers/virtual-time.js';

const echo = (prompt: string, extra: Record<string, unknown> = {}) => ({
  taskType: 'ECHO',
  data: { prompt },
  ...extra,
});

/** The prompt of a scripted chat request. */
const promptOf = (request: unknown): string =>
  (request as { messages?: Array<{ content: string }> }).messages?.[0]?.content ?? '';

function traced(
  options: AITaskManagerOptions = {},
  script?: (request: unknown, index: number) => Script,
) {
  const made = createTestManager(options, script);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  const tracing = traceTasks(made.manager, { tracer });
  return { ...made, exporter, provider, tracer, tracing };
}

/** Milliseconds since the epoch of an OTel time (exact for whole milliseconds). */
const ms = (time: HrTime): number => time[0] * 1000 + time[1] / 1e6;

const spansNamed = (exporter: InMemorySpanExporter, name: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.name === name);

function taskSpan(exporter: InMemorySpanExporter, id: string): ReadableSpan {
  const found = spansNamed(exporter, 'aitq.task').filter(
    (s) => s.attributes['aitq.task.id'] === id,
  );
  expect(found).toHaveLength(1);
  return found[0] as ReadableSpan;
}

/** The attempt spans under a task's span, by attempt number. */
function attemptSpans(exporter: InMemorySpanExporter, task: ReadableSpan): ReadableSpan[] {
  const spanId = task.spanContext().spanId;
  return spansNamed(exporter, 'aitq.attempt')
    .filter((s) => s.parentSpanContext?.spanId === spanId)
    .sort((a, b) => Number(a.attributes['aitq.attempt']) - Number(b.attributes['aitq.attempt']));
}

/** The one event of `type` for task `id`. */
function eventOf<K extends EngineEvent['type']>(
  events: readonly EngineEvent[],
  type: K,
  id: string,
  nth = 0,
): EventOf<K> {
  const found = events.filter(
    (e) => e.type === type && 'taskId' in e && e.taskId === id,
  ) as EventOf<K>[];
  const event = found[nth];
  if (event === undefined) throw new Error(`no ${type} #${nth} for ${id}`);
  return event;
}

afterEach(() => {
  trace.disable();
});

describe('traceTasks: spans from events$', () => {
  it('a task span per task and an attempt span per attempt: success, retry, failure, waiting cancel', async () => {
    const calls = new Map<string, number>();
    const { manager, clock, events, exporter } = traced({ maxConcurrent: 1 }, (request) => {
      const prompt = promptOf(request);
      const n = (calls.get(prompt) ?? 0) + 1;
      calls.set(prompt, n);
      if (prompt === 'bad') return { kind: 'error', status: 400, latencyMs: 20 };
      if (prompt === 'flaky' && n === 1) return { kind: 'error', status: 500, latencyMs: 30 };
      return { kind: 'ok', latencyMs: 100, promptTokens: 12, completionTokens: 7 };
    });
    await manager.start();
    const ok = await manager.submitTask(echo('ok'));
    const flaky = await manager.submitTask(echo('flaky', { config: { retryDelay: 0.5 } }));
    const bad = await manager.submitTask(echo('bad'));
    const waiting = await manager.submitTask(echo('waiting'));
    await expect(manager.cancelTask(waiting)).resolves.toBe(true);
    await advanceUntil(clock, () => calls.get('flaky') === 2 && calls.has('bad'), 10_000, 10);
    await advance(clock, 200, 10);
    for (const id of [ok, flaky, bad]) {
      expect(['completed', 'failed']).toContain((await manager.getTaskStatus(id))?.status);
    }

    const tasks = spansNamed(exporter, 'aitq.task');
    expect(tasks).toHaveLength(4);
    expect(spansNamed(exporter, 'aitq.attempt')).toHaveLength(4);
    for (const span of exporter.getFinishedSpans()) expect(span.ended).toBe(true);

    // Every task span: from its task.submitted to its end event, on the virtual clock.
    for (const id of [ok, flaky, bad, waiting]) {
      const span = taskSpan(exporter, id);
      const end = events.find(
        (e) =>
          (e.type === 'task.completed' ||
            e.type === 'task.failed' ||
            e.type === 'task.cancelled') &&
          e.taskId === id,
      );
      expect(ms(span.startTime)).toBe(eventOf(events, 'task.submitted', id).at);
      expect(ms(span.endTime)).toBe(end?.at);
      expect(span.parentSpanContext).toBeUndefined();
    }

    // The success.
    const okInfo = await manager.getTaskStatus(ok);
    const okSpan = taskSpan(exporter, ok);
    const okEnd = eventOf(events, 'task.completed', ok);
    expect(okInfo?.metrics).toMatchObject({ promptTokens: 12, completionTokens: 7, calls: 1 });
    expect(okInfo?.metrics.actualCost).toBeGreaterThan(0);
    expect(okSpan.attributes).toEqual({
      'aitq.task.id': ok,
      'aitq.task.type': 'ECHO',
      'aitq.task.priority': 'MEDIUM',
      'aitq.task.status': 'completed',
      'aitq.task.attempts': 1,
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
      'aitq.task.cost_usd': okInfo?.metrics.actualCost,
      'aitq.task.calls': 1,
      'aitq.task.queue_time_ms': okEnd.queueTimeMs,
      'aitq.task.execution_time_ms': okEnd.executionTimeMs,
    });
    expect(okEnd.executionTimeMs).toBe(100);
    expect(okSpan.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(okSpan.events).toEqual([]);
    const [okAttempt, ...noMore] = attemptSpans(exporter, okSpan);
    expect(noMore).toEqual([]);
    expect(okAttempt?.parentSpanContext?.spanId).toBe(okSpan.spanContext().spanId);
    expect(okAttempt?.spanContext().traceId).toBe(okSpan.spanContext().traceId);
    expect(okAttempt?.attributes).toEqual({
      'aitq.attempt': 1,
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
      'aitq.attempt.cost_usd': okInfo?.metrics.actualCost,
      'aitq.attempt.calls': 1,
      'aitq.attempt.usage_estimated': false,
      'aitq.attempt.outcome': 'completed',
    });
    expect(ms(okAttempt?.startTime as HrTime)).toBe(eventOf(events, 'task.started', ok).at);
    expect(ms(okAttempt?.endTime as HrTime)).toBe(okEnd.at);

    // The retried task: two attempts, the first one ERROR with the retry's error.
    const flakyInfo = await manager.getTaskStatus(flaky);
    const flakySpan = taskSpan(exporter, flaky);
    const retrying = eventOf(events, 'task.retrying', flaky);
    expect(flakyInfo?.status).toBe('completed');
    expect(flakySpan.attributes).toMatchObject({
      'aitq.task.status': 'completed',
      'aitq.task.attempts': 2,
      'gen_ai.usage.input_tokens': flakyInfo?.metrics.promptTokens,
      'gen_ai.usage.output_tokens': flakyInfo?.metrics.completionTokens,
      'aitq.task.cost_usd': flakyInfo?.metrics.actualCost,
      'aitq.task.calls': 2,
    });
    expect(flakyInfo?.metrics.calls).toBe(2);
    expect(flakySpan.status.code).toBe(SpanStatusCode.UNSET);
    const [first, second, third] = attemptSpans(exporter, flakySpan);
    expect(third).toBeUndefined();
    expect(first?.attributes).toMatchObject({
      'aitq.attempt': 1,
      'aitq.attempt.outcome': 'retrying',
      'aitq.attempt.calls': 1,
      'error.type': 'PROVIDER_ERROR',
    });
    expect(first?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'scripted 500 error' });
    expect(first?.events.map((e) => [e.name, e.attributes, ms(e.time)])).toEqual([
      [
        'exception',
        { 'exception.type': 'PROVIDER_ERROR', 'exception.message': 'scripted 500 error' },
        retrying.at,
      ],
    ]);
    expect(ms(first?.startTime as HrTime)).toBe(eventOf(events, 'task.started', flaky, 0).at);
    expect(ms(first?.endTime as HrTime)).toBe(retrying.at);
    expect(second?.attributes).toMatchObject({
      'aitq.attempt': 2,
      'aitq.attempt.outcome': 'completed',
      'aitq.attempt.calls': 1,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
    });
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
    expect(ms(second?.startTime as HrTime)).toBe(eventOf(events, 'task.started', flaky, 1).at);
    expect(ms(second?.startTime as HrTime)).toBeGreaterThanOrEqual(retrying.notBefore);
    expect(ms(second?.endTime as HrTime)).toBe(eventOf(events, 'task.completed', flaky).at);
    // The attempts' figures add up to the task's.
    for (const key of ['gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens']) {
      expect(Number(first?.attributes[key]) + Number(second?.attributes[key])).toBe(
        flakySpan.attributes[key],
      );
    }

    // The permanent failure: ERROR and an exception event on the task and its attempt.
    const badInfo = await manager.getTaskStatus(bad);
    const badSpan = taskSpan(exporter, bad);
    const failed = eventOf(events, 'task.failed', bad);
    expect(badInfo?.status).toBe('failed');
    expect(badSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: 'scripted 400 error' });
    expect(badSpan.attributes).toMatchObject({
      'aitq.task.status': 'failed',
      'aitq.task.attempts': 1,
      'aitq.task.calls': 1,
      'aitq.task.cost_usd': badInfo?.metrics.actualCost,
      'gen_ai.usage.input_tokens': badInfo?.metrics.promptTokens,
      'gen_ai.usage.output_tokens': badInfo?.metrics.completionTokens,
      'error.type': 'PROVIDER_ERROR',
    });
    expect(badSpan.events.map((e) => [e.name, e.attributes, ms(e.time)])).toEqual([
      [
        'exception',
        { 'exception.type': 'PROVIDER_ERROR', 'exception.message': 'scripted 400 error' },
        failed.at,
      ],
    ]);
    const [badAttempt] = attemptSpans(exporter, badSpan);
    expect(badAttempt?.attributes['aitq.attempt.outcome']).toBe('failed');
    expect(badAttempt?.status.code).toBe(SpanStatusCode.ERROR);
    expect(badAttempt?.events.map((e) => e.name)).toEqual(['exception']);

    // The task cancelled while waiting: a task span, no attempt, status UNSET.
    const waitingSpan = taskSpan(exporter, waiting);
    expect(waitingSpan.attributes).toEqual({
      'aitq.task.id': waiting,
      'aitq.task.type': 'ECHO',
      'aitq.task.priority': 'MEDIUM',
      'aitq.task.status': 'cancelled',
      'aitq.task.attempts': 0,
      'gen_ai.usage.input_tokens': 0,
      'gen_ai.usage.output_tokens': 0,
      'aitq.task.cost_usd': 0,
      'aitq.task.calls': 0,
    });
    expect(waitingSpan.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(attemptSpans(exporter, waitingSpan)).toEqual([]);
  });

  it('a running task cancelled mid-call: its spans end at the cancel, with the prompt its cut-off call was charged', async () => {
    const { manager, clock, events, exporter } = traced({}, () => ({ kind: 'hang' }));
    await manager.start();
    const id = await manager.submitTask(echo('hang', { data: { prompt: 'hang', tokens: 40 } }));
    await advance(clock, 5);
    await expect(manager.cancelTask(id)).resolves.toBe(true);
    await flush();
    const cancelled = eventOf(events, 'task.cancelled', id);
    const usage = eventOf(events, 'task.usage', id);
    // The order the engine reports it in: the end first, the aborted attempt's usage after.
    expect(events.indexOf(usage)).toBeGreaterThan(events.indexOf(cancelled));

    const info = await manager.getTaskStatus(id);
    expect(info?.metrics.calls).toBe(1);
    expect(info?.metrics.promptTokens).toBeGreaterThan(0);
    const span = taskSpan(exporter, id);
    expect(span.attributes).toMatchObject({
      'aitq.task.status': 'cancelled',
      'aitq.task.attempts': 1,
      'aitq.task.calls': 1,
      'gen_ai.usage.input_tokens': info?.metrics.promptTokens,
      'gen_ai.usage.output_tokens': info?.metrics.completionTokens,
      'aitq.task.cost_usd': info?.metrics.actualCost,
    });
    expect(span.attributes['aitq.task.open']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(ms(span.endTime)).toBe(cancelled.at);
    const [attempt, none] = attemptSpans(exporter, span);
    expect(none).toBeUndefined();
    expect(attempt?.attributes).toMatchObject({
      'aitq.attempt': 1,
      'aitq.attempt.outcome': 'cancelled',
      'aitq.attempt.calls': 1,
      'gen_ai.usage.input_tokens': info?.metrics.promptTokens,
    });
    expect(attempt?.status.code).toBe(SpanStatusCode.UNSET);
    expect(ms(attempt?.startTime as HrTime)).toBe(eventOf(events, 'task.started', id).at);
    expect(ms(attempt?.endTime as HrTime)).toBe(cancelled.at);
  });

  it('child tasks are children of their parent attempt; a cancelled parent that made no call ends once time moves on', async () => {
    const { manager, clock, events, exporter } = traced({}, (request) =>
      promptOf(request).startsWith('hang')
        ? { kind: 'hang' }
        : { kind: 'ok', latencyMs: 10, promptTokens: 5, completionTokens: 3 },
    );
    await manager.start();
    const parent = await manager.submitTask({ taskType: 'FAN_OUT', data: { prompts: ['a', 'b'] } });
    await advance(clock, 50);
    expect((await manager.getTaskStatus(parent))?.status).toBe('completed');

    const parentSpan = taskSpan(exporter, parent);
    const [parentAttempt] = attemptSpans(exporter, parentSpan);
    const children = spansNamed(exporter, 'aitq.task').filter(
      (s) => s.attributes['aitq.task.parent_id'] === parent,
    );
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(child.parentSpanContext?.spanId).toBe(parentAttempt?.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(parentSpan.spanContext().traceId);
      expect(child.attributes).toMatchObject({
        'aitq.task.status': 'completed',
        'aitq.task.calls': 1,
      });
      expect(attemptSpans(exporter, child)).toHaveLength(1);
    }
    // The parent's spans carry its own calls (none); its metrics add up its children's.
    expect(parentSpan.attributes['aitq.task.calls']).toBe(0);
    expect((await manager.getTaskStatus(parent))?.metrics.calls).toBe(2);

    // A parent cancelled while its children hang: it made no call, so no task.usage follows.
    exporter.reset();
    const cancelledParent = await manager.submitTask({
      taskType: 'FAN_OUT',
      data: { prompts: ['hang1', 'hang2'] },
    });
    await advance(clock, 5);
    await manager.cancelTask(cancelledParent);
    await flush();
    const cancelAt = eventOf(events, 'task.cancelled', cancelledParent).at;
    // The children (cancelled with it, their cut-off calls charged) are there; the parent waits.
    const cancelledChildren = spansNamed(exporter, 'aitq.task');
    expect(cancelledChildren.map((s) => s.attributes['aitq.task.parent_id'])).toEqual([
      cancelledParent,
      cancelledParent,
    ]);
    for (const child of cancelledChildren) {
      expect(child.attributes).toMatchObject({
        'aitq.task.status': 'cancelled',
        'aitq.task.calls': 1,
      });
    }
    await advance(clock, 10);
    await manager.submitTask(echo('later'));
    const late = taskSpan(exporter, cancelledParent);
    expect(late.attributes).toMatchObject({
      'aitq.task.status': 'cancelled',
      'aitq.task.calls': 0,
    });
    expect(ms(late.endTime)).toBe(cancelAt);
    const [lateAttempt] = attemptSpans(exporter, late);
    expect(lateAttempt?.attributes['aitq.attempt.outcome']).toBe('cancelled');
    expect(ms(lateAttempt?.endTime as HrTime)).toBe(cancelAt);
  });

  it('span times are the clock times, on a virtual clock that starts at 0 too', async () => {
    const clock = new SimulatedClock();
    const client = new ScriptedClient(clock, () => ({ kind: 'ok', latencyMs: 250 }));
    const manager = new AITaskManager({ aiClient: client, clock, taskTypes: [echoTaskType] });
    const events: EngineEvent[] = [];
    manager.events$.subscribe((event) => events.push(event));
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    traceTasks(manager, { tracer: provider.getTracer('test') });
    await manager.start();
    clock.increment(40);
    const id = await manager.submitTask(echo('zero'));
    await advance(clock, 300, 10);
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
    const span = taskSpan(exporter, id);
    expect(ms(span.startTime)).toBe(40);
    expect(ms(span.endTime)).toBe(eventOf(events, 'task.completed', id).at);
    expect(ms(span.endTime)).toBeLessThan(1_000);
    const [attempt] = attemptSpans(exporter, span);
    expect(ms(attempt?.endTime as HrTime) - ms(attempt?.startTime as HrTime)).toBe(250);
  });

  it('a cut-off attempt usage that comes after the cancel is counted; one that comes after time moved on is dropped', () => {
    const events$ = new Subject<EngineEvent>();
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracing = traceTasks({ events$ }, { tracer: provider.getTracer('test') });
    const base = { taskType: 'ECHO', priority: 'HIGH' } as const;
    const run = (taskId: string, at: number): void => {
      events$.next({ ...base, taskId, at, type: 'task.submitted' });
      events$.next({
        ...base,
        taskId,
        at: at + 10,
        type: 'task.admitted',
        attempt: 1,
        limited: true,
      });
      events$.next({
        ...base,
        taskId,
        at: at + 10,
        type: 'task.started',
        attempt: 1,
        model: 'm',
        queueTimeMs: 10,
      });
    };
    const cancel = (taskId: string, at: number): void =>
      events$.next({
        ...base,
        taskId,
        at,
        type: 'task.cancelled',
        status: 'cancelled',
        attempts: 1,
        queueTimeMs: 10,
        executionTimeMs: at - 110,
      });
    const usage = (taskId: string, at: number): void =>
      events$.next({
        ...base,
        taskId,
        at,
        type: 'task.usage',
        attempt: 1,
        calls: 2,
        costMicros: 1_500,
        promptTokens: 30,
        completionTokens: 0,
        estimated: true,
      });

    run('a', 100);
    cancel('a', 200);
    expect(exporter.getFinishedSpans()).toEqual([]);
    usage('a', 201);
    const a = taskSpan(exporter, 'a');
    expect(a.attributes).toMatchObject({
      'aitq.task.priority': 'HIGH',
      'aitq.task.status': 'cancelled',
      'aitq.task.calls': 2,
      'aitq.task.cost_usd': 0.0015,
      'gen_ai.usage.input_tokens': 30,
      'aitq.task.execution_time_ms': 90,
    });
    expect(ms(a.endTime)).toBe(200);
    expect(attemptSpans(exporter, a)[0]?.attributes).toMatchObject({
      'aitq.attempt.usage_estimated': true,
      'aitq.attempt.outcome': 'cancelled',
      'aitq.attempt.calls': 2,
    });

    run('b', 300);
    cancel('b', 400);
    // Another task's event at a later time: b's attempt made no call it waits for.
    events$.next({ ...base, taskId: 'c', at: 401, type: 'task.submitted' });
    const b = taskSpan(exporter, 'b');
    expect(b.attributes).toMatchObject({ 'aitq.task.status': 'cancelled', 'aitq.task.calls': 0 });
    expect(ms(b.endTime)).toBe(400);
    // A usage of b coming after that is not taken for a task submitted before traceTasks.
    usage('b', 402);
    tracing.stop();
    expect(taskSpan(exporter, 'b').attributes['aitq.task.calls']).toBe(0);
    expect(
      exporter
        .getFinishedSpans()
        .filter((s) => s.attributes['aitq.task.traced_from'] !== undefined),
    ).toEqual([]);
  });

  it('queue.stopped ends the spans of tasks left waiting, marked aitq.task.open', async () => {
    const { manager, clock, events, exporter } = traced();
    await manager.start();
    manager.pause();
    const ids = await manager.submitBatch([echo('a'), echo('b')]);
    await advance(clock, 20);
    await manager.stop();
    const stoppedAt = events.find((e) => e.type === 'queue.stopped')?.at;
    expect(stoppedAt).toBeDefined();
    const spans = spansNamed(exporter, 'aitq.task');
    expect(spans).toHaveLength(2);
    for (const id of ids) {
      const span = taskSpan(exporter, id);
      expect(span.attributes).toMatchObject({ 'aitq.task.open': true, 'aitq.task.calls': 0 });
      expect(span.attributes['aitq.task.status']).toBeUndefined();
      expect(ms(span.startTime)).toBe(eventOf(events, 'task.submitted', id).at);
      expect(ms(span.endTime)).toBe(stoppedAt);
    }
    expect(spansNamed(exporter, 'aitq.attempt')).toEqual([]);
  });

  it('stop() ends the open spans at the last event seen and unsubscribes', async () => {
    const { manager, clock, events, exporter, tracing } = traced();
    await manager.start();
    manager.pause();
    const a = await manager.submitTask(echo('a'));
    const b = await manager.submitTask(echo('b'));
    await advance(clock, 30);
    expect(exporter.getFinishedSpans()).toEqual([]);
    tracing.stop();
    const lastAt = events.at(-1)?.at;
    for (const id of [a, b]) {
      const span = taskSpan(exporter, id);
      expect(span.attributes['aitq.task.open']).toBe(true);
      expect(ms(span.endTime)).toBe(lastAt);
    }
    tracing.stop();
    expect(exporter.getFinishedSpans()).toHaveLength(2);
    manager.resume();
    await manager.submitTask(echo('after'));
    await advance(clock, 50);
    expect((await manager.getTaskStatus(a))?.status).toBe('completed');
    expect(events.filter((e) => e.type === 'task.completed')).toHaveLength(3);
    expect(exporter.getFinishedSpans()).toHaveLength(2);

    // It lets go of the stream (any `{ events$ }` will do).
    const subject = new Subject<EngineEvent>();
    const other = traceTasks({ events$: subject }, { tracer: trace.getTracer('x') });
    expect(subject.observed).toBe(true);
    other.stop();
    expect(subject.observed).toBe(false);
  });

  it('a task submitted before traceTasks gets its span from the first event seen', async () => {
    const made = createTestManager({ maxConcurrent: 1 }, () => ({
      kind: 'ok',
      latencyMs: 100,
      promptTokens: 9,
      completionTokens: 4,
    }));
    const { manager, clock, events } = made;
    await manager.start();
    const running = await manager.submitTask(echo('a'));
    const queued = await manager.submitTask(echo('b'));
    await advance(clock, 10);
    expect((await manager.getTaskStatus(running))?.status).toBe('running');
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    traceTasks(manager, { tracer: provider.getTracer('test') });
    await advance(clock, 300, 10);

    const runningSpan = taskSpan(exporter, running);
    const usage = eventOf(events, 'task.usage', running);
    expect(runningSpan.attributes).toMatchObject({
      'aitq.task.traced_from': 'task.usage',
      'aitq.task.status': 'completed',
      'gen_ai.usage.input_tokens': 9,
      'aitq.task.calls': 1,
      'aitq.task.queue_time_ms': eventOf(events, 'task.completed', running).queueTimeMs,
    });
    expect(ms(runningSpan.startTime)).toBe(usage.at);
    const [attempt] = attemptSpans(exporter, runningSpan);
    expect(attempt?.attributes).toMatchObject({
      'aitq.attempt': 1,
      'aitq.attempt.outcome': 'completed',
      'gen_ai.usage.input_tokens': 9,
    });

    const queuedSpan = taskSpan(exporter, queued);
    expect(queuedSpan.attributes).toMatchObject({
      'aitq.task.traced_from': 'task.admitted',
      'aitq.task.status': 'completed',
      'gen_ai.request.model': 'gpt-4o-mini',
    });
    expect(ms(queuedSpan.startTime)).toBe(eventOf(events, 'task.admitted', queued).at);
    expect(attemptSpans(exporter, queuedSpan)).toHaveLength(1);
  });
});

describe('traceTasks: what it takes', () => {
  it('a missing or wrong tracer is a ValidationError naming options.tracer', () => {
    const { manager } = createTestManager();
    let caught: unknown;
    try {
      traceTasks(manager, {} as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).message).toContain('options.tracer');
    expect((caught as ValidationError).issues.map((i) => i.path)).toEqual(['options.tracer']);
    expect(() => traceTasks(manager, { tracer: 'x' as unknown as Tracer })).toThrow(
      /options\.tracer: expected an OpenTelemetry tracer/,
    );
    expect(() => traceTasks({} as never, { tracer: trace.getTracer('x') })).toThrow(
      ValidationError,
    );
  });

  it('without traceTasks nothing is traced, even with a global tracer provider', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    const { manager, clock } = createTestManager();
    await manager.start();
    const id = await manager.submitTask(echo('untraced'));
    await advance(clock, 20);
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
    expect(exporter.getFinishedSpans()).toEqual([]);

    // The same provider records what traceTasks sends it.
    const tracing = traceTasks(manager, { tracer: trace.getTracer('aitq') });
    const traced = await manager.submitTask(echo('traced'));
    await advance(clock, 20);
    tracing.stop();
    expect(exporter.getFinishedSpans().map((s) => s.attributes['aitq.task.id'])).toContain(traced);
    expect(exporter.getFinishedSpans().map((s) => s.attributes['aitq.task.id'])).not.toContain(id);
  });

  it('a tracer that throws never reaches the queue', async () => {
    const { manager, clock } = createTestManager();
    const broken = {
      startSpan: () => {
        throw new Error('exporter down');
      },
      startActiveSpan: () => undefined,
    } as unknown as Tracer;
    traceTasks(manager, { tracer: broken });
    await manager.start();
    const id = await manager.submitTask(echo('x'));
    await advance(clock, 20);
    expect((await manager.getTaskStatus(id))?.status).toBe('completed');
  });
});
