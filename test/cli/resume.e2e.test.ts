/**
 * Resume: `aitq run` keeps its tasks in a SQLite store next to the results file, and the same
 * command after a Ctrl-C or a `kill -9` runs only what is left. The CLI runs as a child process
 * against a simulator started here, whose request log (the `x-aitq-task-id` of every call) tells
 * which task was sent when. Real time, short, nothing asserted on timings.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { CliSummarySchema } from '../../src/cli/render.js';
import { type Simulator, startSimulator } from '../../src/providers/simulator/index.js';
import { openSqliteStore } from '../../src/stores/sqlite/index.js';
import { until } from '../helpers/until.js';
import { type ResultLine, resultLines } from './result-lines.js';
import { runCliToEnd, startCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-resume-'));
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ latency: { kind: 'fixed', ms: 120 }, logLimit: 100_000 });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What must match between two runs of the same file: everything but the answers and the ids. */
function shape(lines: readonly ResultLine[]) {
  return [...lines]
    .sort((a, b) => a.index - b.index)
    .map(({ index, line, taskType, status, metadata }) => ({
      index,
      line,
      taskType,
      status,
      metadata,
    }));
}

/**
 * `n` TEXT_CLASSIFICATION lines in a new JSONL file; the last repeats the first (identical lines
 * are distinct tasks).
 */
