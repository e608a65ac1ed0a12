import { PRIORITIES_HIGH_FIRST, type Priority, priorityRank } from '../../machines/task-status.js';
import { MinHeap } from '../internal/min-heap.js';
import type { TaskRecord, WaitingPosition } from '../stores/types.js';
import type { ModelSet, WaitingSource } from './admission-loop.js';

/**
 * Where a line with a durable store keeps the tasks beyond its window: the store itself. `load`
 * reads the queued and due tasks after a place in admission order (after the journal's pending
 * writes have landed); `refilled` tells the supervisor that tasks came back in line.
 */
export interface Backlog {
  /** How many due tasks the line keeps in memory at most. */
  readonly window: number;
  load(after: WaitingPosition | undefined, limit: number): Promise<TaskRecord[]>;
  refilled(): void;
  /** A refill failed (the store's error); the line tries again at its next change. */
  failed(error: unknown): void;
}

/** Admission order as one number: priority (URGENT first), then `seq`. */
function orderOf(record: TaskRecord): number {
  return (3 - priorityRank(record.priority)) * 2 ** 45 + record.seq;
}

/** The place just before `record` in admission order (ids sort after ''). */
function placeBefore(record: TaskRecord): WaitingPosition {
  return { priority: record.priority, seq: record.seq, id: '' };
}

function isBefore(a: WaitingPosition, b: WaitingPosition): boolean {
  const ra = priorityRank(a.priority);
  const rb = priorityRank(b.priority);
  if (ra !== rb) return ra > rb;
  if (a.seq !== b.seq) return a.seq < b.seq;
  return a.id < b.id;
}

/** One place in the line. Left behind (not `live`) when its task is cancelled or paused. */
interface Entry {
  record: TaskRecord;
  live: boolean;
  /** For retries: not before this time (ms). */
  notBefore: number;
  /** When the whole task's deadline passes (ms); `Infinity` when it has none. */
  expiresAt: number;
}

/** Dropped entries a heap may hold beyond twice its live ones before it is rebuilt. */
const STALE_SLACK = 1_024;

/**
 * The supervisor's waiting line: per model, one heap per priority, FIFO by submission order
 * (`seq`) within a level, so a retry or a resumed task goes back to the place its submission gave
 * it, and the admission loop can look past a model whose own limits hold it; and one heap
 * of retries that are not yet due, by due time. Removal is lazy (O(1); `lastFirst` and
 * `deadlines`, which may never pop what was removed, are rebuilt when it is most of them: O(1) a
 * task on average); every operation is O(log n) or better, so nothing costs more as the line grows. Positions are computed when read.
 * The admission loop reads it as its `WaitingSource`.
 *
 * **Paging** (with a durable store, `usePaging`): at most `window` due tasks stay in memory; the
 * rest of the backlog stays in the store only. The tasks in memory are always the first ones in
 * admission order: every task in the backlog comes after `backlogAfter`, and every task in
 * memory before it. A task that arrives beyond that place stays in the backlog; one that arrives
 * before it while memory is full pushes the last task in memory out to the backlog. When memory
 * falls under half the window, the next page is read from the store after `backlogAfter`; a page
 * read while the place moved is read again. Retries that are not yet due and paused tasks stay
 * in memory. The backlog is counted by priority, so `size` stays exact.
 * @internal
 */
export class WaitingLine implements WaitingSource {
  /** With paging: the store behind the line, and the backlog's state. */
  private backlog: Backlog | undefined;
  /** Due tasks of the backlog (in the store only), by rank. */
  private readonly spilled = [0, 0, 0, 0];
  private spilledTotal = 0;
  /** Every task of the backlog comes after this place; `undefined` when the backlog is empty. */
  private backlogAfter: WaitingPosition | undefined;
  /** Due entries in memory (in the levels). */
  private dueInMemory = 0;
  /** The due entries in memory, last in admission order first (for pushing one out). */
  private lastFirst: MinHeap<Entry> | undefined;
  private refilling = false;
  /** Bumped whenever `backlogAfter` moves back: a page read before is stale. */
  private generation = 0;
  /**
   * Tasks taken out of the backlog by a cancel, and their places: a page read before must not
   * bring them back. Forgotten once the backlog's place has moved past them.
   */
  private readonly gone = new Map<string, WaitingPosition>();

