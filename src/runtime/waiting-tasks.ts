/**
 * The tasks that wait, wherever they wait: in line (retries included), held with `pauseTask`, or
 * set aside by `stop()` for a later run. One place answers whether a task waits, where its record
 * is, and how many wait (by priority too).
 */

import type { Priority } from '../../machines/task-status.js';
import type { TaskRecord } from '../stores/types.js';
import { WaitingLine } from './waiting-line.js';

export class WaitingTasks {
  /** The line admission takes from. */
  readonly line = new WaitingLine();
  /** Waiting records of paused tasks (out of the line). */
  readonly paused = new Map<string, TaskRecord>();
  /**
   * Waiting records set aside by `stop()`: they stay queued (in the store, for a later run) but
   * are no longer admitted. Only the children of running composite tasks stay in the line.
   */
  readonly parked = new Map<string, TaskRecord>();

  /** Whether the task waits: in line (retries included), paused or set aside. */
  has(id: string): boolean {
    return this.line.has(id) || this.paused.has(id) || this.parked.has(id);
  }

  /** The record of a waiting task, wherever it waits. */
  get(id: string): TaskRecord | undefined {
    return this.line.get(id) ?? this.paused.get(id) ?? this.parked.get(id);
  }

  /** How many tasks wait, paused and set-aside ones included. */
  get size(): number {
    return this.line.size + this.paused.size + this.parked.size;
  }

  countByPriority(): Record<Priority, number> {
    const counts = this.line.countByPriority();
    for (const record of this.paused.values()) counts[record.priority]++;
    for (const record of this.parked.values()) counts[record.priority]++;
    return counts;
  }

  /** Every task still waiting (for statistics and listings). */
  records(): TaskRecord[] {
    return [...this.line.records(), ...this.paused.values(), ...this.parked.values()];
  }

  /** Sets a task aside for a later run. */
  park(record: TaskRecord): void {
    this.parked.set(record.id, record);
  }

  /** Sets aside every task in line for which `stays` is false. */
  parkAllBut(stays: (record: TaskRecord) => boolean): void {
    for (const record of [...this.line.records()]) {
      if (stays(record)) continue;
      this.line.remove(record.id);
      this.parked.set(record.id, record);
    }
  }

  /** Takes a task out, wherever it waits. */
  remove(id: string): void {
    this.line.remove(id);
    this.paused.delete(id);
    this.parked.delete(id);
  }
}
