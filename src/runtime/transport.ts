/**
 * The seam a shared queue plugs into (`openSharedQueue` of `ai-task-queue/redis`, on BullMQ): the
 * tasks of a queue that several processes work on live in Redis, and each process's engine takes
 * one only when it has room to run it. The transport brings a task taken from the shared queue
 * into this engine's line (`adopt`), hears of it through the engine's events (started, ended), and
 * takes it back when its attempt failed and it is to retry later (`handOff`): a retry waits in
 * the shared queue, as a delayed job carrying its machine's snapshot, not in this process.
 *
 * The engine knows nothing of BullMQ: it offers a {@link TransportHost} and calls the
 * {@link TransportLink} it gets back.
 */

import type { Observable } from 'rxjs';
import type { TaskStatus } from '../../machines/task-status.js';
import type { TaskRecord } from '../stores/types.js';
import type { Clock } from '../time/clock.js';
import type { EngineEvent } from './events.js';
import type { SubmitInput } from './intake.js';

/** A shared queue's figures, over every worker (`getStatistics().tasks.shared`). */
export interface SharedQueueStatistics {
  /** Tasks by status, over every worker. */
  tasks: Record<Exclude<TaskStatus, 'paused'>, number> & { total: number };
  /** Whether the queue is paused (no worker takes a task). */
  paused: boolean;
  /** Workers that renewed their heartbeat within the last lock period. */
  workers: number;
  /** What the ended tasks' calls used and cost (US dollars), all attempts. */
  usage: { calls: number; promptTokens: number; completionTokens: number; cost: number };
}

/** What a transport may do with the engine it feeds. */
export interface TransportHost {
  readonly clock: Clock;
  readonly events$: Observable<EngineEvent>;
  /**
   * How many more tasks this engine would start now: its free slots, less what already waits in
   * its line; 0 while it is paused or stopping, or while the head of its line waits for a limit.
   */
  room(): number;
  /**
   * Validates a task taken from the shared queue for the first time, as `submit` would, and makes
   * its record (with this id and submission time). Throws `ValidationError` as `submit` does.
   */
  prepare(input: SubmitInput, id: string, createdAt: number): TaskRecord;
  /**
   * A task taken from the shared queue joins this engine's line: a queued or retrying one as it
   * is, a `running` one (its worker died mid-attempt) back in line with that attempt interrupted.
   */
  adopt(record: TaskRecord): Promise<void>;
  /** The engine's record of a task it holds (finished ones until `forget`). */
  get(id: string): Promise<TaskRecord | undefined>;
  /** Drops a task this engine holds: ended (a cancelled call may still settle), or handed back. */
  forget(id: string): void;
  cancel(id: string): Promise<boolean>;
  pause(): void;
  resume(): void;
}

/** What the engine tells the transport it is connected to. */
export interface TransportLink {
  /**
   * A task of the shared queue is to retry at `notBefore` (ms on the injected clock): the
   * transport takes it (true), and this engine forgets it. False for a task that is not the
   * transport's (submitted in this process), which retries here.
   */
  handOff(record: TaskRecord, notBefore: number): boolean;
  /**
   * What task `id`'s attempt, just started, waits for before its first call: the transport's
   * record that it runs (so a crash after the call went out is seen as an interrupted attempt).
   * `undefined`: nothing to wait for.
   */
  written?(id: string): Promise<void> | undefined;
  /** Stops taking tasks and gives back those that wait here; resolves when done. */
  close(): Promise<void>;
}

/** A shared queue, as the engine sees it: it connects once, when the engine starts. */
export interface TaskTransport {
  readonly name: string;
  connect(host: TransportHost): TransportLink;
  /** The whole queue's figures, over every worker (for `getStatistics().tasks.shared`). */
  getStatistics?(): Promise<SharedQueueStatistics>;
}