  /** Due entries: per model, one heap per priority level, by `seq`. */
  private readonly levels = new Map<string, MinHeap<Entry>[]>();
  private readonly delayed = new MinHeap<Entry>((e) => e.notBefore);
  private readonly deadlines = new MinHeap<Entry>((e) => e.expiresAt);
  private readonly byId = new Map<string, Entry>();
  private readonly counts = [0, 0, 0, 0];

  /** Tasks in the line (due or not), the backlog in the store included. */
  get size(): number {
    return this.byId.size + this.spilledTotal;
  }

  /** Tasks of the line that are in the store only (with paging). */
  get backlogSize(): number {
    return this.spilledTotal;
  }

  /** Waiting tasks per priority (retries not yet due and the backlog included). */
  countByPriority(): Record<Priority, number> {
    const out = { LOW: 0, MEDIUM: 0, HIGH: 0, URGENT: 0 } as Record<Priority, number>;
    for (const p of PRIORITIES_HIGH_FIRST) {
      const rank = priorityRank(p);
      out[p] = (this.counts[rank] ?? 0) + (this.spilled[rank] ?? 0);
    }
    return out;
  }

  /**
   * Keeps at most `backlog.window` due tasks in memory from now on, the rest in the store. Called
   * once, before anything is in line (a durable store's recovery).
   */
  usePaging(backlog: Backlog): void {
    this.backlog = backlog;
    this.lastFirst = new MinHeap<Entry>((e) => -orderOf(e.record));
  }

  /**
   * The store holds `counts` more queued tasks, by priority, all after `after` in admission order
   * (recovery read the ones before into memory).
   */
  addBacklog(counts: Readonly<Record<Priority, number>>, after: WaitingPosition): void {
    for (const p of PRIORITIES_HIGH_FIRST) {
      const n = counts[p];
      if (n <= 0) continue;
      const rank = priorityRank(p);
      this.spilled[rank] = (this.spilled[rank] ?? 0) + n;
      this.spilledTotal += n;
    }
    if (this.spilledTotal > 0) this.backlogAfter = after;
  }

