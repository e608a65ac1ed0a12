/**
 * Rate windows and budgets shared by every process of a queue, on Redis: each check-and-take is
 * one Lua script on Redis's clock (see limits-scripts.ts). Give the same object's options to every
 * process (`sharedLimits` of the manager's options); each process keeps its own concurrency.
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { ValidationError } from '../errors.js';
import { calendarPeriodEnds } from '../limits/budget.js';
import { windowLengthFor } from '../limits/learned-windows.js';
import type {
  SharedLimits,
  SharedLimitsConfig,
  SharedSpending,
  SharedTake,
  SharedVerdict,
} from '../limits/shared.js';
import type { RateLimitHintsData } from '../limits/types.js';
import { type Clock, systemClock } from '../time/clock.js';
import { closedError, toRedisStoreError } from './errors.js';
import {
  HEARTBEAT_SCRIPT,
  HINT_SCRIPT,
  LEAVE_SCRIPT,
  RELEASE_SCRIPT,
  SENT_SCRIPT,
  SETTLE_SCRIPT,
  SPENT_SCRIPT,
  TAKE_SCRIPT,
} from './limits-scripts.js';
import { connectRedis, type ResolvedRedisOptions, resolveRedisOptions } from './open.js';
import { TurnBatch } from './turn-batch.js';

/** How to reach the shared limits. */
export interface SharedLimitsOptions {
  /** The server (`redis://` or `rediss://`). @default 'redis://127.0.0.1:6379' */
  url?: string | undefined;
  /** The key prefix: the processes of one queue share it. @default 'aitq' */
  prefix?: string | undefined;
  /**
   * How long a process counts as alive after its last word (ms); it speaks every third of it.
   * What a process that died held is charged at its worst case once this has passed.
   * @default 30000
   */
  leaseMs?: number | undefined;
  /** How long to wait for the server at open (ms). @default 5000 */
  connectTimeoutMs?: number | undefined;
  /** The clock of this process's calendar days and hours (the budgets'). @default the system's */
  clock?: Clock | undefined;
  /**
   * How long one answer of Redis may take (ms) before it counts as not answering: admission then
   * reports it and asks again a second later, instead of holding the line behind a server that
   * hangs. A take that lands after it only over-counts (its hold is charged when this process
   * leaves). @default 10000
   */
  commandTimeoutMs?: number | undefined;
}

interface LimitCommands {
  aitqTake(...args: string[]): Promise<Array<string | number>>;
  aitqSettle(...args: string[]): Promise<number>;
  aitqSent(...args: string[]): Promise<number>;
  aitqReleaseTake(...args: string[]): Promise<number>;
  aitqHeartbeat(...args: string[]): Promise<number>;
  aitqLeave(...args: string[]): Promise<number>;
  aitqSpent(...args: string[]): Promise<number[]>;
  aitqHint(...args: string[]): Promise<number>;
}

const SCRIPTS: Record<keyof LimitCommands, string> = {
  aitqTake: TAKE_SCRIPT,
  aitqSettle: SETTLE_SCRIPT,
  aitqSent: SENT_SCRIPT,
  aitqReleaseTake: RELEASE_SCRIPT,
  aitqHeartbeat: HEARTBEAT_SCRIPT,
  aitqLeave: LEAVE_SCRIPT,
  aitqSpent: SPENT_SCRIPT,
  aitqHint: HINT_SCRIPT,
};

/** How long one answer of Redis may take by default (ms): see `commandTimeoutMs`. */
const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** How long a total-budget wait lasts before asking again: other processes' holds end there. */
const BUDGET_POLL_MS = 1000;

/**
 * Connects to the shared limits of the queue under `options.prefix`. Rejects with a
 * `StoreError` when Redis cannot be used (`unreachable`, `unsafe`), as `openRedisStore` does.
 *
 * @example
 * ```ts
 * import { openSharedLimits } from 'ai-task-queue/redis';
 * const sharedLimits = await openSharedLimits({ url: process.env.REDIS_URL, prefix: 'reviews' });
 * const manager = await createAITaskManager({ sharedLimits, requestsPerMinute: 500, budgetLimit: 50 });
 * ```
 */
