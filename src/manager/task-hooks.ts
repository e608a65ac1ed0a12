/**
 * What each task of a manager was given besides its data, kept from its submission to its end:
 * its callbacks (`onComplete`, `onError`, `onProgress`) and the abort `signal` that cancels it
 * (its own or its batch's). And how the manager runs user code, callbacks and `on` listeners
 * alike: what it throws is logged, never thrown into the queue.
 */

import type { Observable } from 'rxjs';
import type { z } from 'zod';
import type { Logger } from '../config/manager-options.js';
import { describeThrown, UNSHOWABLE_MESSAGE } from '../errors.js';
import type { EngineEvent, EngineEventType, EventOf } from '../runtime/events.js';
import type { TaskInfo } from '../runtime/task-info.js';
import type { TaskRecord } from '../stores/types.js';
import type { ManagerTaskConfigSchema, ProgressCallback, TaskCallback } from './input-schemas.js';

interface Callbacks {
  onComplete?: TaskCallback | undefined;
  onError?: TaskCallback | undefined;
  onProgress?: ProgressCallback | undefined;
}

/** The callbacks and abort signals of a manager's tasks, and the runner of user code. */
export class TaskHooks {
  private readonly callbacks = new Map<string, Callbacks>();
  /** Removes the `abort` listener a task's `signal` (or its batch's) was given. */
  private readonly signalCleanups = new Map<string, () => void>();

  /**
   * @param cancel cancels a task (the engine's `cancel`)
   * @param describe the task as `getTaskStatus` shows it, given to `onComplete` and `onError`
   */
  constructor(
    private readonly logger: Logger,
    private readonly cancel: (id: string) => Promise<boolean>,
    private readonly describe: (record: TaskRecord) => TaskInfo,
  ) {}

  /**
   * Keeps what the tasks `ids` were given until each ends: the callbacks of its settings
   * (`configs`, in the same order), and `signal`, whose abort cancels them. A task in `reused`
   * (returned for its idempotency key) keeps what it was given when it was first submitted.
   */
  track(
    ids: readonly string[],
    reused: ReadonlySet<string>,
    configs: ReadonlyArray<z.output<typeof ManagerTaskConfigSchema> | undefined>,
    signal: AbortSignal | undefined,
  ): void {
    const tracked = reused.size === 0 ? ids : ids.filter((id) => !reused.has(id));
    ids.forEach((id, i) => {
      if (reused.has(id)) return;
      const config = configs[i];
      if (config?.onComplete || config?.onError || config?.onProgress) {
        this.callbacks.set(id, {
          onComplete: config.onComplete,
          onError: config.onError,
          onProgress: config.onProgress,
        });
      }
    });
    if (signal !== undefined) this.cancelOnAbort(signal, tracked);
  }

  /** Aborting `signal` cancels the tasks; the listener goes when the last of them ends. */
  private cancelOnAbort(signal: AbortSignal, ids: readonly string[]): void {
    let open = ids.length;
    const onAbort = () => {
      for (const id of ids) void this.cancel(id).catch(() => false);
    };
    if (signal.aborted) {
      // Aborted while the tasks were being stored: cancel them once they are in line.
      queueMicrotask(onAbort);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      open--;
      if (open === 0) signal.removeEventListener('abort', onAbort);
    };
    for (const id of ids) this.signalCleanups.set(id, settle);
  }

  /** Calls the task's `onProgress`, when it has one. */
  progress(event: EventOf<'task.progress'>): void {
    this.call(event.taskId, 'onProgress', (cb) =>
      (cb as ProgressCallback)(event.progress, event.current, event.total),
    );
  }

  /** The engine's synchronous hook: the task is terminal and still in the store. */
  finished(record: TaskRecord): void {
    const cleanup = this.signalCleanups.get(record.id);
    if (cleanup !== undefined) {
      this.signalCleanups.delete(record.id);
      cleanup();
    }
    const callbacks = this.callbacks.get(record.id);
    if (callbacks === undefined) return;
    this.callbacks.delete(record.id);
    const hook = record.status === 'completed' ? callbacks.onComplete : callbacks.onError;
    if (hook === undefined) return;
    const info = this.describe(record);
    const name = record.status === 'completed' ? 'onComplete' : 'onError';
    this.invoke(`${name} callback`, record.id, () => hook(info));
  }

  private call(
    id: string,
    name: keyof Callbacks,
    fn: (cb: NonNullable<Callbacks[keyof Callbacks]>) => unknown,
  ): void {
    const cb = this.callbacks.get(id)?.[name];
    if (cb !== undefined) this.invoke(`${name} callback`, id, () => fn(cb));
  }

  /**
   * Calls `listener` with each event of type `type` (an `on` listener); returns the function that
   * stops listening.
   */
  listen<K extends EngineEventType>(
    events$: Observable<EngineEvent>,
    type: EngineEventType,
    listener: (event: EventOf<K>) => void,
  ): () => void {
    const subscription = events$.subscribe((event) => {
      if (event.type !== type) return;
      const taskId = 'taskId' in event ? event.taskId : undefined;
      this.invoke(`'${type}' listener`, taskId, () => listener(event as EventOf<K>));
    });
    return () => subscription.unsubscribe();
  }

  /** Runs user code; what it throws (or rejects with) is logged, never thrown into the queue. */
  invoke(what: string, taskId: string | undefined, fn: () => unknown): void {
    const report = (error: unknown) => {
      try {
        this.logger.error?.(
          taskId === undefined ? `${what} failed` : `${what} of task '${taskId}' failed`,
          {
            ...(taskId === undefined ? {} : { taskId }),
            error: describeThrown(error) ?? UNSHOWABLE_MESSAGE,
          },
        );
      } catch {
        // A logger that throws has nowhere else to report to; the queue goes on.
      }
    };
    try {
      const out = fn();
      if (out instanceof Promise) out.catch(report);
    } catch (error) {
      report(error);
    }
  }
}
