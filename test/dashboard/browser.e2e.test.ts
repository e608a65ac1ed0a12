/**
 * The dashboard's page in real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * during a run on the simulator: the counters and state counts move, pause stops admissions,
 * resume starts them again, a waiting task is cancelled from its row. Saves a screenshot under
 * test/artifacts/. Real time, short, nothing asserted on timings. Without chromium the test is
 * skipped with one line, except in CI (`CI` set), where it must run.
 */

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardServer, serveDashboard } from '../../src/dashboard/index.js';
import { AITaskManager } from '../../src/manager.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import type { EngineEvent } from '../../src/runtime/events.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium (.ci/run)`);
}
if (!available) {
  console.info(`browser tests skipped: no ${CHROMIUM} (apt-get install chromium)`);
}

const TASKS = 120;

describe.skipIf(!available)('the dashboard page in Chromium', () => {
  let simulator: Simulator;
  let manager: AITaskManager;
  let dashboard: DashboardServer;
  let browser: Browser;
  let page: Page;
  const events: EngineEvent[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    simulator = await startSimulator({ latency: { kind: 'fixed', ms: 60 }, seed: 3 });
    manager = new AITaskManager({
      baseURL: simulator.url,
      apiKey: 'sk-simulator',
      maxConcurrent: 3,
      budgetLimit: 5,
      requestsPerMinute: 10_000,
    });
    manager.events$.subscribe((event) => events.push(event));
    await manager.start();
    manager.pause();
    for (let i = 0; i < TASKS; i++) {
      await manager.submitTask({
        taskType: 'TEXT_CLASSIFICATION',
        data: { text: `ticket ${i}: the export crashes`, categories: ['bug', 'feature'] },
        priority: (['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const)[i % 4],
      });
    }
    dashboard = await serveDashboard(manager);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await manager?.stop({ force: true });
    await simulator?.close();
  });

  const value = async (selector: string) => Number(await page.getAttribute(selector, 'data-value'));
  const attribute = (selector: string, name: string) => page.getAttribute(selector, name);
  /** Polls what the page shows until `check` holds (the suite has no DOM types for page code). */
  const until = async (check: () => Promise<boolean>, timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > end) {
        // What the page shows, to tell what went wrong.
        const shown = await Promise.all(
          ['#queue-state', '#conn-state', '#task-detail', '#toasts'].map(
            async (s) =>
              `${s}: ${((await page.textContent(s)) ?? '').replace(/\s+/g, ' ').slice(0, 300)}`,
          ),
        );
        throw new Error(`the page never showed it: ${check.toString()}\n${shown.join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const admitted = () => events.filter((e) => e.type === 'task.admitted').length;

  it('follows a run, pauses it, cancels a waiting task and resumes it', async () => {
    await page.goto(dashboard.url);
    // The token went into a cookie, and out of the address bar.
    expect(new URL(page.url()).search).toBe('');
    await until(async () => (await value('#state-count-queued')) === TASKS);
    expect(await page.textContent('#queue-state')).toContain('paused');
    expect(await page.isDisabled('#btn-pause')).toBe(true);

    // Resume from the page: the counters and the state counts move.
    await page.click('#btn-resume');
    await until(async () => (await value('#stat-completed')) >= 10);
    await until(async () => (await value('#state-count-completed')) >= 10);
    expect(manager.isPaused()).toBe(false);

    // Pause from the page: admissions stop (the running calls finish).
    await page.click('#btn-pause');
    await until(async () => (await attribute('#queue-state', 'data-state')) === 'paused');
    expect(manager.isPaused()).toBe(true);
    await until(async () => (await page.textContent('#stat-running')) === '0');
    const admittedWhilePaused = admitted();
    const completedWhilePaused = await value('#stat-completed');
    expect(completedWhilePaused).toBeLessThan(TASKS);

    // Cancel the first waiting task of the LOW column from its row.
    const row = page.locator('#prio-list-LOW [data-cancel]').first();
    const cancelId = (await row.getAttribute('data-cancel')) as string;
    await row.click();
    await until(async () => (await value('#stat-cancelled')) === 1);
    expect((await manager.getTaskStatus(cancelId))?.status).toBe('cancelled');
    expect(admitted()).toBe(admittedWhilePaused);

    // A task's detail panel shows its history. (Opened from the HIGH column, which nothing
    // changes while the queue is paused: a row the list just moved may hold another task.)
    const link = page.locator('#prio-list-HIGH [data-task-id]').first();
    const detailId = (await link.getAttribute('data-task-id')) as string;
    await link.click();
    await page.waitForSelector('#task-detail:not([hidden])');
    await until(async () => (await page.textContent('#detail-id'))?.includes(detailId) === true);
    await until(
      async () => (await page.locator('#detail-history li[data-status="queued"]').count()) >= 1,
    );
    await page.click('#task-detail-close');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // Resume: the rest runs to the end.
    await page.click('#btn-resume');
    await until(async () => (await value('#stat-completed')) === TASKS - 1, 30_000);
    expect(admitted()).toBeGreaterThan(admittedWhilePaused);
    const stats = await manager.getStatistics();
    expect(stats.performance.totalSucceeded).toBe(TASKS - 1);
    expect(stats.performance.totalCancelled).toBe(1);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
