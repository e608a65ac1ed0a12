/**
 * Retention of finished tasks, BullMQ's `removeOnComplete` idea: `keepCompleted` and `keepFailed`
 * keep at most `count` finished tasks, for at most `age` seconds; older ones leave the store as new
 * ones end, reported in one `tasks.removed` event per removal. `cleanupOldTasks` removes by age.
 */

import type { z } from 'zod';
import type { RetentionSchema } from '../config/engine-options.js';
import type { TaskRecord, TaskStore } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';

/** A FIFO of finished tasks (id, type, end time) in the order they ended; O(1) push and shift. */
class FinishedLine {
  private ids: string[] = [];
  private types: string[] = [];
  private times: number[] = [];
  private head = 0;

  get size(): number {
    return this.ids.length - this.head;
  }

  push(id: string, type: string, at: number): void {
    this.ids.push(id);
    this.types.push(type);
    this.times.push(at);
  }

  /** The oldest finished task's id (`undefined` when empty); its `oldestType` and `oldestAt`. */
  get oldestId(): string | undefined {
    return this.ids[this.head];
  }

  get oldestType(): string {
    return this.types[this.head] as string;
  }

  get oldestAt(): number {
    return this.times[this.head] as number;
  }

  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.types = this.types.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}

/** What retention needs from the engine. */
export interface RetentionDeps {
  store: TaskStore;
  /** Removes tasks with the journal's next commit (a failure is reported as `store.error`). */
  remove(ids: readonly string[]): Promise<void>;
  clock: Clock;
  emit(event: EngineEvent): void;
  /** A cancelled task whose call is still settling stays until it has. */
  isRunning(id: string): boolean;
  /** The policy in force for completed tasks, or for failed and cancelled ones. */
  policy(completed: boolean): z.output<typeof RetentionSchema> | undefined;
}

/** The finished tasks of this process, in the order they ended, and their removal. */
export class Retention {
  private readonly completed = new FinishedLine();
  private readonly notCompleted = new FinishedLine();

  constructor(private readonly deps: RetentionDeps) {}

  /** Records a task that just ended, and removes what its line's policy no longer keeps. */
  retain(record: TaskRecord, now: number): void {
    const completed = record.status === 'completed';
    const line = completed ? this.completed : this.notCompleted;
    line.push(record.id, record.type, now);
    const policy = this.deps.policy(completed);
    if (policy === undefined) return;
    const cutoff = policy.age === undefined ? undefined : now - policy.age * 1000;
    const count = policy.count;
    if (
      count !== undefined &&
      line.size <= count &&
      (cutoff === undefined || line.oldestAt > cutoff)
    ) {
      return;
    }
    this.removeFinished(line, 'retention', (at) => {
      const tooMany = count !== undefined && line.size > count;
      return tooMany || (cutoff !== undefined && at <= cutoff);
    });
  }

  /**
   * Removes finished tasks from the oldest while `expired` says so (a cancelled task whose call
   * is still settling is kept until it has), and reports them in one `tasks.removed` event.
   */
  private removeFinished(
    line: FinishedLine,
    reason: 'retention' | 'cleanup',
    expired: (finishedAt: number) => boolean,
  ): { ids: string[]; stored: Promise<void> } {
    const ids: string[] = [];
    const byType: Record<string, number> = {};
    for (;;) {
      const id = line.oldestId;
      if (id === undefined || this.deps.isRunning(id) || !expired(line.oldestAt)) break;
      const type = line.oldestType;
      line.shift();
      ids.push(id);
      byType[type] = (byType[type] ?? 0) + 1;
    }
    if (ids.length === 0) return { ids, stored: Promise.resolve() };
    const stored = this.deps.remove(ids).catch(() => undefined);
    this.deps.emit({
      type: 'tasks.removed',
      at: this.deps.clock.now(),
      reason,
      taskIds: ids,
      byType,
    });
    return { ids, stored };
  }

  /**
   * Removes every finished task (completed, failed, cancelled) that ended before `before` (ms),
   * including ones a durable store kept from earlier runs; resolves with how many went.
   */
  async cleanup(before: number): Promise<number> {
    let removed = 0;
    const stored: Promise<void>[] = [];
    for (const line of [this.completed, this.notCompleted]) {
      const gone = this.removeFinished(line, 'cleanup', (at) => at < before);
      removed += gone.ids.length;
      stored.push(gone.stored);
    }
    // Once those are gone from the store (a store that takes its time would otherwise still
    // hold them, and count them again), the tasks this process did not finish: a durable
    // store's older runs.
    await Promise.all(stored);
    return removed + (await this.deps.store.removeFinishedBefore(before));
  }
}
