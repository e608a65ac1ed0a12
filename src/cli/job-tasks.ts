/** The tasks of a job as the manager reports them, and what each cost. */

import type { AITaskManager } from '../index.js';

/**
 * The job's tasks as the manager reports them, child tasks of composite task types included, and
 * what each cost: the `task.usage` events of its attempts and of its children, summed as they
 * come. The manager's store may have dropped a finished task already (retention), so a results
 * line of a task submitted by this run never reads it back from there.
 */
export class JobTasks {
  private readonly tasks = new Map<
    string,
    { costMicros: number; tokens: number; children: string[] }
  >();
  /** Child task → the job's task it belongs to. */
  private readonly rootOf = new Map<string, string>();
  private readonly offs: Array<() => void>;

  constructor(manager: AITaskManager) {
    this.offs = [
      manager.on('task.submitted', (event) => {
        if (event.parentId === undefined) {
          this.adopt(event.taskId);
          return;
        }
        const root = this.rootOf.get(event.parentId) ?? event.parentId;
        const entry = this.tasks.get(root);
        if (entry === undefined) return;
        entry.children.push(event.taskId);
        this.rootOf.set(event.taskId, root);
      }),
      manager.on('task.usage', (event) => {
        const entry = this.tasks.get(this.rootOf.get(event.taskId) ?? event.taskId);
        if (entry === undefined) return;
        entry.costMicros += event.costMicros;
        entry.tokens += event.promptTokens + event.completionTokens;
      }),
    ];
  }

  /** Counts `id` as one of the job's tasks: one it submits, or one an earlier run left. */
  adopt(id: string): void {
    if (!this.tasks.has(id)) this.tasks.set(id, { costMicros: 0, tokens: 0, children: [] });
  }

  /** Whether `id` is a task of the job (or a child of one) whose line is not written yet. */
  has(id: string): boolean {
    return this.tasks.has(id) || this.rootOf.has(id);
  }

  /** The job's tasks whose line is not written yet, and their children. */
  ids(): string[] {
    return [...this.tasks].flatMap(([id, entry]) => [id, ...entry.children]);
  }

  /** The task's cost (US dollars) and tokens so far; forgets it and its children. */
  take(id: string): { cost: number; tokens: number } {
    const entry = this.tasks.get(id);
    if (entry === undefined) return { cost: 0, tokens: 0 };
    this.tasks.delete(id);
    for (const child of entry.children) this.rootOf.delete(child);
    return { cost: entry.costMicros / 1e6, tokens: entry.tokens };
  }

  close(): void {
    for (const off of this.offs) off();
  }
}
