import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SupervisorEvent } from '../../machines/supervisor.machine.js';
import { priorityRank } from '../../machines/task-status.js';
import type { AdmissionView } from '../../src/runtime/admission.js';
import {
  AdmissionLoop,
  type ModelSet,
  type WaitingSource,
} from '../../src/runtime/admission-loop.js';
import { WaitingLine } from '../../src/runtime/waiting-line.js';
import type { TaskRecord } from '../../src/stores/types.js';
import { createClock } from '../helpers/virtual-time.js';
import { makeRecord } from '../stores/conformance.js';

/** Higher priority first, then submission order: the order `WaitingSource` promises. */
const byAdmissionOrder = (a: TaskRecord, b: TaskRecord): number =>
  priorityRank(b.priority) - priorityRank(a.priority) || a.seq - b.seq;

/**
 * The smallest `WaitingSource`: sorted arrays, no heaps, nothing shared with `WaitingLine`. The
 * admission loop must work from it alone (issue 16's store-backed source plugs in here).
 */
class ArraySource implements WaitingSource {
  private readonly due: TaskRecord[] = [];
  private readonly later: { record: TaskRecord; notBefore: number }[] = [];

  get size(): number {
    return this.due.length + this.later.length;
  }

  add(record: TaskRecord, notBefore = 0): void {
    if (notBefore > 0) this.later.push({ record, notBefore });
    else this.due.push(record);
    this.due.sort(byAdmissionOrder);
    this.later.sort((a, b) => a.notBefore - b.notBefore);
  }

  peek(skipModels?: ModelSet): TaskRecord | undefined {
    return this.due.find((r) => !skipModels?.has(r.reservation.model));
  }

  peekMany(n: number, skipModels?: ModelSet): TaskRecord[] {
    return this.due.filter((r) => !skipModels?.has(r.reservation.model)).slice(0, n);
  }

  take(record: TaskRecord): void {
    this.due.splice(this.due.indexOf(record), 1);
  }

  promoteDue(now: number): void {
    while (this.later[0] !== undefined && this.later[0].notBefore <= now) {
      this.add((this.later.shift() as { record: TaskRecord }).record);
    }
  }

  takeExpired(now: number): TaskRecord[] {
    const expired = this.due.filter((r) => expiresAt(r) <= now);
    for (const r of expired) this.due.splice(this.due.indexOf(r), 1);
    return expired;
  }

  nextDue(): { record: TaskRecord; notBefore: number } | undefined {
    return this.later[0];
  }

  nextExpiryAt(): number | undefined {
    const at = Math.min(...this.due.map(expiresAt));
    return Number.isFinite(at) ? at : undefined;
  }
}

function expiresAt(record: TaskRecord): number {
  const { deadline } = record.config;
  return deadline === undefined ? Number.POSITIVE_INFINITY : record.createdAt + deadline * 1000;
}

/** An admission loop over `source`, with `max` slots, no window and no budget. */
function loopOver(source: WaitingSource, max: number) {
  const clock = createClock();
  const slots = { max, used: 0 };
  const view: AdmissionView = {
    stopping: false,
    slots,
    // No window in force: admission reads nothing else of `rate`.
    rate: { active: false } as AdmissionView['rate'],
    budget: { check: () => ({ ok: true }), canEverFit: () => undefined, held: () => 0 },
    maxServerWaitMs: 60_000,
  };
  const started: string[] = [];
  const expired: string[] = [];
  const dispatched: SupervisorEvent[] = [];
  const loop = new AdmissionLoop({
    clock,
    line: source,
    view,
    lifecycle: {
      phase: 'running',
      startsPaused: false,
      drainsWith: () => true,
      resolveIdleWaiters: () => undefined,
    },
    control: {
      expire: (record) => expired.push(record.id),
      failWaiting: (record) => expect.fail(`${record.id} failed`),
    },
    park: (record) => expect.fail(`${record.id} parked`),
    start: (record, _now, limited) => {
      if (limited) slots.used++;
      started.push(record.id);
    },
    dispatch: (event) => dispatched.push(event),
  });
  return { loop, clock, slots, started, expired, dispatched };
}

describe('the admission loop takes waiting tasks from any WaitingSource', () => {
  it('admits in the order the source gives and stops at the first head that waits', () => {
    const source = new ArraySource();
    source.add(makeRecord({ id: 'low', priority: 'LOW' }));
    source.add(makeRecord({ id: 'urgent', priority: 'URGENT' }));
    source.add(makeRecord({ id: 'medium-1', priority: 'MEDIUM' }));
    source.add(makeRecord({ id: 'medium-2', priority: 'MEDIUM' }));
    const { loop, slots, started } = loopOver(source, 2);

    loop.admit();
    expect(started).toEqual(['urgent', 'medium-1']);
    // Strict: the head waits for a slot, and nothing behind it was looked at.
    expect(source.peek()?.id).toBe('medium-2');
    expect(loop.whyHeadWaits(false)).toEqual({
      taskId: 'medium-2',
      waitingFor: 'concurrency',
      until: undefined,
    });

    slots.used = 0;
    loop.admit();
    expect(started).toEqual(['urgent', 'medium-1', 'medium-2', 'low']);
    expect(source.size).toBe(0);
  });

  it('moves due retries in, takes expired tasks out, and wakes at the earliest of them', () => {
    const source = new ArraySource();
    const { loop, clock, started, expired, dispatched } = loopOver(source, 0);
    const now = clock.now();
    const withDeadline = makeRecord({ id: 'deadline', createdAt: now });
    withDeadline.config.deadline = 5;
    source.add(withDeadline);
    source.add(makeRecord({ id: 'retry', priority: 'HIGH' }), now + 2_000);

    loop.admit();
    loop.scheduleWake();
    expect(started).toEqual([]);
    expect(loop.whyHeadWaits(false)?.taskId).toBe('deadline');
    expect(loop.wakeAt).toBe(now + 2_000);

    clock.increment(2_000);
    expect(dispatched).toEqual([{ type: 'queue.wake' }]);
    loop.admit();
    loop.scheduleWake();
    // The retry is due and, being HIGH, is the head now.
    expect(loop.whyHeadWaits(false)?.taskId).toBe('retry');
    expect(loop.wakeAt).toBe(now + 5_000);

    clock.increment(3_000);
    loop.admit();
    expect(expired).toEqual(['deadline']);
    expect(source.size).toBe(1);
  });
});

describe('WaitingLine.peekMany', () => {
  it('gives the first n due tasks in admission order, skipping models, as peek does (property)', () => {
    const priorities = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            priority: fc.constantFrom(...priorities),
            model: fc.constantFrom('a', 'b', 'c'),
            cancelled: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 50 }),
        fc.subarray(['a', 'b', 'c']),
        (tasks, n, skipped) => {
          const line = new WaitingLine();
          const source = new ArraySource();
          tasks.forEach(({ priority, model, cancelled }, i) => {
            const record = makeRecord({ id: `t${i}`, priority, seq: i });
            record.reservation = { ...record.reservation, model };
            line.push(record);
            if (cancelled) line.remove(record.id);
            else source.add(record);
          });
          const skip = skipped.length === 0 ? undefined : new Set(skipped);
          const ids = (records: readonly TaskRecord[]) => records.map((r) => r.id);
          const many = line.peekMany(n, skip);
          expect(ids(many)).toEqual(ids(source.peekMany(n, skip)));
          // Nothing moved: peek and the next call agree.
          expect(line.peek(skip)?.id).toBe(many[0]?.id);
          expect(ids(line.peekMany(n, skip))).toEqual(ids(many));
        },
      ),
    );
  });
});
