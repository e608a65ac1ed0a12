/**
 * Child tasks of composite task types (`BATCH_ANALYSIS` fans out one per repository): they join
 * the line with their parent's priority and settings, their cost and usage add up to the
 * parent's, and cancelling the parent (or its failed attempt) cancels them.
 */

import type { ResolvedTaskConfig, TaskRecord } from '../stores/types.js';
import type { ChildOutcome, ChildTaskSpec } from '../task-types/types.js';
import { addUsage, type SubmitInput } from './intake.js';

/** What child tasks need from the engine. */
export interface ChildTaskDeps {
  /** Submits tasks; `onAccepted` runs before any of them can end. */
  submitMany(
    inputs: readonly SubmitInput[],
    onAccepted?: (ids: readonly string[]) => void,
  ): Promise<string[]>;
  /** Cancels a task at once. */
  cancel(id: string): void;
}

export class ChildTasks {
  /** The children of each running composite task that have not ended. */
  private readonly byParent = new Map<string, Set<string>>();
  /** What each child's end is told to (its parent's `run`). */
  private readonly listeners = new Map<string, (record: TaskRecord) => void>();

  constructor(private readonly deps: ChildTaskDeps) {}

  /**
   * Submits `specs` as children of `parent` (its priority, its retry and model settings) and
   * resolves with every child's outcome once all have ended; each child's cost and usage is
   * added to the parent's as it ends.
   */
  async run(
    parent: TaskRecord,
    specs: readonly ChildTaskSpec[],
    onSettled?: (outcome: ChildOutcome, done: number, total: number) => void,
  ): Promise<ChildOutcome[]> {
    let done = 0;
    const settled: Array<Promise<ChildOutcome>> = [];
    /** What `onSettled` threw: the parent's run fails with it once every child has ended. */
    let callbackError: { error: unknown } | undefined;
    // Listeners are in place before the children join the line: a child can end before
    // `submitMany` resolves.
    const listen = (ids: readonly string[]) => {
      const set = this.byParent.get(parent.id) ?? new Set<string>();
      for (const id of ids) set.add(id);
      this.byParent.set(parent.id, set);
      for (const id of ids) {
        settled.push(
          new Promise<ChildOutcome>((resolve) => {
            this.listeners.set(id, (record) => {
              this.listeners.delete(id);
              const outcome: ChildOutcome =
                record.status === 'completed'
                  ? { id, ok: true, result: record.result }
                  : {
                      id,
                      ok: false,
                      error: {
                        name: record.error?.name ?? 'TaskCancelledError',
                        code: record.error?.code ?? 'TASK_CANCELLED',
                        message: record.error?.message ?? `task '${id}' was cancelled`,
                      },
                    };
              done++;
              parent.costMicros += record.costMicros;
              addUsage(parent, record.usage);
              resolve(outcome);
              // The task type's own callback: what it throws must not cut the child's ending
              // short (the engine would never hear of it); it fails the parent's run instead.
              try {
                onSettled?.(outcome, done, ids.length);
              } catch (error) {
                callbackError ??= { error };
              }
            });
          }),
        );
      }
    };
    const mine = await this.deps.submitMany(
      specs.map((spec) => ({
        taskType: spec.taskType,
        data: spec.data,
        priority: parent.priority,
        metadata: spec.metadata,
        parentId: parent.id,
        config: { ...this.childConfig(parent.config) },
      })),
      listen,
    );
    const outcomes = await Promise.all(settled);
    // Only this call's children leave the parent's set: another `runChildren` of the same parent
    // (run in parallel, or by a later attempt) may still have children running.
    const set = this.byParent.get(parent.id);
    for (const id of mine) set?.delete(id);
    if (set?.size === 0) this.byParent.delete(parent.id);
    if (callbackError !== undefined) throw callbackError.error;
    return outcomes;
  }

  private childConfig(config: ResolvedTaskConfig): Partial<ResolvedTaskConfig> {
    const {
      maxRetries,
      retryDelay,
      maxRetryDelay,
      maxRateLimitRetries,
      timeout,
      model,
      maxTokens,
    } = config;
    const out: Partial<ResolvedTaskConfig> = {
      maxRetries,
      retryDelay,
      maxRetryDelay,
      maxRateLimitRetries,
      timeout,
    };
    if (model !== undefined) out.model = model;
    if (maxTokens !== undefined) out.maxTokens = maxTokens;
    return out;
  }

  /** Cancels the children of `parentId` that have not ended. */
  cancelChildrenOf(parentId: string): void {
    const ids = this.byParent.get(parentId);
    if (!ids) return;
    for (const id of ids) this.deps.cancel(id);
  }

  /** A task ended: if it is a child, its parent's `run` hears of it. */
  ended(record: TaskRecord): void {
    this.listeners.get(record.id)?.(record);
  }
}
