/**
 * Why a task is not running, in the words of the statistics and of `TaskInfo.waitingFor`. Beside
 * `task-status.ts` so that `src/runtime/` (which sets them) and `src/stats/` (which reports them)
 * both import them from below, and neither imports the other for them.
 */

/**
 * Why the first waiting task is not running: a free slot, the rate limit's windows, the budget,
 * a paused queue, the wait a provider asked for (`server`: `retry-after`, or
 * `x-ratelimit-remaining-*` at 0 until its reset), or, when no task is due, a retry's backoff
 * (`retryDelay`).
 */
export type WaitReason =
  | 'concurrency'
  | 'rateLimit'
  | 'budget'
  | 'paused'
  | 'server'
  | 'retryDelay';

/**
 * Why one task is not running: the reasons of the head of the line, or `turn` (tasks ahead of
 * it), `retryDelay` (its backoff has not passed), `children` (a composite task waiting for its
 * child tasks), `stopped` (the queue no longer admits).
 */
export type TaskWaitReason = WaitReason | 'turn' | 'retryDelay' | 'children' | 'stopped';