  /**
   * A task of the backlog was cancelled (its record read from the store): it leaves the count,
   * and a page read before cannot bring it back.
   */
  leaveBacklog(record: TaskRecord): void {
    const rank = priorityRank(record.priority);
    if ((this.spilled[rank] ?? 0) <= 0) return;
    this.spilled[rank] = (this.spilled[rank] ?? 1) - 1;
    this.spilledTotal--;
    this.gone.set(record.id, { priority: record.priority, seq: record.seq, id: record.id });
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
      this.addDue(entry);
    }
  }

  /** A due entry joins its level, or, with paging, the backlog when it comes after it. */
  private addDue(entry: Entry): void {
    const backlog = this.backlog;
    if (backlog !== undefined) {
      const after = this.backlogAfter;
      if (after !== undefined && isBefore(after, entry.record)) {
        this.toBacklog(entry);
        // Memory may be low already (its tasks all started): the page must come now.
        this.refillIfLow();
        return;
      }
      this.dueInMemory++;
      this.lastFirst?.push(entry);
    }
    this.levelOf(entry.record).push(entry);
    if (backlog !== undefined && this.dueInMemory > backlog.window) this.pushOutLast();
  }

  /** Memory holds more than the window: the last due task in admission order goes to the backlog. */
  private pushOutLast(): void {
    const heap = this.lastFirst as MinHeap<Entry>;
    for (;;) {
      const last = heap.pop();
      if (last === undefined) return;
      if (!last.live || last.notBefore > 0) continue;
      this.dueInMemory--;
      this.toBacklog(last);
      const place = placeBefore(last.record);
      if (this.backlogAfter === undefined || isBefore(place, this.backlogAfter)) {
        this.backlogAfter = place;
        this.generation++;
      }
      return;
    }
  }

  /** The entry leaves memory for the backlog (its task is in the store, waiting). */
  private toBacklog(entry: Entry): void {
    entry.live = false;
    this.byId.delete(entry.record.id);
    const rank = priorityRank(entry.record.priority);
    this.counts[rank] = (this.counts[rank] ?? 1) - 1;
    this.spilled[rank] = (this.spilled[rank] ?? 0) + 1;
    this.spilledTotal++;
    this.letGoOfDropped();
  }

  /** With paging, reads the next page of the backlog when memory runs under half the window. */
  private refillIfLow(): void {
    const backlog = this.backlog;
    if (backlog === undefined || this.refilling || this.spilledTotal === 0) return;
    if (this.dueInMemory * 2 >= backlog.window) return;
    this.refilling = true;
    const generation = this.generation;
    const after = this.backlogAfter;
    const limit = Math.max(1, Math.min(1_000, backlog.window - this.dueInMemory));
    backlog.load(after, limit).then(
      (records) => {
        this.refilling = false;
        if (generation !== this.generation) {
          this.refillIfLow();
          return;
        }
        this.takeFromBacklog(records, limit);
        backlog.refilled();
        this.refillIfLow();
      },
      (error: unknown) => {
        this.refilling = false;
        backlog.failed(error);
      },
    );
  }

  /** A page of the backlog comes back in line. */
  private takeFromBacklog(records: readonly TaskRecord[], limit: number): void {
    for (const record of records) {
      // In memory already (a retry that waits), or cancelled while in the backlog.
      if (this.byId.has(record.id) || this.gone.delete(record.id)) continue;
      const rank = priorityRank(record.priority);
      this.spilled[rank] = Math.max(0, (this.spilled[rank] ?? 0) - 1);
      this.spilledTotal = Math.max(0, this.spilledTotal - 1);
      const deadline = record.config.deadline;
      const expiresAt =
        deadline === undefined ? Number.POSITIVE_INFINITY : record.createdAt + deadline * 1000;
      const entry: Entry = { record, live: true, notBefore: 0, expiresAt };
      this.byId.set(record.id, entry);
      if (deadline !== undefined) this.deadlines.push(entry);
      this.counts[rank] = (this.counts[rank] ?? 0) + 1;
      this.dueInMemory++;
      this.lastFirst?.push(entry);
      this.levelOf(record).push(entry);
    }
    const last = records[records.length - 1];
    if (records.length < limit || last === undefined) {
      // The store has nothing more after the place: whatever the counts say, the backlog is empty.
      this.spilled.fill(0);
      this.spilledTotal = 0;
      this.backlogAfter = undefined;
      this.gone.clear();
    } else if (this.spilledTotal === 0) {
      // Every task the backlog counted is back (the counts are exact): nothing waits on disk.
      this.backlogAfter = undefined;
      this.gone.clear();
    } else {
      const after = { priority: last.priority, seq: last.seq, id: last.id };
      this.backlogAfter = after;
      // A page comes from after this place only: a cancelled task before it cannot come back.
      for (const [id, place] of this.gone) if (!isBefore(after, place)) this.gone.delete(id);
    }
  }

  /** Takes a task out of the line (cancel, pause). O(1) on average: its entry is skipped later. */
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
      this.addDue(top);
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

  /**
   * The first due task in priority order, then `seq`, without taking it; with `skipModels`, the
   * first of a model not among them. O(models × 4) plus the cancelled entries it clears.
   */
  peek(skipModels?: ModelSet): TaskRecord | undefined {
    for (let rank = 3; rank >= 0; rank--) {
      let first: Entry | undefined;
      for (const [model, levels] of this.levels) {
        if (skipModels?.has(model)) continue;
        const top = firstLive(levels[rank] as MinHeap<Entry>);
        if (top !== undefined && (first === undefined || top.record.seq < first.record.seq)) {
          first = top;
        }
      }
      if (first !== undefined) return first.record;
    }
    return undefined;
  }

  /**
   * The first `n` due tasks in admission order (the first is `peek`'s), skipping `skipModels` as
   * `peek` does. O(n × models × log size): each level's first entries are popped and pushed back.
   */
  peekMany(n: number, skipModels?: ModelSet): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (let rank = 3; rank >= 0 && out.length < n; rank--) {
      const found: Entry[] = [];
      for (const [model, levels] of this.levels) {
        if (skipModels?.has(model)) continue;
        const heap = levels[rank] as MinHeap<Entry>;
        const popped: Entry[] = [];
        while (popped.length < n - out.length) {
          const top = heap.pop();
          if (top === undefined) break;
          // A cancelled entry is dropped for good, as `peek` would.
          if (top.live) popped.push(top);
        }
        for (const entry of popped) heap.push(entry);
        found.push(...popped);
      }
      found.sort((a, b) => a.record.seq - b.record.seq);
      for (const entry of found) {
        if (out.length >= n) break;
        out.push(entry.record);
      }
    }
    return out;
  }

  /** Takes a task `peek` returned out of the line. */
  take(record: TaskRecord): void {
    const entry = this.byId.get(record.id);
    if (entry !== undefined) this.drop(entry);
  }

  /** The heap of `record`'s model and priority. */
  private levelOf(record: TaskRecord): MinHeap<Entry> {
    const model = record.reservation.model;
    let levels = this.levels.get(model);
    if (levels === undefined) {
      levels = [0, 1, 2, 3].map(() => new MinHeap<Entry>((e) => e.record.seq));
      this.levels.set(model, levels);
    }
    return levels[priorityRank(record.priority)] as MinHeap<Entry>;
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
    for (const levels of this.levels.values()) {
      for (let r = 3; r > rank; r--) {
        for (const e of (levels[r] as MinHeap<Entry>).values()) if (e.live) ahead++;
      }
      for (const e of (levels[rank] as MinHeap<Entry>).values()) {
        if (e.live && e.record.seq < entry.record.seq) ahead++;
      }
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
    if (this.backlog !== undefined) {
      if (entry.notBefore === 0) this.dueInMemory--;
      this.refillIfLow();
    }
    this.letGoOfDropped();
  }

  /**
   * A dropped entry (admitted, cancelled, or pushed out to the store) stays in `lastFirst` and
   * `deadlines` until it reaches the top, and the tasks
   * admitted first are the last ones `lastFirst` pops: without this, every task that went
   * through memory would stay referenced (its record, result and all) for as long as the queue
   * runs. When dropped entries are most of such a heap, it is rebuilt from the live ones; an
   * entry is copied once each time the heap doubles, so O(1) a task.
   */
  private letGoOfDropped(): void {
    const lastFirst = this.lastFirst;
    if (lastFirst !== undefined && lastFirst.size > 2 * this.dueInMemory + STALE_SLACK) {
      lastFirst.retain((e) => e.live);
    }
    if (this.deadlines.size > 2 * this.byId.size + STALE_SLACK) {
      this.deadlines.retain((e) => e.live);
    }
  }

  /** Entries in `lastFirst`, `deadlines` and `gone` (for tests: they stay bounded). */
  get heldEntries(): { lastFirst: number; deadlines: number; gone: number } {
    return {
      lastFirst: this.lastFirst?.size ?? 0,
      deadlines: this.deadlines.size,
      gone: this.gone.size,
    };
  }
}

/** The first live entry of a heap, clearing the cancelled ones above it. */
function firstLive(heap: MinHeap<Entry>): Entry | undefined {
  for (;;) {
    const top = heap.peek();
    if (top === undefined || top.live) return top;
    heap.pop();
  }
}
