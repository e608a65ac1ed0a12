/**
 * OpenTelemetry tracing of tasks, built from the manager's `events$` and nothing else: one
 * `aitq.task` span per task (submission to its end) and one `aitq.attempt` span per attempt under
 * it. Span times are the events' `at` (the injected clock), so a manager on virtual time gives
 * spans on virtual time. See docs/observability.md.
 */

import {
  type Attributes,
  type Context,
  context,
  diag,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Observable } from 'rxjs';
import { z } from 'zod';
import type { SerializedError } from '../errors.js';
import { objectWith, parseOrThrow } from '../internal/validate.js';
import type { EngineEvent, EventOf } from '../runtime/events.js';

/** What `traceTasks` needs. */
export interface TraceTasksOptions {
  /** Where spans go: `trace.getTracer('ai-task-queue')` of the SDK you registered, or any tracer. */
  tracer: Tracer;
}

/** The tracing `traceTasks` started. */
export interface TaskTracing {
  /** Stops listening; ends every span still open (attribute aitq.task.open = true). */
  stop(): void;
}

/** The span names. */
const TASK_SPAN = 'aitq.task';
const ATTEMPT_SPAN = 'aitq.attempt';

/**
 * How many tasks cancelled mid-attempt whose spans were ended before their attempt's usage came
 * are remembered (that late `task.usage` is then dropped, not taken for a task never seen).
 */
const UNSETTLED_REMEMBERED = 256;

const TraceTasksOptionsSchema = z
  .object({ tracer: objectWith<Tracer>('an OpenTelemetry tracer', ['startSpan']) })
  .strict();

const ManagerSchema = z.object({
  events$: objectWith<Observable<EngineEvent>>('an observable of engine events', ['subscribe']),
});

/** What calls used, summed. */
interface Usage {
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
  calls: number;
  estimated: boolean;
}

interface AttemptState {
  span: Span;
  attempt: number;
  usage: Usage;
}

interface TaskState {
  span: Span;
  usage: Usage;
  /** The attempt whose span is open, if one is. */
  attempt: AttemptState | undefined;
}

/** A task cancelled while its attempt ran: its spans wait for that attempt's usage. */
interface Settling {
  task: TaskState;
  attempt: AttemptState;
  /** When it was cancelled: both spans end then. */
  at: number;
}

type TaskEvent = Extract<EngineEvent, { taskId: string; taskType: string }>;
type EndEvent = EventOf<'task.completed' | 'task.failed' | 'task.cancelled'>;

const noUsage = (): Usage => ({
  inputTokens: 0,
  outputTokens: 0,
  costMicros: 0,
  calls: 0,
  estimated: false,
});

function add(to: Usage, event: EventOf<'task.usage'>): void {
  to.inputTokens += event.promptTokens;
  to.outputTokens += event.completionTokens;
  to.costMicros += event.costMicros;
  to.calls += event.calls;
  to.estimated ||= event.estimated;
}