function inputFile(name: string, n: number): string {
  const path = join(dir, name);
  const lines = Array.from({ length: n - 1 }, (_, i) =>
    JSON.stringify({
      taskType: 'TEXT_CLASSIFICATION',
      data: { text: `ticket ${i}: the queue drops tasks`, categories: ['bug', 'feature'] },
      metadata: { ticket: i },
    }),
  );
  lines.push(lines[0] as string);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** The CLI's arguments for a job of `input` against the test's simulator. */
function jobArgs(input: string, out: string, ...more: string[]): string[] {
  return [
    ...['run', input, '--base-url', sim.url, '--concurrency', '3'],
    ...['--progress', 'none', '--json', '--out', out, ...more],
  ];
}

/** Requests the simulator answered (200) since `from` (a log position), by task id. */
function answeredSince(from: number): Map<string, number> {
  const byTask = new Map<string, number>();
  for (const entry of sim.stats().log.slice(from)) {
    if (entry.status !== 200 || entry.taskId === undefined) continue;
    byTask.set(entry.taskId, (byTask.get(entry.taskId) ?? 0) + 1);
  }
  return byTask;
}

/** Every task id the simulator received a request for since `from`, whatever the answer. */
function sentSince(from: number): Set<string> {
  return new Set(
    sim
      .stats()
      .log.slice(from)
      .flatMap((entry) => (entry.taskId === undefined ? [] : [entry.taskId])),
  );
}

/** The completed top-level tasks of the store at `path` (which no process holds). */
async function completedInStore(path: string): Promise<Set<string>> {
  const store = openSqliteStore(path);
  try {
    const ids = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await store.list({ status: 'completed', cursor, limit: 1_000 });
      for (const record of page.items) if (record.parentId === undefined) ids.add(record.id);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return ids;
  } finally {
    await store.close();
  }
}

describe('aitq resumes an interrupted run', () => {
  const N = 24;

  it('after SIGINT, then SIGKILL: the rerun sends only what is left and writes every result', async () => {
    const input = inputFile('tickets.jsonl', N);

    // The same file run without interruption: what the final results must look like.
    const whole = join(dir, 'whole.jsonl');
    const baseline = await runCliToEnd(jobArgs(input, whole));
    expect(baseline.code).toBe(EXIT_CODES.ok);
    const expected = resultLines(whole);
    expect(expected).toHaveLength(N);
    // The first and the last line are the same record, and two tasks.
    const [first, last] = [
      expected.find((l) => l.index === 0),
      expected.find((l) => l.index === N - 1),
    ];
    expect(first?.taskId).not.toBe(last?.taskId);

    const out = join(dir, 'tickets.results.jsonl');
    const store = `${out}.db`;

    // 1. Ctrl-C once a few calls were answered: running calls finish, the rest is cancelled.
    let from = sim.stats().log.length;
    const first1 = startCli(jobArgs(input, out));
    await until(() => answeredSince(from).size >= 4, 'four answers');
    first1.child.kill('SIGINT');
    expect(await first1.exited).toBe(EXIT_CODES.interrupted);
    const afterSigint = resultLines(out);
    const completed1 = new Set(
      afterSigint.filter((l) => l.status === 'completed').map((l) => l.taskId as string),
    );
    expect(completed1.size).toBeGreaterThanOrEqual(4);
    expect(completed1.size).toBeLessThan(N);
    const resultsAfterSigint = readFileSync(out, 'utf8');

    // 2. The same command: it resumes, and is killed (-9) after a few more answers.
    from = sim.stats().log.length;
    const second = startCli(jobArgs(input, out));
    await second.waitFor((output) => output.includes('resuming from'));
    expect(second.stderr()).toContain(
      `aitq: resuming from ${store}: ${completed1.size} done, ${N - completed1.size} to run`,
    );
    await until(() => answeredSince(from).size >= 4, 'four more answers');
    second.child.kill('SIGKILL');
    expect(await second.exited).toBe('SIGKILL');
    // Nothing that had completed was sent again; the results file is as the first run left it.
    for (const id of sentSince(from)) expect(completed1.has(id), id).toBe(false);
    expect(readFileSync(out, 'utf8')).toBe(resultsAfterSigint);
    const completed2 = await completedInStore(store);
    // Sent and not completed when the process died: at-least-once, these may be answered twice.
    const inFlight = new Set([...sentSince(from)].filter((id) => !completed2.has(id)));
    expect(completed2.size).toBeGreaterThan(completed1.size);
    for (const id of completed1) expect(completed2.has(id)).toBe(true);

    // 3. Once more, to the end.
    from = sim.stats().log.length;
    const third = await runCliToEnd(jobArgs(input, out));
    expect(third.code).toBe(EXIT_CODES.ok);
    expect(third.stderr).toContain(
      `aitq: resuming from ${store}: ${completed2.size} done, ${N - completed2.size} to run`,
    );
    for (const id of sentSince(from)) expect(completed2.has(id), id).toBe(false);
    const summary = CliSummarySchema.parse(JSON.parse(third.stdout));
    expect(summary).toMatchObject({
      total: N,
      completed: N,
      reused: completed2.size,
      notFinished: 0,
      store,
    });

    // The same lines as the uninterrupted run (up to the answers), each task answered once.
    const final = resultLines(out);
    expect(shape(final)).toEqual(shape(expected));
    const answered = answeredSince(0);
    for (const line of final) {
      const times = answered.get(line.taskId as string) ?? 0;
      if (inFlight.has(line.taskId as string)) expect(times).toBeLessThanOrEqual(2);
      else expect(times, line.taskId as string).toBe(1);
    }
    // Results paid for before are reused as they were: same task, same answer.
    for (const line of afterSigint.filter((l) => l.status === 'completed')) {
      expect(final.find((l) => l.index === line.index)).toMatchObject({
        taskId: line.taskId,
        result: line.result,
      });
    }
    expect(existsSync(`${out}.partial`)).toBe(false);
  }, 60_000);

  it('after SIGKILL alone, and a rerun of a finished job sends nothing', async () => {
    const input = inputFile('killed.jsonl', 12);
    const out = join(dir, 'killed.results.jsonl');
    let from = sim.stats().log.length;
    const first = startCli(jobArgs(input, out));
    await until(() => answeredSince(from).size >= 3, 'three answers');
    first.child.kill('SIGKILL');
    await first.exited;
    // Killed before its end: no results file yet (the lines were going to a partial file).
    expect(existsSync(out)).toBe(false);
    const done = await completedInStore(`${out}.db`);

    from = sim.stats().log.length;
    const second = await runCliToEnd(jobArgs(input, out));
    expect(second.code).toBe(EXIT_CODES.ok);
    for (const id of sentSince(from)) expect(done.has(id), id).toBe(false);
    expect(resultLines(out).map((l) => l.status)).toEqual(Array(12).fill('completed'));

    from = sim.stats().log.length;
    const third = await runCliToEnd(jobArgs(input, out));
    expect(third.code).toBe(EXIT_CODES.ok);
    expect(third.stderr).toContain(`: 12 done, 0 to run`);
    expect(sim.stats().log.length).toBe(from);
    expect(CliSummarySchema.parse(JSON.parse(third.stdout))).toMatchObject({
      completed: 12,
      reused: 12,
    });
  });

  it("npm start's own job (analyze on the built-in simulator) resumes: a rerun reuses all 75", async () => {
    const out = join(dir, 'repos.results.jsonl');
    // `npm start`'s command with a short latency, no failures and the results in this folder.
    const args = [
      ...['analyze', 'examples/repos.json', '--simulator', '--latency', 'fixed:2'],
      ...['--error-rate', '0', '--progress', 'none', '--json', '--out', out],
    ];
    const first = await runCliToEnd(args);
    expect(first.code).toBe(EXIT_CODES.ok);
    expect(CliSummarySchema.parse(JSON.parse(first.stdout))).toMatchObject({ completed: 75 });
    const second = await runCliToEnd(args);
    expect(second.code).toBe(EXIT_CODES.ok);
    expect(second.stderr).toContain(`aitq: resuming from ${out}.db: 75 done, 0 to run`);
    expect(CliSummarySchema.parse(JSON.parse(second.stdout))).toMatchObject({
      completed: 75,
      reused: 75,
    });
  });

  it('runs failed tasks again on resume, and only those', async () => {
    const faulty = await startSimulator({ faults: { error500: 0.5 }, seed: 4, logLimit: 10_000 });
    try {
      const input = inputFile('faulty.jsonl', 16);
      const out = join(dir, 'faulty.results.jsonl');
      const args = [
        ...['run', input, '--base-url', faulty.url, '--max-retries', '0'],
        ...['--progress', 'none', '--json', '--out', out],
      ];
      const first = await runCliToEnd(args);
      expect(first.code).toBe(EXIT_CODES.someFailed);
      const lines = resultLines(out);
      const failed = lines.filter((l) => l.status === 'failed');
      const completed = new Set(
        lines.filter((l) => l.status === 'completed').map((l) => l.taskId as string),
      );
      expect(failed.length).toBeGreaterThan(0);

      const from = faulty.stats().log.length;
      const second = await runCliToEnd(args);
      expect(second.stderr).toContain(
        `${completed.size} done, ${failed.length} to run (${failed.length} failed or cancelled before: run again)`,
      );
      const sent = faulty.stats().log.slice(from);
      // One new call per failed line; none for a completed one.
      expect(sent).toHaveLength(failed.length);
      for (const entry of sent) expect(completed.has(entry.taskId as string)).toBe(false);
      const again = resultLines(out);
      expect(again).toHaveLength(16);
      expect(CliSummarySchema.parse(JSON.parse(second.stdout)).reused).toBe(completed.size);
    } finally {
      await faulty.close();
    }
  });
});

describe('aitq keeps every result paid for in the results file', () => {
  it('writes the results of an earlier run that a stopped run never reached', async () => {
    // The last four records are URGENT: the first run completes them before the LOW ones it
    // has not started (a few may start before the URGENT lines are read: the feed submits as
    // it reads, and a store on its worker thread answers later). Their long texts tell their
    // calls apart in the simulator's log; once all four are answered, the run is stopped.
    const input = join(dir, 'urgent.jsonl');
    const URGENT_FROM = 20;
    writeFileSync(
      input,
      Array.from({ length: URGENT_FROM + 4 }, (_, i) =>
        JSON.stringify({
          taskType: 'TEXT_CLASSIFICATION',
          data: {
            text: i >= URGENT_FROM ? `ticket ${i} ${'urgent '.repeat(400)}` : `ticket ${i}`,
            categories: ['bug', 'feature'],
          },
          priority: i >= URGENT_FROM ? 'URGENT' : 'LOW',
        }),
      ).join('\n'),
    );
    const out = join(dir, 'urgent.results.jsonl');
    const from = sim.stats().log.length;
    const urgentAnswers = () =>
      sim
        .stats()
        .log.slice(from)
        .filter((entry) => entry.status === 200 && entry.promptTokens > 300).length;
    const first = startCli(jobArgs(input, out));
    await until(() => urgentAnswers() >= 4, 'the four urgent answers');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(EXIT_CODES.interrupted);
    const paid = resultLines(out).filter((l) => l.status === 'completed');
    expect(paid.map((l) => l.index)).toEqual(expect.arrayContaining([20, 21, 22, 23]));
    // Most LOW records are left for the second run.
    expect(paid.length).toBeLessThan(URGENT_FROM);

    // Resumed one task at a time, one a minute, and stopped at once: the feed is still at the
    // first records however late the signal comes (with no rate limit, a loaded machine let the
    // eight records left finish before the signal arrived).
    const config = join(dir, 'one-at-a-time.json');
    writeFileSync(
      config,
      JSON.stringify({ maxQueueSize: 1, maxConcurrent: 1, requestsPerMinute: 1 }),
    );
    const second = startCli([...jobArgs(input, out), '--config', config]);
    await second.waitFor((output) => output.includes('resuming from'));
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(EXIT_CODES.interrupted);
    const kept = resultLines(out);
    for (const line of paid) {
      expect(kept.find((l) => l.index === line.index)).toMatchObject({
        status: 'completed',
        taskId: line.taskId,
      });
    }
    const summary = CliSummarySchema.parse(JSON.parse(second.stdout()));
    expect(summary.reused).toBe(paid.length);
    expect(summary.notFinished).toBeGreaterThan(0);
  });
});

describe('aitq --fresh, and what a job refuses before it starts', () => {
  it('--fresh deletes the store, starts over and says so', async () => {
    const input = inputFile('fresh.jsonl', 5);
    const out = join(dir, 'fresh.results.jsonl');
    expect((await runCliToEnd(jobArgs(input, out))).code).toBe(EXIT_CODES.ok);
    const before = new Set(resultLines(out).map((l) => l.taskId));

    const from = sim.stats().log.length;
    const fresh = await runCliToEnd(jobArgs(input, out, '--fresh'));
    expect(fresh.code).toBe(EXIT_CODES.ok);
    expect(fresh.stderr.split('\n')).toContain(
      `aitq: --fresh: starting over (deleted the store ${JSON.stringify(`${out}.db`)})`,
    );
    expect(fresh.stderr).not.toContain('resuming');
    expect(CliSummarySchema.parse(JSON.parse(fresh.stdout))).toMatchObject({
      completed: 5,
      reused: 0,
    });
    expect(answeredSince(from).size).toBe(5);
    for (const line of resultLines(out)) expect(before.has(line.taskId)).toBe(false);
  });

  it('refuses to replace a results file that has no store (exit 2, the file intact); --fresh may', async () => {
    const input = inputFile('orphan.jsonl', 3);
    const out = join(dir, 'orphan.results.jsonl');
    const previous = '{"index":0,"status":"completed","note":"from yesterday"}\n';
    writeFileSync(out, previous);
    const from = sim.stats().log.length;
    const run = await runCliToEnd(jobArgs(input, out));
    expect(run.code).toBe(EXIT_CODES.badInput);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `aitq: --out: ${JSON.stringify(out)} exists but there is no store to resume from (${JSON.stringify(`${out}.db`)}): pass --fresh to replace it and start over, or choose another --out`,
    ]);
    expect(readFileSync(out, 'utf8')).toBe(previous);
    expect(existsSync(`${out}.db`)).toBe(false);
    expect(sim.stats().log.length).toBe(from);

    // --no-store would replace it just the same.
    const noStore = await runCliToEnd(jobArgs(input, out, '--no-store'));
    expect(noStore.code).toBe(EXIT_CODES.badInput);
    expect(noStore.stderr).toMatch(/^aitq: --out: .* exists and, without a store \(--no-store\)/);

    const fresh = await runCliToEnd(jobArgs(input, out, '--fresh'));
    expect(fresh.code).toBe(EXIT_CODES.ok);
    expect(fresh.stderr).toContain('aitq: --fresh: starting over\n');
    expect(resultLines(out)).toHaveLength(3);
  });

  it('refuses a store another process holds: exit 2, one line, nothing written', async () => {
    const input = inputFile('locked.jsonl', 3);
    const out = join(dir, 'locked.results.jsonl');
    const held = openSqliteStore(`${out}.db`);
    try {
      const from = sim.stats().log.length;
      const run = await runCliToEnd(jobArgs(input, out));
      expect(run.code).toBe(EXIT_CODES.badInput);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toEqual([
        `aitq: store ${JSON.stringify(`${out}.db`)} is in use by another process (another aitq with the same results file?): wait for it to end, or choose another --store`,
      ]);
      expect(existsSync(out)).toBe(false);
      expect(sim.stats().log.length).toBe(from);
      // --fresh does not delete a store in use either.
      const fresh = await runCliToEnd(jobArgs(input, out, '--fresh'));
      expect(fresh.code).toBe(EXIT_CODES.badInput);
      expect(fresh.stderr).toMatch(
        /^aitq: --fresh: store ".*" is in use by another process.*; it was not deleted\n$/,
      );
    } finally {
      await held.close();
    }
  });

  it('refuses a store that is not a database, and --fresh does not delete it', async () => {
    const input = inputFile('notdb.jsonl', 2);
    const out = join(dir, 'notdb.results.jsonl');
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes, not a database\n'.repeat(200));
    const run = await runCliToEnd(jobArgs(input, out, '--store', notes));
    expect(run.code).toBe(EXIT_CODES.badInput);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `aitq: store ${JSON.stringify(notes)} is not a readable SQLite database (damaged?): move it away, or pass --fresh to delete it and start over`,
    ]);
    const fresh = await runCliToEnd(jobArgs(input, out, '--store', notes, '--fresh'));
    expect(fresh.code).toBe(EXIT_CODES.badInput);
    expect(fresh.stderr.trimEnd()).toBe(
      `aitq: --fresh: ${JSON.stringify(notes)} is not a SQLite database, so not a store: it was not deleted; choose another --store`,
    );
    expect(readFileSync(notes, 'utf8')).toContain('my notes');
  });
});

