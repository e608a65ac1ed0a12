/**
 * The Redis store: the conformance suite on the Redis at 127.0.0.1:6379 (a fresh prefix per
 * test), then what only Redis has: the lease that makes one process the holder, the server
 * checks at open (unreachable, evicting keys, a newer or foreign layout), the order of its
 * sortable `seq` text, and a store reopened after its holder vanished without closing.
 */

import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError, type StoreErrorReason, ValidationError } from '../../src/errors.js';
import { openRedisStore, type RedisTaskStore } from '../../src/redis/index.js';
import { decodeSeq, encodeSeq, recordArgs } from '../../src/redis/keys.js';
import { COMMIT_SCRIPT } from '../../src/redis/scripts.js';
import type { TaskStore } from '../../src/stores/types.js';
import {
  dropPrefix as dropKeys,
  freePort,
  freshPrefix,
  SpareRedis,
  REDIS_URL as URL,
} from '../helpers/redis.js';
import { describeTaskStore, makeRecord, rejectionOf } from './conformance.js';

const admin = new Redis(URL, { lazyConnect: true });

function dropPrefix(prefix: string): Promise<void> {
  return dropKeys(admin, prefix);
}

afterAll(async () => {
  await admin.quit();
});

describeTaskStore(
  'redis',
  () => openRedisStore({ url: URL, prefix: freshPrefix() }),
  async (store) => {
    await store.close();
    const prefix = /\(prefix '([^']+)'\)/.exec((store as RedisTaskStore).location)?.[1];
    if (prefix !== undefined) await dropPrefix(prefix);
  },
);

function expectStoreError(error: unknown, reason: StoreErrorReason): void {
  expect(error).toBeInstanceOf(StoreError);
  const storeError = error as StoreError;
  expect(storeError.reason, storeError.message).toBe(reason);
  expect(storeError.code).toBe('STORE');
}

