import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DashboardFeed } from '../../src/dashboard/feed.js';
import { UpdateStream } from '../../src/dashboard/stream.js';
import type { EngineEvent } from '../../src/runtime/events.js';
import { advance, createClock } from '../helpers/virtual-time.js';

/** A response that records what was written; `full` makes `write` report a full buffer. */
class FakeResponse extends EventEmitter {
  messages: string[] = [];
  full = false;
  ended = false;
  writeHead() {
    return this;
  }
  write(chunk: string): boolean {
    if (chunk.startsWith('event: update')) this.messages.push(chunk);
    return !this.full;
  }
  end() {
    this.ended = true;
  }
}

function completed(at: number, i: number): EngineEvent {
  return {
    type: 'task.completed',
    status: 'completed',
    taskId: `t${i}`,
    taskType: 'ECHO',
    priority: 'MEDIUM',
    at,
    attempts: 1,
  };
}

function setUp() {
  const clock = createClock();
  const events$ = new Subject<EngineEvent>();
  const feed = new DashboardFeed(events$, { points: 600, failures: 50 });
  let builds = 0;
  const stream = new UpdateStream(
    feed,
    async (withChanges) => {
      builds++;
      return withChanges ? feed.take() : { first: true };
    },
    clock,
    { intervalMs: 250, idleMs: 1000 },
  );
  const add = () => {
    const response = new FakeResponse();
    stream.add(response as unknown as ServerResponse);
    return response;
  };
  return { clock, events$, feed, stream, add, builds: () => builds };
}

describe('UpdateStream (virtual time)', () => {
  it('sends at most 4 messages a second however many events arrive, and loses no count', async () => {
    const { clock, events$, stream, add } = setUp();
    const page = add();
    await advance(clock, 0);
    expect(page.messages).toHaveLength(1);
    let i = 0;
    // 10,000 events a second for 3 seconds, 10 every millisecond.
    for (let ms = 0; ms < 3000; ms++) {
      for (let k = 0; k < 10; k++) events$.next(completed(clock.now(), i++));
      await advance(clock, 1);
    }
    await advance(clock, 250);
    const updates = page.messages.slice(1).map((m) => JSON.parse(m.split('data: ')[1] as string));
    expect(page.messages.length - 1).toBeLessThanOrEqual(3 * 4 + 1);
    expect(page.messages.length - 1).toBeGreaterThanOrEqual(3 * 4 - 1);
    const counted = updates.reduce((n, u) => n + (u.counts['task.completed'] ?? 0), 0);
    expect(counted).toBe(30_000);
    stream.close();
    expect(page.ended).toBe(true);
  });

  it('sends once a second while nothing happens, and stops its timer when the last page leaves', async () => {
    const { clock, stream, add, builds } = setUp();
    const page = add();
    await advance(clock, 5000, 50);
    expect(page.messages.length).toBeGreaterThanOrEqual(5);
    expect(page.messages.length).toBeLessThanOrEqual(6);
    page.emit('close');
    expect(stream.size).toBe(0);
    const before = builds();
    await advance(clock, 5000, 50);
    expect(builds()).toBe(before);
  });

  it('skips a page whose buffer is full until it drains', async () => {
    const { clock, events$, add } = setUp();
    const slow = add();
    const fast = add();
    await advance(clock, 0);
    slow.full = true;
    events$.next(completed(clock.now(), 1));
    await advance(clock, 250);
    const slowCount = slow.messages.length;
    for (let n = 0; n < 8; n++) {
      events$.next(completed(clock.now(), n));
      await advance(clock, 250);
    }
    expect(slow.messages.length).toBe(slowCount);
    expect(fast.messages.length).toBeGreaterThan(slowCount + 5);
    slow.full = false;
    slow.emit('drain');
    events$.next(completed(clock.now(), 99));
    await advance(clock, 250);
    expect(slow.messages.length).toBe(slowCount + 1);
  });
});
