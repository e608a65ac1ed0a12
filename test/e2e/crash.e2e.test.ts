/**
 * Crash test (issue 16): a child process runs 500 tasks against the simulator on a SQLite store
 * and is killed with SIGKILL at 20 seeded moments (the k-th request it sends, not a wall time),
 * then run again on the same file until it finishes. Then:
 * - no task is lost: all 500 completed, each with its result;
 * - no task that had completed is sent again: no request names a task after its completion;
 * - the money adds up: what the simulator billed ≤ what the ledger charged ≤ billed plus the
 *   worst cases of the holds that recovery found open (the interrupted attempts).
 * Real time over loopback; nothing asserts on timings.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costMicros } from '../../src/limits/cost.js';
import { DEFAULT_PRICES } from '../../src/limits/prices.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import type { TaskRecord } from '../../src/stores/types.js';
import { seededRandom } from '../../src/time/clock.js';
import { ROOT } from '../cli/run-cli.js';

const TASKS = 500;
const KILLS = 20;
/** A kill comes at the k-th request a run sends, k drawn from 1 to this. */
const MOST_REQUESTS_BEFORE_KILL = 40;

let sim: Simulator;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ latency: { kind: 'fixed', ms: 5 }, logLimit: 1_000_000, seed: 16 });
  dir = mkdtempSync(join(tmpdir(), 'aitq-crash-'));
});

afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

interface RunOutcome {
  killed: boolean;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  code: number | null;
}

/** Runs the worker; kills it with SIGKILL once the simulator has seen `killAt` more requests. */
function runWorker(path: string, killAt: number | undefined): Promise<RunOutcome> {
  const base = sim.stats().requests;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/e2e/fixtures/crash-worker.ts', path, sim.url, String(TASKS)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  let killed = false;
  const watch =
    killAt === undefined
      ? undefined
      : setInterval(() => {
          if (!killed && sim.stats().requests - base >= killAt) {
            killed = child.kill('SIGKILL');
          }
        }, 1);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      if (watch !== undefined) clearInterval(watch);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ killed, lines, stderr, code });
    });
  });
}

async function allTasks(path: string): Promise<TaskRecord[]> {
  const store = openSqliteStore(path);
  const out: TaskRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: 1_000, cursor });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  await store.close();
  return out;
}

describe('killed with SIGKILL at 20 seeded moments, then run again', () => {
  it('loses no task, sends no completed task again, and charges between billed and billed + open holds', async () => {
    const path = join(dir, 'crash.db');
    const random = seededRandom(1616);
    let openHoldMicros = 0;
    let kills = 0;
    let final: Record<string, unknown> | undefined;
    for (let run = 0; run <= KILLS && final === undefined; run++) {
      const killAt = run < KILLS ? 1 + Math.floor(random() * MOST_REQUESTS_BEFORE_KILL) : undefined;
      const outcome = await runWorker(path, killAt);
      for (const line of outcome.lines) {
        const recovered = line.recovered as { openHoldMicros: number } | null | undefined;
        if (recovered) openHoldMicros += recovered.openHoldMicros;
      }
      if (outcome.killed) {
        kills++;
        continue;
      }
      expect(outcome.stderr).toBe('');
      expect(outcome.code).toBe(0);
      final = outcome.lines.find((l) => l.done === true);
    }
    // The seeded kill points add up to 420 requests, under the 500 a finished run needs.
    expect(kills).toBe(KILLS);
    expect(final).toMatchObject({ completed: TASKS, failed: 0 });

    const tasks = await allTasks(path);
    expect(tasks).toHaveLength(TASKS);
    expect(tasks.every((t) => t.status === 'completed' && t.result !== undefined)).toBe(true);

    const log = sim.stats().log;
    const completedAt = new Map(tasks.map((t) => [t.id, t.completedAt ?? 0]));
    const late = log.filter(
      (e) => e.taskId !== undefined && e.at > (completedAt.get(e.taskId) ?? Infinity),
    );
    expect(late).toEqual([]);

    const price = DEFAULT_PRICES['gpt-4o-mini'];
    if (price === undefined) throw new Error('no price for gpt-4o-mini');
    const billed = log
      .filter((e) => e.status === 200)
      .reduce((sum, e) => sum + costMicros(price, e.promptTokens, e.completionTokens), 0);
    const charged = Math.round(Number(final?.spent) * 1e6);
    expect(charged).toBeGreaterThanOrEqual(billed);
    expect(charged).toBeLessThanOrEqual(billed + openHoldMicros);
  }, 180_000);
});
