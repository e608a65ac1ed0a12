/**
 * The seed guide's three full examples ("完整示例"), line by line in TypeScript, on virtual time
 * against a client that answers every request's JSON schema like a model would.
 */
import { describe, expect, it } from 'vitest';
import { BudgetExceededError } from '../../src/errors.js';
import type { TaskInfo } from '../../src/runtime/task-info.js';
import { TaskType } from '../../src/task-types/builtin/index.js';
import { answeringScript, createTestManager } from '../helpers/manager.js';
import { advance } from '../helpers/virtual-time.js';

type BatchItem =
  | { repo_name: string; success: true; result: { summary: string } }
  | { repo_name: string; success: false; error: string };

describe('the seed guide’s examples', () => {
  it('example 1: batch analysis of GitHub repositories with progress and completion callbacks', async () => {
    const { manager, clock } = createTestManager(
      { maxConcurrent: 3, budgetLimit: 10 },
      answeringScript(1, () => ({ latencyMs: 800 })),
    );
    await manager.start();
    const repositories = [
      {
        name: 'flask',
        description: 'A micro web framework',
        language: 'Python',
        stargazers_count: 60000,
        readme: '# Flask\n\nFlask is a lightweight WSGI...',
      },
      {
        name: 'django',
        description: 'The Web framework for perfectionists',
        language: 'Python',
        stargazers_count: 70000,
        readme: '# Django\n\nDjango is a high-level Python...',
      },
    ];
    const progress: string[] = [];
    const completed: TaskInfo[] = [];
    const taskId = await manager.submitTask({
      taskType: TaskType.BATCH_ANALYSIS,
      data: { repositories },
      priority: 'HIGH',
      config: {
        onProgress: (p, current, total) =>
          void progress.push(`${current}/${total} (${(p * 100).toFixed(0)}%)`),
        onComplete: (task) => void completed.push(task),
        maxRetries: 3,
      },
    });
    const waiting = manager.waitForTask(taskId, { timeout: 300 });
    await advance(clock, 2_000, 100);
    const results = (await waiting) as BatchItem[];

    expect(results.map((r) => r.repo_name)).toEqual(['flask', 'django']);
    for (const result of results) {
      expect(result.success).toBe(true);
      if (result.success) expect(result.result.summary.length).toBeGreaterThan(0);
    }
    expect(progress).toEqual(['1/2 (50%)', '2/2 (100%)']);
    expect(completed).toHaveLength(1);
    expect(completed[0]?.metrics.actualCost).toBeGreaterThan(0);
    expect(completed[0]?.metrics.executionTime).toBeGreaterThan(0);

    const stats = await manager.getStatistics();
    expect(stats.cost.total.cost).toBeCloseTo(completed[0]?.metrics.actualCost ?? -1, 9);
    expect(stats.performance.successRate).toBe(100);
    await manager.stop();
  });

  it('example 2: concurrent tasks with a monitoring loop until the queue drains', async () => {
    const { manager, clock } = createTestManager(
      { maxConcurrent: 5, budgetLimit: 50 },
      answeringScript(2, () => ({ latencyMs: 1_500 })),
    );
    await manager.start();
    const taskIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      taskIds.push(
        await manager.submitTask({
          taskType: TaskType.REPOSITORY_ANALYSIS,
          data: {
            repo_info: { name: `repo-${i}`, description: `Repository ${i}`, language: 'Python' },
            readme_content: `# Repo ${i}\n\nExample repository`,
          },
          priority: i < 10 ? 'MEDIUM' : 'LOW',
        }),
      );
    }
    const lines: string[] = [];
    let maxRunning = 0;
    for (;;) {
      const stats = await manager.getStatistics();
      maxRunning = Math.max(maxRunning, stats.concurrency.runningTasks);
      lines.push(
        `queue: ${stats.queue.size} | running: ${stats.concurrency.runningTasks} | completed: ${stats.tasks.byStatus.completed} | failed: ${stats.tasks.byStatus.failed} | cost: $${stats.cost.total.cost.toFixed(4)}`,
      );
      if (stats.queue.size === 0 && stats.concurrency.runningTasks === 0) break;
      await advance(clock, 1_000, 100);
    }
    expect(maxRunning).toBe(5);
    expect(lines[0]).toMatch(/^queue: 15 \| running: 5 \| completed: 0/);
    expect(lines.at(-1)).toMatch(/queue: 0 \| running: 0 \| completed: 20 \| failed: 0/);

    let completedCount = 0;
    let failedCount = 0;
    for (const id of taskIds) {
      const result = await manager.getTaskResult(id);
      if (result) completedCount++;
      else if ((await manager.getTaskStatus(id))?.status === 'failed') failedCount++;
    }
    expect({ completedCount, failedCount }).toEqual({ completedCount: 20, failedCount: 0 });
    // MEDIUM tasks all started before any LOW one.
    const started = await Promise.all(taskIds.map((id) => manager.getTaskStatus(id)));
    const lastMedium = Math.max(...started.slice(0, 10).map((t) => t?.startedAt?.getTime() ?? 0));
    const firstLow = Math.min(...started.slice(10).map((t) => t?.startedAt?.getTime() ?? 0));
    expect(lastMedium).toBeLessThanOrEqual(firstLow);
    await manager.stop();
  });

  it('example 3: cost control: budgets, refusal once the budget cannot pay, final statistics', async () => {
    // The seed's $5 / $2 a day / $0.50 an hour, scaled down with maxTokens so the hourly budget
    // binds within the 100 submissions, as it would with a pricier model.
    const { manager, clock } = createTestManager(
      { maxConcurrent: 3, budgetLimit: 0.05, maxTokens: 4_000 },
      answeringScript(3, () => ({ latencyMs: 200, completionTokens: 3_000 })),
    );
    await manager.start();
    manager.adjustSettings({ dailyLimit: 0.02, hourlyLimit: 0.005 });

    let taskCount = 0;
    let rejectedCount = 0;
    let rejection: unknown;
    const remaining: number[] = [];
    for (let i = 0; i < 100; i++) {
      try {
        await manager.submitTask({
          taskType: TaskType.REPOSITORY_ANALYSIS,
          data: { repo_info: { name: `repo-${i}` }, readme_content: 'Example' },
        });
        taskCount++;
        const cost = (await manager.getStatistics()).cost;
        remaining.push(cost.total.remaining ?? Number.NaN);
      } catch (error) {
        rejectedCount++;
        rejection = error;
        break;
      }
      await advance(clock, 500, 100);
    }
    expect(taskCount).toBe(100);
    expect(rejectedCount).toBe(0);
    expect(remaining.every((r) => r >= 0 && r <= 0.05)).toBe(true);

    // The hourly budget holds the rest back until the next hour; the spend never passes it.
    const mid = await manager.getStatistics();
    expect(mid.cost.hourly.cost).toBeLessThanOrEqual(0.005);
    expect(mid.queue.size).toBeGreaterThan(0);
    expect(mid.queue.waitingFor).toBe('budget');

    // Lower the total below what was spent: the next submission is refused, and says why.
    manager.adjustSettings({ budgetLimit: mid.cost.total.cost + 0.000001 });
    await expect(
      manager.submitTask({
        taskType: TaskType.REPOSITORY_ANALYSIS,
        data: { repo_info: { name: 'one-more' }, readme_content: 'Example' },
      }),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    expect(rejection).toBeUndefined();

    // The tasks still waiting can never be paid for now: they fail with BUDGET_EXCEEDED.
    await advance(clock, 10, 1);
    const final = await manager.getStatistics();
    const failed = await manager.getTasks({ status: 'failed', limit: 100 });
    expect(final.cost.total.cost).toBeLessThanOrEqual(0.05);
    expect(final.performance.totalFailed).toBe(mid.queue.size);
    expect(failed.items.every((t) => t.error?.code === 'BUDGET_EXCEEDED')).toBe(true);
    expect(final.performance.totalSucceeded).toBe(100 - mid.queue.size);
    expect(final.performance.successRate).toBeCloseTo(100 - mid.queue.size, 9);
    await manager.stop();
  });
});
