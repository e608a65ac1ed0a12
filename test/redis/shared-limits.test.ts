/**
 * The shared limits on the Redis at 127.0.0.1:6379, through their own API: windows that count
 * every process's takes, on Redis's clock; budgets whose holds of a dead process are charged at
 * their worst case; takes given back without a charge. Real time with short windows; a wait is
 * checked by what the next take says, not by how long anything took.
 */

import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreError, ValidationError } from '../../src/errors.js';
import type { SharedLimitsConfig, SharedTake, SharedVerdict } from '../../src/limits/shared.js';
import { LEAVE_SCRIPT, TAKE_SCRIPT } from '../../src/redis/limits-scripts.js';
import { openSharedLimits, type RedisSharedLimits } from '../../src/redis/shared-limits.js';
import { dropPrefix, freePort, freshPrefix, REDIS_URL, SpareRedis } from '../helpers/redis.js';

const admin = new Redis(REDIS_URL);
const opened: RedisSharedLimits[] = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const limits of opened.splice(0)) await limits.close();
  for (const prefix of prefixes.splice(0)) await dropPrefix(admin, prefix);
});

afterAll(async () => {
  await admin.quit();
});

async function open(prefix: string, leaseMs?: number): Promise<RedisSharedLimits> {
  const limits = await openSharedLimits({ url: REDIS_URL, prefix, leaseMs });
  opened.push(limits);
  return limits;
}

function prefixed(): string {
  const prefix = freshPrefix('limits');
  prefixes.push(prefix);
  return prefix;
}

const NO_BUDGET = {};

function config(partial: Partial<SharedLimitsConfig>): SharedLimitsConfig {
  return { model: 'm', windows: [], budgets: NO_BUDGET, timeZone: 'UTC', marginMs: 0, ...partial };
}

