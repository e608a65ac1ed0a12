import { PRIORITIES_HIGH_FIRST, type Priority, priorityRank } from '../../machines/task-status.js';
import { MinHeap } from '../internal/min-heap.js';
import type { TaskRecord } from '../stores/types.js';
import type { WaitingSource } from './admission-loop.js';

/** One place in the line. Left behind (not `live`) when its task is cancelled or paused. */
interface Entry {
  record: TaskRecord;
  live: boolean;
  /** For retries: not before this time (ms). */
  notBefore: number;
  /** When the whole task's deadline passes (ms); `Infinity` when it has none. */
  expiresAt: number;
}

/**
 * The supervisor's waiting line: one heap per priority, FIFO by submission order (`seq`) within a
 * level, so a retry or a resumed task goes back to the place its submission gave it; and one heap
 * of retries that are not yet due, by due time. Removal is lazy (O(1)); every operation is
 * O(log n) or better, so nothing costs more as the line grows. Positions are computed when read.
 * The admission loop reads it as its `WaitingSource`.
 * @internal
 */
export class WaitingLine implements WaitingSource {
  private readonly levels: MinHeap<Entry>[] = [0, 1, 2, 3].map(
    () => new MinHeap<Entry>((e) => e.record.seq),
  );
  private readonly delayed = new MinHeap<Entry>((e) => e.notBefore);
  private readonly deadlines = new MinHeap<Entry>((e) => e.expiresAt);
  private readonly byId = new Map<string, Entry>();
  private readonly counts = [0, 0, 0, 0];

  /** Tasks in the line (due or not). */
  get size(): number {
    return this.byId.size;
  }

  /** Waiting tasks per priority (retries not yet due included). */
  countByPriority(): Record<Priority, number> {
    const out = { LOW: 0, MEDIUM: 0, HIGH: 0, URGENT: 0 } as Record<Priority, number>;
    for (const p of PRIORITIES_HIGH_FIRST) out[p] = this.counts[priorityRank(p)] ?? 0;
    return out;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): TaskRecord | undefined {
    return this.byId.get(id)?.record;
  }

  /** Puts a task in line; a retry waits in the delayed heap until `notBefore`. */
  push(record: TaskRecord, notBefore = 0): void {
    if (this.byId.has(record.id)) return;
    const deadline = record.config.deadline;
    const expiresAt =
      deadline === undefined ? Number.POSITIVE_INFINITY : record.createdAt + deadline * 1000;
    const entry: Entry = { record, live: true, notBefore, expiresAt };
    this.byId.set(record.id, entry);
    if (deadline !== undefined) this.deadlines.push(entry);
    const rank = priorityRank(record.priority);
    this.counts[rank] = (this.counts[rank] ?? 0) + 1;
    if (notBefore > 0) {
      this.delayed.push(entry);
    } else {
      (this.levels[rank] as MinHeap<Entry>).push(entry);
    }
  }

  /** Takes a task out of the line (cancel, pause). O(1): its entry is skipped later. */
  remove(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.drop(entry);
    return true;
  }

  /** Moves retries whose time has come into their priority level. */
  promoteDue(now: number): void {
    for (;;) {
      const top = this.delayed.peek();
      if (top === undefined || top.notBefore > now) return;
      this.delayed.pop();
      if (!top.live) continue;
      top.notBefore = 0;
      (this.levels[priorityRank(top.record.priority)] as MinHeap<Entry>).push(top);
    }
  }

  /** When the earliest whole-task deadline of a waiting task passes, if any has one. */
  nextExpiryAt(): number | undefined {
    for (;;) {
      const top = this.deadlines.peek();
      if (top === undefined) return undefined;
      if (top.live) return top.expiresAt;
      this.deadlines.pop();
    }
  }

  /** Takes every task whose deadline has passed out of the line. */
  takeExpired(now: number): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (;;) {
      const top = this.deadlines.peek();
      if (top === undefined || (top.live && top.expiresAt > now)) return out;
      this.deadlines.pop();
      if (!top.live) continue;
      this.drop(top);
      out.push(top.record);
    }
  }

  /** The retry that falls due first, and when, if any is waiting. */
  nextDue(): { record: TaskRecord; notBefore: number } | undefined {
    for (;;) {
      const top = this.delayed.peek();
      if (top === undefined) return undefined;
      if (top.live) return top;
      this.delayed.pop();
    }
  }

  /** The first due task in priority order, without taking it. */
  peek(): TaskRecord | undefined {
    for (let rank = 3; rank >= 0; rank--) {
      const heap = this.levels[rank] as MinHeap<Entry>;
      for (;;) {
        const top = heap.peek();
        if (top === undefined) break;
        if (top.live) return top.record;
        heap.pop();
      }
    }
    return undefined;
  }

  /** Takes the task `peek` returned out of the line. */
  shift(): TaskRecord | undefined {
    const record = this.peek();
    if (record === undefined) return undefined;
    const entry = this.byId.get(record.id);
    if (entry !== undefined) this.drop(entry);
    return record;
  }

  /**
   * How many due tasks stand before this one (0 = head). O(n): computed only when read.
   * `undefined` when the task is not in line or is a retry that is not yet due.
   */
  positionOf(id: string): number | undefined {
    const entry = this.byId.get(id);
    if (entry === undefined || entry.notBefore > 0) return undefined;
    const rank = priorityRank(entry.record.priority);
    let ahead = 0;
    for (let r = 3; r > rank; r--) {
      for (const e of (this.levels[r] as MinHeap<Entry>).values()) if (e.live) ahead++;
    }
    for (const e of (this.levels[rank] as MinHeap<Entry>).values()) {
      if (e.live && e.record.seq < entry.record.seq) ahead++;
    }
    return ahead;
  }

  /** Every task in line, in no particular order. */
  records(): IterableIterator<TaskRecord> {
    const entries = this.byId.values();
    return (function* () {
      for (const e of entries) yield e.record;
    })();
  }

  private drop(entry: Entry): void {
    entry.live = false;
    this.byId.delete(entry.record.id);
    const rank = priorityRank(entry.record.priority);
    this.counts[rank] = (this.counts[rank] ?? 1) - 1;
  }
}