export async function openSharedLimits(
  options: SharedLimitsOptions | string = {},
): Promise<RedisSharedLimits> {
  const {
    clock = systemClock,
    commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    ...rest
  } = typeof options === 'string' ? { url: options } : options;
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1 || commandTimeoutMs > 600_000) {
    throw new ValidationError(
      `invalid options.commandTimeoutMs: ${String(commandTimeoutMs)}; expected whole milliseconds from 1 to 600000 (default ${DEFAULT_COMMAND_TIMEOUT_MS})`,
      [
        {
          path: 'options.commandTimeoutMs',
          message: 'whole ms, 1 to 600000',
          received: commandTimeoutMs,
        },
      ],
    );
  }
  const resolved = resolveRedisOptions(rest);
  const redis = await connectRedis(resolved, 'shared limits', commandTimeoutMs);
  return createLimits(redis, resolved, clock);
}

/** A send waiting for its turn's batch: the take, and the config its windows are named by. */
interface Sent {
  take: string;
  config: SharedLimitsConfig;
}

/** A settle waiting for its turn's batch: its script's first arguments, its take, its cost. */
interface Settle {
  head: string[];
  take: string;
  actualMicros: number;
}

/** Whether two takes' configs agree on what one script is given once: budgets, zone, margin. */
function sameTerms(a: SharedLimitsConfig, b: SharedLimitsConfig): boolean {
  return (
    a === b ||
    (a.timeZone === b.timeZone &&
      a.marginMs === b.marginMs &&
      a.budgets.total === b.budgets.total &&
      a.budgets.daily === b.budgets.daily &&
      a.budgets.hourly === b.budgets.hourly)
  );
}

let createLimits: (redis: Redis, options: ResolvedRedisOptions, clock: Clock) => RedisSharedLimits;

/** The shared limits on Redis, made by {@link openSharedLimits}. */
export class RedisSharedLimits implements SharedLimits {
  /** The server (without its password) and the prefix. */
  readonly location: string;
  /** This process, as the other processes see it. */
  readonly processId = `${hostname()}:${process.pid}:${randomUUID()}`;

  readonly #redis: Redis & LimitCommands;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #clock: Clock;
  /**
   * The time zone of the budgets' days and hours, as the last take named it:
   * what the scripts that carry none (the heartbeat, a hint, leaving) charge a dead process's
   * holds to.
   */
  #timeZone = 'UTC';
  readonly #periods = new Map<string, (t: number) => { hour: number; day: number }>();
  /** The sends told in this turn of the event loop (see `sent`). */
  readonly #sends = new TurnBatch<Sent>((sends) => this.#sendSents(sends));
  /** The settles asked for in this turn of the event loop. */
  readonly #settles = new TurnBatch<Settle>((settles) => this.#sendSettles(settles));
  #closed = false;

  static {
    createLimits = (redis, options, clock) => new RedisSharedLimits(redis, options, clock);
  }