let taskCount = 0;
function task(partial: Partial<SharedTake> = {}): SharedTake {
  taskCount += 1;
  return { taskId: `t${taskCount}`, model: 'm', tokens: 10, micros: 0, ...partial };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function taken(verdict: SharedVerdict): string {
  if (!verdict.ok) throw new Error(`expected a take, got ${JSON.stringify(verdict)}`);
  return verdict.take;
}

describe('shared windows', () => {
  it('count every process: what one took, the other cannot take until it has left', async () => {
    const prefix = prefixed();
    const a = await open(prefix);
    const b = await open(prefix);
    const windows = config({
      windows: [{ scope: '*', kind: 'requests', limit: 3, windowMs: 400 }],
    });
    for (const limits of [a, b, a]) taken(await limits.take(task(), windows, Date.now()));
    const now = Date.now();
    const refused = await b.take(task(), windows, now);
    expect(refused).toMatchObject({ ok: false, waitingFor: 'rateLimit' });
    const retryAt = (refused as { retryAt: number }).retryAt;
    expect(retryAt).toBeGreaterThan(now);
    expect(retryAt).toBeLessThanOrEqual(now + 400);
    await sleep(retryAt - now + 20);
    taken(await b.take(task(), windows, Date.now()));
  });

  it('weigh tokens, and keep a model’s windows to that model', async () => {
    const limits = await open(prefixed());
    const windows = (model: string) =>
      config({
        windows: [{ scope: model, kind: 'tokens', limit: 100, windowMs: 60_000 }],
      });
    taken(await limits.take(task({ tokens: 60 }), windows('a'), Date.now()));
    expect(await limits.take(task({ tokens: 50 }), windows('a'), Date.now())).toMatchObject({
      ok: false,
      waitingFor: 'rateLimit',
    });
    taken(await limits.take(task({ tokens: 40 }), windows('a'), Date.now()));
    // Model b's window is its own.
    taken(await limits.take(task({ tokens: 100 }), windows('b'), Date.now()));
  });

  it('count a take from its send once told: never earlier than from the take', async () => {
    const limits = await open(prefixed());
    const windows = config({
      windows: [{ scope: '*', kind: 'requests', limit: 1, windowMs: 1000 }],
    });
    const first = taken(await limits.take(task(), windows, Date.now()));
    await sleep(600);
    // Sent 600 ms after its take: it counts from then, so the window is full until ~1.6 s
    // (from the take alone it would be free after 1 s).
    await limits.sent(first, windows, Date.now());
    await sleep(650);
    expect(await limits.take(task(), windows, Date.now())).toMatchObject({
      ok: false,
      waitingFor: 'rateLimit',
    });
    await sleep(500);
    taken(await limits.take(task(), windows, Date.now()));
  });

  it('give a released take back: its entries leave at once, and nothing is charged', async () => {
    const limits = await open(prefixed());
    const both = config({
      windows: [{ scope: '*', kind: 'requests', limit: 1, windowMs: 60_000 }],
      budgets: { total: 1000 },
    });
    const take = taken(await limits.take(task({ micros: 800 }), both, Date.now()));
    expect((await limits.spending(Date.now())).held).toBe(800);
    await limits.release(take, both, Date.now());
    taken(await limits.take(task({ micros: 900 }), both, Date.now()));
    expect(await limits.spending(Date.now())).toMatchObject({ total: 0, held: 900 });
  });
});

describe('several takes at once (takeMany)', () => {
  it('take in order in one script; the first refused ends it, nothing after it is taken', async () => {
    const limits = await open(prefixed());
    const windows = config({
      windows: [{ scope: '*', kind: 'tokens', limit: 100, windowMs: 60_000 }],
    });
    const [a, b, c] = [task({ tokens: 40 }), task({ tokens: 40 }), task({ tokens: 30 })];
    const small = task({ tokens: 10 });
    const verdicts = await limits.takeMany(
      [a, b, c, small].map((take) => ({ take, config: windows })),
      Date.now(),
    );
    // 40 + 40 fit; 30 more does not, and the 10 behind it is not asked (it would fit).
    expect(verdicts.map((v) => v.ok)).toEqual([true, true, false]);
    expect(verdicts[2]).toMatchObject({ waitingFor: 'rateLimit' });
    taken(await limits.take(task({ tokens: 20 }), windows, Date.now()));
    expect(await limits.take(task({ tokens: 1 }), windows, Date.now())).toMatchObject({
      ok: false,
    });
  });

  it('count the holds of the takes before in the same script against the budget', async () => {
    const limits = await open(prefixed());
    const budget = config({ budgets: { total: 1000 } });
    const verdicts = await limits.takeMany(
      [400, 400, 400].map((micros) => ({ take: task({ micros }), config: budget })),
      Date.now(),
    );
    expect(verdicts.map((v) => v.ok)).toEqual([true, true, false]);
    expect(verdicts[2]).toMatchObject({ waitingFor: 'budget' });
    expect((await limits.spending(Date.now())).held).toBe(800);
    // Settled in the same turn: one script, each hold ends and its cost is charged once.
    const [first, second] = verdicts.map((v) => (v.ok ? v.take : ''));
    await Promise.all([
      limits.settle(first as string, 100, budget, Date.now()),
      limits.settle(second as string, 250, budget, Date.now()),
      limits.settle(second as string, 250, budget, Date.now()),
    ]);
    expect(await limits.spending(Date.now())).toMatchObject({ total: 350, held: 0 });
  });

  it('send a settle asked for just before close first: its hold ends with its real cost', async () => {
    const prefix = prefixed();
    const limits = await openSharedLimits({ url: REDIS_URL, prefix });
    const budget = config({ budgets: { total: 10_000 } });
    const take = taken(await limits.take(task({ micros: 800 }), budget, Date.now()));
    const settled = limits.settle(take, 100, budget, Date.now());
    await limits.close();
    await settled;
    const reader = await open(prefix);
    expect(await reader.spending(Date.now())).toMatchObject({ total: 100, held: 0 });
  });

  it('ask only the takes whose budgets match the first’s (the rest are asked later)', async () => {
    const limits = await open(prefixed());
    const verdicts = await limits.takeMany(
      [
        { take: task(), config: config({ budgets: { total: 1000 } }) },
        { take: task(), config: config({ budgets: { total: 2000 } }) },
      ],
      Date.now(),
    );
    expect(verdicts.map((v) => v.ok)).toEqual([true]);
  });
});

describe('shared provider hints', () => {
  it('hold every process to a wait one of them was told, for that model only', async () => {
    const prefix = prefixed();
    const a = await open(prefix);
    const b = await open(prefix);
    await a.hint('m', { retryAfterMs: 300 }, Date.now());
    const now = Date.now();
    const held = await b.take(task({ model: 'm' }), config({ model: 'm' }), now);
    expect(held).toMatchObject({ ok: false, waitingFor: 'server' });
    const retryAt = (held as { retryAt: number }).retryAt;
    expect(retryAt).toBeGreaterThan(now);
    expect(retryAt).toBeLessThanOrEqual(now + 300);
    taken(await b.take(task({ model: 'n' }), config({ model: 'n' }), now));
    await sleep(retryAt - now + 20);
    taken(await b.take(task({ model: 'm' }), config({ model: 'm' }), Date.now()));
  });

  it('make a limit one process read in the headers a window of every process', async () => {
    const prefix = prefixed();
    const a = await open(prefix);
    const b = await open(prefix);
    const of = config({ model: 'n' });
    // The server allows 3 a second and has counted 2 already.
    await a.hint('n', { limitRequests: 3, remainingRequests: 1, resetRequestsMs: 900 }, Date.now());
    taken(await b.take(task({ model: 'n' }), of, Date.now()));
    expect(await a.take(task({ model: 'n' }), of, Date.now())).toMatchObject({
      ok: false,
      waitingFor: 'server',
    });
    // Another model has no such window.
    taken(await a.take(task({ model: 'm' }), config({ model: 'm' }), Date.now()));
  });
});

describe('shared budgets', () => {
  it('hold worst cases across processes and charge what calls really cost', async () => {
    const prefix = prefixed();
    const a = await open(prefix);
    const b = await open(prefix);
    const budget = config({ budgets: { total: 1000 } });
    const first = taken(await a.take(task({ micros: 600 }), budget, Date.now()));
    taken(await b.take(task({ micros: 300 }), budget, Date.now()));
    // 600 + 300 held: 200 more does not fit while they are held; it may once they end.
    const waiting = await b.take(task({ micros: 200 }), budget, Date.now());
    expect(waiting).toMatchObject({ ok: false, waitingFor: 'budget' });
    expect((waiting as { never?: boolean }).never).toBeUndefined();
    await a.settle(first, 100, budget, Date.now());
    taken(await b.take(task({ micros: 200 }), budget, Date.now()));
    expect(await a.spending(Date.now())).toEqual({
      total: 100,
      daily: 100,
      hourly: 100,
      held: 500,
    });
  });

  it('say never when nothing held could come back and the total cannot pay', async () => {
    const limits = await open(prefixed());
    const budget = config({ budgets: { total: 1000 } });
    const take = taken(await limits.take(task({ micros: 900 }), budget, Date.now()));
    await limits.settle(take, 900, budget, Date.now());
    expect(await limits.take(task({ micros: 200 }), budget, Date.now())).toEqual({
      ok: false,
      waitingFor: 'budget',
      never: true,
    });
  });

  it('charge a dead process’s holds at their worst case, once', async () => {
    const prefix = prefixed();
    const survivor = await open(prefix);
    const budget = config({ budgets: { total: 10_000 } });
    // A process that takes a hold and then falls silent (its lease is 200 ms).
    const raw = new Redis(REDIS_URL);
    raw.defineCommand('take', { numberOfKeys: 0, lua: TAKE_SCRIPT });
    raw.defineCommand('leave', { numberOfKeys: 0, lua: LEAVE_SCRIPT });
    const send = raw as unknown as Record<string, (...args: string[]) => Promise<unknown>>;
    const head = [prefix, 'dead-host:1', '200', 'UTC:d', '60000', 'UTC:h', '60000'];
    try {
      // The margin, the budgets, one take: its task, tokens, hold, model, no window.
      const reply = (await send.take?.(
        ...head,
        '0',
        '10000',
        '',
        '',
        '1',
        'ghost',
        '10',
        '700',
        'm',
        '0',
      )) as string[] | undefined;
      expect(reply?.[1]).toBe('ok');
      expect((await survivor.spending(Date.now())).held).toBe(700);
      await sleep(300);
      // The next word of any process finds it dead: its hold is charged at its worst case.
      taken(await survivor.take(task({ micros: 100 }), budget, Date.now()));
      expect(await survivor.spending(Date.now())).toMatchObject({ total: 700, held: 100 });
      // Its settle, should it come after all, charges nothing more.
      await send.leave?.(...head);
      expect(await survivor.spending(Date.now())).toMatchObject({ total: 700, held: 100 });
    } finally {
      raw.disconnect();
    }
  });

  it('charge what a process leaves held to the day and hour of its own time zone', async () => {
    const prefix = prefixed();
    const a = await open(prefix);
    const b = await open(prefix);
    const tokyo = config({ budgets: { daily: 1000 }, timeZone: 'Asia/Tokyo' });
    taken(await a.take(task({ micros: 250 }), tokyo, Date.now()));
    await a.close();
    expect(await b.spending(Date.now(), 'Asia/Tokyo')).toMatchObject({
      total: 250,
      daily: 250,
      hourly: 250,
      held: 0,
    });
  });

  it('charge at close what a process never settled (its calls may have been billed)', async () => {
    const prefix = prefixed();
    const a = await open(prefix);
    const b = await open(prefix);
    taken(await a.take(task({ micros: 250 }), config({ budgets: { total: 1000 } }), Date.now()));
    await a.close();
    expect(await b.spending(Date.now())).toMatchObject({ total: 250, held: 0 });
  });
});

describe('openSharedLimits', () => {
  it('gives up on an answer that takes longer than commandTimeoutMs (a server that hangs)', async () => {
    const spare = await SpareRedis.start(['--appendonly', 'no', '--enable-debug-command', 'yes']);
    const limits = await openSharedLimits({ url: spare.url, commandTimeoutMs: 200 });
    const blocker = new Redis(spare.url);
    try {
      // The server does nothing else for 2 s.
      const sleeping = blocker.call('DEBUG', 'SLEEP', '2');
      await sleep(50);
      const error = await limits.take(task(), config({}), Date.now()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).reason).toBe('unreachable');
      expect((error as Error).message).toContain('timed out');
      await sleeping;
      // Answering again: the next take is taken.
      taken(await limits.take(task(), config({}), Date.now()));
    } finally {
      blocker.disconnect();
      await limits.close();
      await spare.stop();
    }
  });

  it('rejects a commandTimeoutMs that is not whole milliseconds, naming it', async () => {
    const error = await openSharedLimits({ url: REDIS_URL, commandTimeoutMs: 0.5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('options.commandTimeoutMs');
  });

  it('fails with StoreError unreachable when nothing answers', async () => {
    const port = await freePort();
    const error = await openSharedLimits({
      url: `redis://127.0.0.1:${port}`,
      connectTimeoutMs: 1000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).reason).toBe('unreachable');
    expect((error as Error).message).toContain('shared limits');
  });
});
