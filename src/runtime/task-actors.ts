/**
 * Task actors: every task is an instance of the task machine. A waiting task is kept as data (its
 * record, with the machine's persisted snapshot once it has moved); it becomes a live actor when
 * it is admitted, and stays one while it waits to retry (until the queue stops). Events for a task
 * without a live actor go through the same machine as pure transitions.
 */

import { type Actor, type AnyActorRef, createActor, initialTransition, transition } from 'xstate';
import {
  type HistoryEntry,
  type TaskMachineEvent,
  type TaskMachineInput,
  taskMachine,
} from '../../machines/task.machine.js';
import { isTerminalStatus, type TaskStatus } from '../../machines/task-status.js';
import type { TaskRecord } from '../stores/types.js';
import {
  firstRunningSnapshot,
  type PersistedTaskSnapshot,
  waitingSnapshot,
} from './task-snapshots.js';

export type TaskActor = Actor<typeof taskMachine>;

/** The task machine's input for a record: its id, retry settings and creation time. */
export function machineInput(record: TaskRecord): TaskMachineInput {
  const { maxRetries, maxRateLimitRetries, retryDelay, maxRetryDelay } = record.config;
  return {
    id: record.id,
    retry: { maxRetries, maxRateLimitRetries, retryDelay, maxRetryDelay },
    at: record.createdAt,
  };
}

export class TaskActors {
  /** Live actors of tasks that wait to retry (or are paused while waiting to retry). */
  private readonly waiting = new Map<string, TaskActor>();

  /** @param parent the supervisor's `tasks` child: task actors join its actor system through it. */
  constructor(private readonly parent: () => AnyActorRef) {}

  get retryingCount(): number {
    return this.waiting.size;
  }

  /** The live actor of a task that waits to retry, if it has one. */
  retrying(id: string): TaskActor | undefined {
    return this.waiting.get(id);
  }

  /**
   * Stops the actor of a task that waits to retry, whose machine state a durable store keeps in
   * its record: its parent stops it (`tasks.release`), and the next admission restores it.
   */
  release(actor: TaskActor): void {
    this.parent().send({ type: 'tasks.release', actor });
  }

  /** Keeps the actor of a task whose attempt failed and that waits to retry. */
  waitToRetry(id: string, actor: TaskActor): void {
    this.waiting.set(id, actor);
  }

  /**
   * The live actor of a task being admitted, already in `running`. A task's first admission (no
   * snapshot yet) starts its actor from the snapshot the machine's `task.admit` would give, which
   * a property test keeps equal to the real transition, whether or not an inspector watches;
   * every later admission (a retry, a resumed task) sends the live or restored actor `task.admit`.
   * With `keep` (a durable store) the record keeps the running machine's persisted snapshot: on
   * a first admission, the one the actor started from (the same value, not made again).
   */
  admitted(record: TaskRecord, now: number, keep: boolean): TaskActor {
    if (record.snapshot === undefined && !this.waiting.has(record.id)) {
      const snapshot = firstRunningSnapshot(machineInput(record), now);
      const actor = this.start(record, snapshot);
      if (keep) record.snapshot = snapshot;
      return actor;
    }
    const actor = this.take(record);
    actor.send({ type: 'task.admit', at: now });
    if (keep) record.snapshot = actor.getPersistedSnapshot() as PersistedTaskSnapshot;
    return actor;
  }

  /**
   * Applies `event` to a waiting task: to its live actor if it has one, else as a pure transition
   * of the machine from its persisted snapshot. Updates the record's status, error and history.
   */
  send(record: TaskRecord, event: TaskMachineEvent): HistoryEntry[] {
    const actor = this.waiting.get(record.id);
    if (actor === undefined) return this.applyToRecord(record, event);
    actor.send(event);
    const snapshot = actor.getSnapshot();
    record.status = snapshot.value as TaskStatus;
    record.error = snapshot.context.error ?? undefined;
    record.history = snapshot.context.history;
    if (isTerminalStatus(record.status)) this.waiting.delete(record.id);
    return snapshot.context.history;
  }

  /**
   * The queue stopped: each task waiting to retry keeps its machine state (retries used, when the
   * next attempt is due) in its record (`recordOf` finds it, `persist` writes it back), and the
   * actors are let go; they end with the supervisor's system (a task actor holds no timer).
   */
  releaseRetrying(
    recordOf: (id: string) => TaskRecord | undefined,
    persist: (record: TaskRecord) => void,
  ): void {
    for (const [id, actor] of this.waiting) {
      const record = recordOf(id);
      if (record === undefined) continue;
      record.snapshot = actor.getPersistedSnapshot() as PersistedTaskSnapshot;
      persist(record);
    }
    this.waiting.clear();
  }

  /** The task's live actor: the one that waits to retry, or one restored from its record. */
  private take(record: TaskRecord): TaskActor {
    const existing = this.waiting.get(record.id);
    if (existing) {
      this.waiting.delete(record.id);
      return existing;
    }
    return this.start(
      record,
      (record.snapshot ?? waitingSnapshot(machineInput(record))) as PersistedTaskSnapshot,
    );
  }

  private start(record: TaskRecord, snapshot: PersistedTaskSnapshot): TaskActor {
    const actor = createActor(taskMachine, {
      id: `task-${record.id}`,
      input: undefined as unknown as TaskMachineInput, // restored from a snapshot (xstate #4915)
      parent: this.parent(),
      snapshot,
    });
    actor.start();
    return actor;
  }

  /** Applies an event to a task that has no live actor, through the same machine. */
  private applyToRecord(record: TaskRecord, event: TaskMachineEvent): HistoryEntry[] {
    const machineSnapshot =
      record.snapshot === undefined
        ? initialTransition(taskMachine, machineInput(record))[0]
        : taskMachine.resolveState(
            record.snapshot as Parameters<typeof taskMachine.resolveState>[0],
          );
    const [next] = transition(taskMachine, machineSnapshot, event);
    record.status = next.value as TaskStatus;
    record.error = next.context.error ?? undefined;
    record.snapshot = taskMachine.getPersistedSnapshot(next);
    record.history = next.context.history;
    return next.context.history;
  }
}