describe('aitq --key', () => {
  /** A file of `run` lines with these metadata. */
  function keyedFile(name: string, metadata: readonly unknown[]): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      metadata
        .map((m, i) =>
          JSON.stringify({
            taskType: 'TEXT_CLASSIFICATION',
            data: { text: `ticket ${i}`, categories: ['bug', 'feature'] },
            metadata: m,
          }),
        )
        .join('\n'),
    );
    return path;
  }

  it.each([
    [
      'a missing field',
      'missing.jsonl',
      [{ id: 'a' }, { ticket: 2 }],
      /^aitq: .*missing\.jsonl: line 2 \(index 1\): --key metadata\.id: the record has no field "metadata\.id"$/,
    ],
    [
      'a value that is not a string or a number',
      'type.jsonl',
      [{ id: 'a' }, { id: ['b'] }],
      /^aitq: .*type\.jsonl: line 2 \(index 1\): --key metadata\.id: expected a non-empty string or a number \(received an array of 1\)$/,
    ],
    [
      'a value seen before',
      'twice.jsonl',
      [{ id: 'a' }, { id: 'b' }, { id: 'a' }],
      /^aitq: .*twice\.jsonl: line 3 \(index 2\): --key metadata\.id: the value "a" is also the key of line 1: keys must be unique$/,
    ],
  ])(
    'refuses %s: exit 2, one line naming the line and the field',
    async (_, name, metadata, message) => {
      const input = keyedFile(name, metadata);
      const out = join(dir, `${name}.results.jsonl`);
      const from = sim.stats().log.length;
      const run = await runCliToEnd(jobArgs(input, out, '--key', 'metadata.id'));
      expect(run.code).toBe(EXIT_CODES.badInput);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.db`)).toBe(false);
      expect(sim.stats().log.length).toBe(from);
    },
  );

  it('finds the tasks of an earlier run by the named field, whatever else changed', async () => {
    const out = join(dir, 'keyed.results.jsonl');
    const input = keyedFile('keyed.jsonl', [{ id: 'a' }, { id: 7 }, { id: 'c' }]);
    expect((await runCliToEnd(jobArgs(input, out, '--key', 'metadata.id'))).code).toBe(0);
    // The same keys with other texts: nothing runs again.
    const edited = join(dir, 'keyed-edited.jsonl');
    writeFileSync(edited, readFileSync(input, 'utf8').replaceAll('ticket', 'issue'));
    const from = sim.stats().log.length;
    const again = await runCliToEnd(jobArgs(edited, out, '--key', 'metadata.id'));
    expect(again.code).toBe(EXIT_CODES.ok);
    expect(sim.stats().log.length).toBe(from);
    expect(CliSummarySchema.parse(JSON.parse(again.stdout))).toMatchObject({ reused: 3 });
    // Without --key the records are keyed by content: the edited ones are new tasks, and the
    // earlier run's unfinished tasks (none here) would be dropped.
    const byContent = await runCliToEnd(jobArgs(edited, out));
    expect(byContent.code).toBe(EXIT_CODES.ok);
    expect(CliSummarySchema.parse(JSON.parse(byContent.stdout))).toMatchObject({ reused: 0 });
  });
});