/** Marks `span` as ended by `error`: status ERROR, `error.type`, and an exception event. */
function markError(span: Span, error: SerializedError | undefined, at: number): void {
  if (error === undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    return;
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  span.setAttribute('error.type', error.code);
  span.recordException(
    { name: error.name, code: error.code, message: error.message },
    new Date(at),
  );
}

/**
 * Traces every task of `manager` with OpenTelemetry, from its `events$` stream: an `aitq.task`
 * span per task, from `task.submitted` to `task.completed` / `task.failed` / `task.cancelled`,
 * and under it an `aitq.attempt` span per attempt, from `task.started` to the attempt's end
 * (retried, completed, failed or cancelled). Span times are the events' `at`, on the manager's
 * clock; attributes carry the task's type, priority, model, token usage (`gen_ai.usage.*`), cost
 * and outcome (docs/observability.md lists them all). A failed task or retried attempt has status
 * ERROR and an exception event; a cancelled task keeps status UNSET.
 *
 * A child task's span is a child of its parent's attempt span (of its parent's task span when no
 * attempt of the parent is open); a task submitted under an active span (with a context manager
 * registered) is a child of it.
 *
 * Only what happens after the call is seen: a task submitted before `traceTasks` gets its span
 * from the first event seen of it (started at that event's time, with the attribute
 * `aitq.task.traced_from` naming that event), and an attempt running then gets its span from its
 * `task.usage` or `task.retrying`. `queue.stopped` ends the spans of tasks left waiting by the stop
 * (attribute `aitq.task.open: true`).
 *
 * Nothing is traced unless this is called (the engine has no tracing of its own). Requires the
 * optional peer dependency `@opentelemetry/api`; spans go to whatever SDK and exporter the tracer
 * belongs to. A span a tracer fails to make is reported through OpenTelemetry's `diag` logger,
 * never to the queue.
 *
 * @throws ValidationError when `options.tracer` is missing or not a tracer, or `manager` has no
 * `events$`.
 *
 * @example
 * ```ts
 * import { trace } from '@opentelemetry/api';
 * import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
 * import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
 * import { createAITaskManager } from 'ai-task-queue';
 * import { traceTasks } from 'ai-task-queue/observability';
 *
 * const provider = new BasicTracerProvider({
 *   spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
 * });
 * trace.setGlobalTracerProvider(provider);
 *
 * const manager = await createAITaskManager({ apiKey: process.env.OPENAI_API_KEY });
 * const tracing = traceTasks(manager, { tracer: trace.getTracer('ai-task-queue') });
 * // … submit tasks …
 * await manager.stop();
 * tracing.stop();
 * await provider.shutdown();
 * ```
 */
export function traceTasks(
  manager: { readonly events$: Observable<EngineEvent> },
  options: TraceTasksOptions,
): TaskTracing {
  parseOrThrow(ManagerSchema, manager, 'manager');
  const { tracer } = parseOrThrow(TraceTasksOptionsSchema, options, 'options');

  /** Tasks whose span is open. */
  const tasks = new Map<string, TaskState>();
  /** Tasks cancelled while their attempt ran, until that attempt's usage is in. */
  const settling = new Map<string, Settling>();
  /** Tasks whose spans `settling` ended before their usage came (oldest first). */
  const unsettled = new Set<string>();
  /** The latest event time seen: when `stop()` ends what is open. */
  let lastAt: number | undefined;
  let stopped = false;

  const startTask = (event: TaskEvent, parentId?: string): TaskState => {
    const attributes: Attributes = {
      'aitq.task.id': event.taskId,
      'aitq.task.type': event.taskType,
      'aitq.task.priority': event.priority,
    };
    if (parentId !== undefined) attributes['aitq.task.parent_id'] = parentId;
    if (event.type !== 'task.submitted') attributes['aitq.task.traced_from'] = event.type;
    const parent = parentId === undefined ? undefined : tasks.get(parentId);
    const parentSpan = parent?.attempt?.span ?? parent?.span;
    const ctx: Context =
      parentSpan === undefined ? context.active() : trace.setSpan(context.active(), parentSpan);
    const state: TaskState = {
      span: tracer.startSpan(TASK_SPAN, { startTime: new Date(event.at), attributes }, ctx),
      usage: noUsage(),
      attempt: undefined,
    };
    tasks.set(event.taskId, state);
    return state;
  };

  /** The task's open span, started now if it was submitted before `traceTasks`. */
  const taskOf = (event: TaskEvent): TaskState => tasks.get(event.taskId) ?? startTask(event);

  const startAttempt = (
    task: TaskState,
    attempt: number,
    at: number,
    model: string | undefined,
  ): AttemptState => {
    const attributes: Attributes = { 'aitq.attempt': attempt };
    if (model !== undefined) attributes['gen_ai.request.model'] = model;
    const state: AttemptState = {
      span: tracer.startSpan(
        ATTEMPT_SPAN,
        { startTime: new Date(at), attributes },
        trace.setSpan(context.active(), task.span),
      ),
      attempt,
      usage: noUsage(),
    };
    task.attempt = state;
    return state;
  };

  const endAttempt = (task: TaskState, attempt: AttemptState, at: number): void => {
    const { span, usage } = attempt;
    span.setAttributes({
      'gen_ai.usage.input_tokens': usage.inputTokens,
      'gen_ai.usage.output_tokens': usage.outputTokens,
      'aitq.attempt.cost_usd': usage.costMicros / 1e6,
      'aitq.attempt.calls': usage.calls,
      'aitq.attempt.usage_estimated': usage.estimated,
    });
    span.end(new Date(at));
    if (task.attempt === attempt) task.attempt = undefined;
  };

  const endTask = (task: TaskState, at: number): void => {
    const { span, usage } = task;
    span.setAttributes({
      'gen_ai.usage.input_tokens': usage.inputTokens,
      'gen_ai.usage.output_tokens': usage.outputTokens,
      'aitq.task.cost_usd': usage.costMicros / 1e6,
      'aitq.task.calls': usage.calls,
    });
    span.end(new Date(at));
  };

  /** Ends the spans of a task cancelled mid-attempt, with its attempt's usage if it came. */
  const settle = (id: string, entry: Settling, usage?: EventOf<'task.usage'>): void => {
    settling.delete(id);
    if (usage === undefined) {
      if (unsettled.size >= UNSETTLED_REMEMBERED) {
        const oldest = unsettled.values().next();
        if (oldest.done !== true) unsettled.delete(oldest.value);
      }
      unsettled.add(id);
    } else {
      add(entry.attempt.usage, usage);
      add(entry.task.usage, usage);
    }
    endAttempt(entry.task, entry.attempt, entry.at);
    endTask(entry.task, entry.at);
  };

  const onUsage = (event: EventOf<'task.usage'>): void => {
    const pending = settling.get(event.taskId);
    if (pending !== undefined) {
      settle(event.taskId, pending, event);
      return;
    }
    if (unsettled.delete(event.taskId)) return;
    const task = taskOf(event);
    // An attempt running when `traceTasks` was called has its span from here.
    const attempt = task.attempt ?? startAttempt(task, event.attempt, event.at, undefined);
    if (attempt.attempt === event.attempt) add(attempt.usage, event);
    add(task.usage, event);
  };

  const onEnd = (event: EndEvent): void => {
    const task = taskOf(event);
    const { span } = task;
    const attributes: Attributes = {
      'aitq.task.status': event.status,
      'aitq.task.attempts': event.attempts,
    };
    if (event.queueTimeMs !== undefined) attributes['aitq.task.queue_time_ms'] = event.queueTimeMs;
    if (event.executionTimeMs !== undefined) {
      attributes['aitq.task.execution_time_ms'] = event.executionTimeMs;
    }
    span.setAttributes(attributes);
    if (event.status === 'failed') markError(span, event.error, event.at);
    tasks.delete(event.taskId);
    const attempt = task.attempt;
    if (attempt === undefined) {
      endTask(task, event.at);
      return;
    }
    attempt.span.setAttribute('aitq.attempt.outcome', event.status);
    if (event.status === 'failed') markError(attempt.span, event.error, event.at);
    if (event.status === 'cancelled') {
      // Cancelled mid-call: the attempt's usage (the prompt of the call cut off) comes after
      // this event, once the aborted attempt has settled (settlement.ts). The spans wait for it.
      settling.set(event.taskId, { task, attempt, at: event.at });
      return;
    }
    endAttempt(task, attempt, event.at);
    endTask(task, event.at);
  };

  /** Ends every open span at `at`, marked `aitq.task.open` (the queue stopped, or `stop()`). */
  const endOpen = (at: number): void => {
    for (const [id, entry] of settling) settle(id, entry);
    for (const task of tasks.values()) {
      const attempt = task.attempt;
      if (attempt !== undefined) {
        attempt.span.setAttribute('aitq.task.open', true);
        endAttempt(task, attempt, at);
      }
      task.span.setAttribute('aitq.task.open', true);
      endTask(task, at);
    }
    tasks.clear();
  };

  const onEvent = (event: EngineEvent): void => {
    lastAt = lastAt === undefined ? event.at : Math.max(lastAt, event.at);
    const pendingUsage = event.type === 'task.usage' ? settling.get(event.taskId) : undefined;
    // A cancelled attempt that made no call has no usage to wait for: once time has moved on,
    // its spans end (at the cancel's time).
    for (const [id, entry] of settling) {
      if (entry !== pendingUsage && entry.at < event.at) settle(id, entry);
    }
    switch (event.type) {
      case 'task.submitted':
        if (!tasks.has(event.taskId)) startTask(event, event.parentId);
        return;
      case 'task.admitted':
      case 'task.progress':
      case 'task.paused':
      case 'task.resumed':
        if (!settling.has(event.taskId)) taskOf(event);
        return;
      case 'task.started': {
        const task = taskOf(event);
        if (task.attempt !== undefined) endAttempt(task, task.attempt, event.at);
        task.span.setAttributes({
          'gen_ai.request.model': event.model,
          'aitq.task.attempts': event.attempt,
        });
        startAttempt(task, event.attempt, event.at, event.model);
        return;
      }
      case 'task.usage':
        onUsage(event);
        return;
      case 'task.retrying': {
        const task = taskOf(event);
        const attempt = task.attempt ?? startAttempt(task, event.attempt, event.at, undefined);
        attempt.span.setAttribute('aitq.attempt.outcome', 'retrying');
        markError(attempt.span, event.error, event.at);
        endAttempt(task, attempt, event.at);
        return;
      }
      case 'task.completed':
      case 'task.failed':
      case 'task.cancelled':
        if (!settling.has(event.taskId)) onEnd(event);
        return;
      case 'queue.stopped':
        endOpen(event.at);
        return;
      default:
        return;
    }
  };

  const subscription = manager.events$.subscribe((event) => {
    if (stopped) return;
    try {
      onEvent(event);
    } catch (error) {
      // A tracer or exporter that throws must not reach the queue (nor the other listeners).
      diag.error('ai-task-queue: tracing an event failed', error);
    }
  });

  return {
    stop() {
      if (stopped) return;
      stopped = true;
      subscription.unsubscribe();
      if (lastAt !== undefined) endOpen(lastAt);
      unsettled.clear();
    },
  };
}