  private constructor(redis: Redis, options: ResolvedRedisOptions, clock: Clock) {
    this.location = options.location;
    this.#prefix = options.prefix;
    this.#leaseMs = options.leaseMs;
    this.#clock = clock;
    const commands = redis as Redis & LimitCommands;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      commands.defineCommand(name, { numberOfKeys: 0, lua });
    }
    this.#redis = commands;
    // Real time: the lease is Redis's, on Redis's clock (the documented exception).
    this.#heartbeat = setInterval(
      () => {
        this.#redis
          .aitqHeartbeat(...this.#head(this.#timeZone, this.#clock.now()))
          .catch(() => undefined);
      },
      Math.floor(options.leaseMs / 3),
    );
    this.#heartbeat.unref();
  }

  async take(take: SharedTake, config: SharedLimitsConfig, now: number): Promise<SharedVerdict> {
    const [verdict] = await this.takeMany([{ take, config }], now);
    // The script answers for the first take it is given, always.
    return verdict as SharedVerdict;
  }

  /**
   * Several takes in one script, in order; the first refused ends it. Takes whose budgets, time
   * zone or margin differ from the first's are not asked (admission asks for them next).
   */
  async takeMany(
    takes: readonly { take: SharedTake; config: SharedLimitsConfig }[],
    now: number,
  ): Promise<SharedVerdict[]> {
    const first = takes[0];
    if (first === undefined) return [];
    const { config } = first;
    this.#timeZone = config.timeZone;
    return this.#run('take', async () => {
      const { budgets } = config;
      const limit = (micros: number | undefined) => (micros === undefined ? '' : String(micros));
      const args = [
        ...this.#head(config.timeZone, now),
        String(config.marginMs),
        limit(budgets.total),
        limit(budgets.daily),
        limit(budgets.hourly),
        '',
      ];
      let asked = 0;
      for (const { take, config: c } of takes) {
        if (!sameTerms(c, config)) break;
        asked++;
        args.push(
          take.taskId,
          String(take.tokens),
          String(take.micros),
          take.model,
          String(c.windows.length),
        );
        for (const w of c.windows) {
          args.push(
            w.scope,
            w.kind === 'requests' ? 'r' : 't',
            String(w.limit),
            String(w.windowMs),
          );
        }
      }
      args[11] = String(asked);
      const reply = await this.#redis.aitqTake(...args);
      const serverNow = Number(reply[0]);
      const verdicts: SharedVerdict[] = [];
      for (let i = 1; i + 2 < reply.length; i += 3) {
        verdicts.push(this.#verdict(reply[i], reply[i + 1], reply[i + 2], serverNow, config, now));
      }
      return verdicts;
    });
  }

  /** One take's verdict, from the script's three fields. */
  #verdict(
    kind: unknown,
    a: unknown,
    b: unknown,
    serverNow: number,
    config: SharedLimitsConfig,
    now: number,
  ): SharedVerdict {
    if (kind === 'ok') return { ok: true, take: String(a) };
    if (kind === 'rate' || kind === 'server') {
      const retryAt = Number(a);
      // Redis's clock says when; this process waits as long on its own.
      return {
        ok: false,
        waitingFor: kind === 'rate' ? 'rateLimit' : 'server',
        retryAt: retryAt < 0 ? now + BUDGET_POLL_MS : now + Math.max(0, retryAt - serverNow),
      };
    }
    const period = String(a);
    const held = Number(b);
    if (period === 'total') {
      // Money held by calls of any process may come back when they end; without any, never.
      return held > 0
        ? { ok: false, waitingFor: 'budget', retryAt: now + BUDGET_POLL_MS }
        : { ok: false, waitingFor: 'budget', never: true };
    }
    const ends = this.#periodEnds(config.timeZone)(now);
    return {
      ok: false,
      waitingFor: 'budget',
      retryAt: period === 'daily' ? ends.day : ends.hour,
    };
  }

  /**
   * Settles a take. The settles asked for in the same turn of the event loop (a wave of calls
   * that end together) go to Redis in one script per budget period.
   */
  settle(
    take: string,
    actualMicros: number,
    config: SharedLimitsConfig,
    now: number,
  ): Promise<void> {
    if (this.#closed) return Promise.reject(closedError(this.location, 'settle', 'shared limits'));
    return this.#settles.add({ head: this.#head(config.timeZone, now), take, actualMicros });
  }

  /**
   * The take's call is being sent: its window entries count from now (Redis's clock) plus the
   * margin. The sends of one turn go in one script per model.
   */
  sent(take: string, config: SharedLimitsConfig, _now: number): Promise<void> {
    if (this.#closed) return Promise.reject(closedError(this.location, 'sent', 'shared limits'));
    return this.#sends.add({ take, config });
  }

  /** Sends a turn's sends: one script for each model and its windows. */
  async #sendSents(sends: readonly Sent[]): Promise<void> {
    const byConfig = new Map<SharedLimitsConfig, string[]>();
    for (const { take, config } of sends) {
      const members = byConfig.get(config);
      if (members === undefined) byConfig.set(config, [take]);
      else members.push(take);
    }
    await Promise.all(
      Array.from(byConfig, ([config, members]) => {
        const windows: string[] = [];
        for (const w of config.windows) {
          windows.push(w.scope, w.kind === 'requests' ? 'r' : 't', String(w.windowMs));
        }
        return this.#run('sent', () =>
          this.#redis.aitqSent(
            this.#prefix,
            String(config.marginMs),
            config.model,
            String(config.windows.length),
            ...windows,
            ...members,
          ),
        );
      }),
    );
  }

  /** Sends a turn's settles: one script for each set of arguments they start with. */
  async #sendSettles(settles: readonly Settle[]): Promise<void> {
    const byHead = new Map<string, { head: string[]; members: string[] }>();
    for (const { head, take, actualMicros } of settles) {
      const key = head.join('\n');
      let group = byHead.get(key);
      if (group === undefined) {
        group = { head, members: [] };
        byHead.set(key, group);
      }
      group.members.push(take, String(actualMicros));
    }
    await Promise.all(
      Array.from(byHead.values(), ({ head, members }) =>
        this.#run('settle', () =>
          this.#redis.aitqSettle(...head, String(members.length / 2), ...members),
        ),
      ),
    );
  }

  async release(take: string, config: SharedLimitsConfig, now: number): Promise<void> {
    const windows: string[] = [];
    for (const w of config.windows) {
      windows.push(w.scope, w.kind === 'requests' ? 'r' : 't', String(w.windowMs));
    }
    await this.#run('release', () =>
      this.#redis.aitqReleaseTake(
        ...this.#head(config.timeZone, now),
        take,
        config.model,
        String(config.windows.length),
        ...windows,
      ),
    );
  }

  async hint(model: string, hints: RateLimitHintsData, now: number): Promise<void> {
    const text = (n: number | undefined) =>
      n === undefined || !Number.isFinite(n) ? '' : String(Math.max(0, Math.round(n)));
    const length = (limit: number | undefined, resetMs: number | undefined) =>
      limit === undefined || resetMs === undefined || !Number.isFinite(resetMs) || resetMs < 0
        ? ''
        : String(windowLengthFor(resetMs));
    const limit = (n: number | undefined) =>
      n === undefined || !Number.isFinite(n) || n < 1 ? '' : String(Math.floor(n));
    await this.#run('hint', () =>
      this.#redis.aitqHint(
        ...this.#head(this.#timeZone, now),
        model,
        text(hints.retryAfterMs),
        text(hints.remainingRequests),
        text(hints.resetRequestsMs),
        limit(hints.limitRequests),
        text(hints.remainingTokens),
        text(hints.resetTokensMs),
        limit(hints.limitTokens),
        length(hints.limitRequests, hints.resetRequestsMs),
        length(hints.limitTokens, hints.resetTokensMs),
      ),
    );
  }

  /** What every process together has spent (in `timeZone`'s current day and hour) and holds. */
  async spending(now: number, timeZone = this.#timeZone): Promise<SharedSpending> {
    return this.#run('spending', async () => {
      const [total, daily, hourly, held] = await this.#redis.aitqSpent(
        ...this.#head(timeZone, now),
      );
      return {
        total: Number(total),
        daily: Number(daily),
        hourly: Number(hourly),
        held: Number(held),
      };
    });
  }

  /**
   * Leaves: what this process still holds is charged at its worst case (a call it did not
   * settle may have been billed), and the connection closes. Later calls reject.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Settles asked for in this turn go first (sent now, before the leave below on the same
    // connection): their holds end with what the calls cost, not at their worst case.
    const settles = this.#settles.drain().catch(() => undefined);
    this.#closed = true;
    clearInterval(this.#heartbeat);
    try {
      await this.#redis.aitqLeave(...this.#head(this.#timeZone, this.#clock.now()));
    } catch {
      // Its lease runs out; the next process charges its holds then.
    }
    await settles;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  /** The arguments every script starts with: the prefix, this process, its lease, the periods. */
  #head(timeZone: string, now: number): string[] {
    const ends = this.#periodEnds(timeZone)(now);
    return [
      this.#prefix,
      this.processId,
      String(this.#leaseMs),
      `${timeZone}:${ends.day}`,
      String(Math.max(1, ends.day - now) + 3_600_000),
      `${timeZone}:${ends.hour}`,
      String(Math.max(1, ends.hour - now) + 3_600_000),
    ];
  }

  #periodEnds(timeZone: string): (t: number) => { hour: number; day: number } {
    let ends = this.#periods.get(timeZone);
    if (ends === undefined) {
      ends = calendarPeriodEnds(timeZone);
      this.#periods.set(timeZone, ends);
    }
    return ends;
  }

  async #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError(this.location, operation, 'shared limits');
    try {
      return await work();
    } catch (error) {
      throw toRedisStoreError(error, this.location, operation, 'shared limits');
    }
  }
}
