/**
 * `ai-task-queue/sqlite`: the SQLite task store, durable on one machine. A subpath of its own so
 * that only users who import it load better-sqlite3, a native module.
 *
 * @example
 * ```ts
 * import { createAITaskManager } from 'ai-task-queue';
 * import { openSqliteStore } from 'ai-task-queue/sqlite';
 *
 * const manager = await createAITaskManager({ store: openSqliteStore('./queue.db'), ... });
 * ```
 */

export { openSqliteStore, type SqliteStoreOptions, SqliteTaskStore } from './store.js';
