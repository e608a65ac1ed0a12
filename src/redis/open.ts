/**
 * Opening a Redis store: the options checked, the connection made (a clear error when the server
 * cannot be reached), the checks that the server keeps what it is given (`maxmemory-policy
 * noeviction`) and that the prefix holds a store this library can read, and the lease that makes
 * one process at a time the store's holder.
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { StoreError } from '../errors.js';
import { parseOrThrow } from '../internal/validate.js';
import { describeLocation, type RedisUse, toRedisStoreError } from './errors.js';
import { RedisKeys } from './keys.js';

/** The layout version a store's `meta` hash records; a newer one is refused. */
export const REDIS_LAYOUT_VERSION = 1;

/** How to open a Redis store. */
export interface RedisStoreOptions {
  /**
   * The server: `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS.
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string | undefined;
  /**
   * The key prefix: several queues on one server each have their own. Letters, digits and
   * `_ - . : { }` (braces make a Redis Cluster hash tag).
   * @default 'aitq'
   */
  prefix?: string | undefined;
  /**
   * How long the store stays held by this process without a renewal (ms); it is renewed every
   * third of it. Another process can open the store once a crashed holder's lease has run out.
   * @default 30000
   */
  leaseMs?: number | undefined;
  /** How long to wait for the server at open before failing with reason `unreachable` (ms). @default 5000 */
  connectTimeoutMs?: number | undefined;
}

const RedisStoreOptionsSchema = z
  .object({
    url: z
      .string()
      .regex(/^rediss?:\/\//, { error: "expected a 'redis://' or 'rediss://' URL" })
      .optional(),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:{}-]{1,100}$/, {
        error: 'expected 1 to 100 letters, digits or _ - . : { }',
      })
      .optional(),
    leaseMs: z.number().int().min(1000).max(600_000).optional(),
    connectTimeoutMs: z.number().int().positive().max(600_000).optional(),
  })
  .strict();

/** The checked options, defaults applied. */
export interface ResolvedRedisOptions {
  url: string;
  prefix: string;
  leaseMs: number;
  connectTimeoutMs: number;
  /** The URL without its password and the prefix, as errors name the store. */
  location: string;
}

export function resolveRedisOptions(options: RedisStoreOptions | string): ResolvedRedisOptions {
  const given = typeof options === 'string' ? { url: options } : options;
  const parsed = parseOrThrow(RedisStoreOptionsSchema, given, 'options');
  const url = parsed.url ?? 'redis://127.0.0.1:6379';
  const prefix = parsed.prefix ?? 'aitq';
  return {
    url,
    prefix,
    leaseMs: parsed.leaseMs ?? 30_000,
    connectTimeoutMs: parsed.connectTimeoutMs ?? 5000,
    location: describeLocation(url, prefix),
  };
}

/**
 * The eviction policy Redis reports, from `CONFIG GET` or, where a managed server disables
 * `CONFIG`, from `INFO memory`.
 */
async function evictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (reply[1] !== undefined) return reply[1];
  } catch {
    // Disabled (a managed server): INFO says it too.
  }
  const info = await redis.info('memory');
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

/** A store of a newer layout, or a prefix that holds something else, is refused. */
async function checkLayout(redis: Redis, keys: RedisKeys, location: string): Promise<void> {
  const version = await redis.hget(keys.meta, 'version');
  if (version === null) {
    await redis.hset(
      keys.meta,
      'version',
      String(REDIS_LAYOUT_VERSION),
      'library',
      'ai-task-queue',
    );
    return;
  }
  const n = Number(version);
  if (!Number.isInteger(n) || n < 1) {
    throw new StoreError(
      `the key ${keys.meta} at ${location} is not a task store's (version '${version}'); give the store a prefix of its own`,
      'foreign',
      location,
    );
  }
  if (n > REDIS_LAYOUT_VERSION) {
    throw new StoreError(
      `the Redis task store at ${location} has layout version ${n}, written by a newer version of ai-task-queue (this one knows up to ${REDIS_LAYOUT_VERSION}); upgrade the library to open it`,
      'newer-schema',
      location,
    );
  }
}

/**
 * Connects, and checks that the server keeps what it is given. Throws a {@link StoreError} (the
 * connection closed again) when it cannot be used: `unreachable`, or `unsafe` (it evicts keys).
 */
export async function connectRedis(
  options: ResolvedRedisOptions,
  what: RedisUse = 'task store',
  commandTimeoutMs?: number,
): Promise<Redis> {
  const { url, location, connectTimeoutMs, prefix } = options;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
    // A blip mid-run: commands wait for the reconnection (a few tries) instead of failing at once.
    maxRetriesPerRequest: 20,
    // Shown by CLIENT LIST, so an operator can tell the queue's connections apart.
    connectionName: `aitq:${prefix}`,
  });
  // Connection errors reach the calls that were waiting; the event itself needs no listener.
  redis.on('error', () => undefined);
  try {
    try {
      await redis.connect();
    } catch (error) {
      throw toRedisStoreError(error, location, 'open', what);
    }
    const policy = await evictionPolicy(redis);
    if (policy !== undefined && policy !== 'noeviction') {
      throw new StoreError(
        `the Redis server at ${location} evicts keys when it is full (maxmemory-policy ${policy}): tasks and limits could vanish; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf)`,
        'unsafe',
        location,
      );
    }
    return redis;
  } catch (error) {
    redis.disconnect();
    throw toRedisStoreError(error, location, 'open', what);
  }
}

/** What `openConnection` gives the store. */
export interface RedisConnection {
  redis: Redis;
  keys: RedisKeys;
  /** The lease token this process holds the store with. */
  token: string;
}

/**
 * Connects, checks the server and the prefix, and takes the lease. Throws a {@link StoreError}
 * (the connection closed again) when the store cannot be used: `unreachable`, `unsafe` (the
 * server evicts keys), `locked` (another process holds it), `newer-schema`, `foreign`.
 */
export async function openConnection(options: ResolvedRedisOptions): Promise<RedisConnection> {
  const { location, leaseMs } = options;
  const redis = await connectRedis(options);
  try {
    const keys = new RedisKeys(options.prefix);
    await checkLayout(redis, keys, location);
    const token = `${hostname()}:${process.pid}:${randomUUID()}`;
    const taken = await redis.set(keys.owner, token, 'PX', leaseMs, 'NX');
    if (taken === null) {
      const holder = await redis.get(keys.owner);
      const ttl = await redis.pttl(keys.owner);
      throw new StoreError(
        `the Redis task store at ${location} is held by another process (${holder ?? 'unknown'}; its lease runs out in ${Math.max(0, ttl)} ms unless it renews it): stop it first, or give this queue another prefix`,
        'locked',
        location,
      );
    }
    return { redis, keys, token };
  } catch (error) {
    redis.disconnect();
    throw toRedisStoreError(error, location, 'open');
  }
}