describe('RedisTaskStore', () => {
  it("is named 'redis', is durable, and hands out copies", async () => {
    const prefix = freshPrefix();
    const store = await openRedisStore({ url: URL, prefix });
    try {
      expect(store.name).toBe('redis');
      expect(store.durable).toBe(true);
      expect((store as TaskStore).holdsRecordsByReference).toBeFalsy();
      expect(store.location).toBe(`${URL} (prefix '${prefix}')`);
      const record = makeRecord({ data: { list: [1, 2] } });
      const expected = structuredClone(record);
      await store.insert([record]);
      (record.data as { list: number[] }).list.push(3);
      expect(await store.get(record.id)).toEqual(expected);
    } finally {
      await store.close();
      await dropPrefix(prefix);
    }
  });

  it('keeps what it holds across a reopen: tasks, keys, counts and the ledger', async () => {
    const prefix = freshPrefix();
    const first = await openRedisStore({ url: URL, prefix });
    const a = makeRecord({ idempotencyKey: 'reopen-a', priority: 'HIGH' });
    const b = makeRecord({ status: 'completed', completedAt: 50 });
    await first.commit({ insert: [a, b], ledger: [{ at: 1, taskId: a.id, event: { n: 1 } }] });
    await first.close();
    const second = await openRedisStore({ url: URL, prefix });
    try {
      expect(await second.get(a.id)).toEqual(a);
      expect((await second.listWaiting()).items).toEqual([a]);
      expect(await second.findByIdempotencyKeys(['reopen-a'])).toEqual(
        new Map([['reopen-a', a.id]]),
      );
      expect(await second.readLedger()).toEqual([{ seq: 1, at: 1, taskId: a.id, event: { n: 1 } }]);
      expect(await second.lastSeq()).toBe(b.seq);
      expect(await second.removeFinishedBefore(51)).toBe(1);
    } finally {
      await second.close();
      await dropPrefix(prefix);
    }
  });

  it('is held by one process at a time: a second open fails with reason locked', async () => {
    const prefix = freshPrefix();
    const holder = await openRedisStore({ url: URL, prefix });
    try {
      const error = await rejectionOf(openRedisStore({ url: URL, prefix }));
      expectStoreError(error, 'locked');
      expect((error as Error).message).toContain(prefix);
      expect((error as Error).message).toContain(`:${process.pid}:`);
    } finally {
      await holder.close();
    }
    // Closed: the lease is given up, and the next process opens at once.
    const next = await openRedisStore({ url: URL, prefix });
    await next.close();
    await dropPrefix(prefix);
  });

  it('opens after a holder that vanished without closing, once its lease ran out', async () => {
    const prefix = freshPrefix();
    // What a crashed holder leaves: its lease, which nobody renews.
    await admin.set(`${prefix}:owner`, 'crashed-host:1:lease', 'PX', 300);
    expectStoreError(await rejectionOf(openRedisStore({ url: URL, prefix })), 'locked');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const store = await openRedisStore({ url: URL, prefix });
    await store.close();
    await dropPrefix(prefix);
  });

  it('writes nothing once another process took the store over (the lease was lost)', async () => {
    const prefix = freshPrefix();
    const store = await openRedisStore({ url: URL, prefix });
    try {
      await store.insert([makeRecord()]);
      // Another process took the prefix after this one's lease ran out.
      await admin.set(`${prefix}:owner`, 'other-host:2:lease');
      const record = makeRecord();
      for (const write of [
        store.insert([record]),
        store.commit({ ledger: [{ at: 1, event: 'x' }] }),
        store.removeFinishedBefore(10),
        store.compactLedger(1, { at: 1, event: 'x' }),
      ]) {
        expectStoreError(await rejectionOf(write), 'locked');
      }
      expect(await store.get(record.id)).toBeUndefined();
      expect(await store.readLedger()).toEqual([]);
    } finally {
      await store.close();
      // Closing did not take the other process's lease away.
      expect(await admin.get(`${prefix}:owner`)).toBe('other-host:2:lease');
      await dropPrefix(prefix);
    }
  });

  it('fails to open with reason unreachable when nothing answers, naming the server', async () => {
    const port = await freePort();
    const url = `redis://user:secret@127.0.0.1:${port}`;
    const error = await rejectionOf(openRedisStore({ url, connectTimeoutMs: 1000 }));
    expectStoreError(error, 'unreachable');
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).message).not.toContain('secret');
  });

  it('refuses a server that evicts keys when full (reason unsafe)', async () => {
    const spare = await SpareRedis.start([
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'allkeys-lru',
    ]);
    try {
      const error = await rejectionOf(openRedisStore({ url: spare.url }));
      expectStoreError(error, 'unsafe');
      expect((error as Error).message).toContain('allkeys-lru');
      expect((error as Error).message).toContain('noeviction');
    } finally {
      await spare.stop();
    }
  });

  it('refuses a prefix written by a newer layout or by something else', async () => {
    const newer = freshPrefix();
    await admin.hset(`${newer}:meta`, 'version', '2');
    expectStoreError(
      await rejectionOf(openRedisStore({ url: URL, prefix: newer })),
      'newer-schema',
    );
    const foreign = freshPrefix();
    await admin.hset(`${foreign}:meta`, 'version', 'not-a-number');
    expectStoreError(await rejectionOf(openRedisStore({ url: URL, prefix: foreign })), 'foreign');
    // Neither open took the lease.
    expect(await admin.exists(`${newer}:owner`, `${foreign}:owner`)).toBe(0);
    await dropPrefix(newer);
    await dropPrefix(foreign);
  });

  it('rejects bad options with ValidationError naming the option and the value', async () => {
    const cases: Array<[unknown, string]> = [
      [{ url: 'http://127.0.0.1:6379' }, 'options.url'],
      [{ prefix: 'has space' }, 'options.prefix'],
      [{ prefix: '' }, 'options.prefix'],
      [{ leaseMs: 10 }, 'options.leaseMs'],
      [{ urll: URL }, 'urll'],
    ];
    for (const [options, named] of cases) {
      const error = await rejectionOf(openRedisStore(options as never));
      expect(error, named).toBeInstanceOf(ValidationError);
      expect((error as Error).message, named).toContain(named);
    }
  });

  it('applies a write sent twice (ioredis resends one whose reply was lost) once', async () => {
    const prefix = freshPrefix();
    const store = await openRedisStore({ url: URL, prefix });
    const raw = new Redis(URL);
    raw.defineCommand('commitOnce', { numberOfKeys: 0, lua: COMMIT_SCRIPT });
    const send = (raw as unknown as { commitOnce(...args: string[]): Promise<unknown> }).commitOnce;
    try {
      const token = String(await admin.get(`${prefix}:owner`));
      const record = makeRecord();
      const args = [prefix, token, `${token}:resent`, '1', '0', '0', '1'];
      args.push(
        ...recordArgs(record, JSON.stringify(record)),
        JSON.stringify({ at: 1, event: 'x' }),
      );
      expect(await send.apply(raw, args)).toEqual(['ok', 0]);
      // The same write again: not a duplicate id, and no second ledger entry.
      expect(await send.apply(raw, args)).toEqual(['ok', 0]);
      expect(await store.readLedger()).toEqual([{ seq: 1, at: 1, event: 'x' }]);
      expect(await store.get(record.id)).toEqual(record);
      // Another write with the same content is a write of its own, and clashes.
      const again = [prefix, token, `${token}:other`, ...args.slice(3)];
      expect(await send.apply(raw, again)).toEqual(['dupid', record.id]);
    } finally {
      raw.disconnect();
      await store.close();
      await dropPrefix(prefix);
    }
  });

  it('rejects a record it cannot write as JSON, writing nothing', async () => {
    const prefix = freshPrefix();
    const store = await openRedisStore({ url: URL, prefix });
    try {
      const good = makeRecord();
      const bad = makeRecord({ data: { n: 1n } });
      const error = await rejectionOf(store.insert([good, bad]));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toContain(bad.id);
      expect(await store.get(good.id)).toBeUndefined();
    } finally {
      await store.close();
      await dropPrefix(prefix);
    }
  });
});

describe('the sortable text of seq', () => {
  it('orders as the numbers do, and decodes to the same number', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (a, b) => {
          const ea = encodeSeq(a);
          const eb = encodeSeq(b);
          expect(ea).toHaveLength(16);
          expect(decodeSeq(ea)).toBe(a === 0 ? 0 : a);
          const byNumber = a < b ? -1 : a > b ? 1 : 0;
          const byText = ea < eb ? -1 : ea > eb ? 1 : 0;
          expect(byText).toBe(byNumber);
        },
      ),
    );
  });
});
