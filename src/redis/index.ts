/**
 * `ai-task-queue/redis`: the Redis task store, durable as the server is. A subpath of its own so
 * that only users who import it load ioredis (an optional peer dependency: `npm i ioredis`).
 *
 * @example
 * ```ts
 * import { createAITaskManager } from 'ai-task-queue';
 * import { openRedisStore } from 'ai-task-queue/redis';
 *
 * const store = await openRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'reviews' });
 * const manager = await createAITaskManager({ store, ... });
 * ```
 */

export type { SharedQueueStatistics } from '../runtime/transport.js';
export type { RedisStoreOptions } from './open.js';
export type { SharedTaskInput } from './queue-jobs.js';
export { openSharedLimits, RedisSharedLimits, type SharedLimitsOptions } from './shared-limits.js';
export { openSharedQueue, RedisSharedQueue, type SharedQueueOptions } from './shared-queue.js';
export { openRedisStore, RedisTaskStore } from './store.js';
