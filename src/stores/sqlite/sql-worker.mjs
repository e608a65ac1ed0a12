/**
 * The SQLite store's worker thread (`thread: 'worker'`, the default for a file): it holds the
 * connection and runs the store's statements with the same `SqlRunner` as a store on the
 * caller's thread, so SQLite's work (statements, commits, checkpoints) uses a core of its own.
 *
 * The store has already checked and migrated the file on its own thread and closed it; here the
 * file is opened again with the same settings, its identity checked once more, and its write
 * lock taken. The outcome is posted on `port` and signalled on `signal`, which the opening thread
 * waits on (`openSqliteStore` stays synchronous). Then each request `{ id, op, ... }` gets one
 * reply `{ id, value }` or `{ id, error }`, in order; the transactions waiting together share
 * one commit. A large transaction comes as `{ op: 'part' }` messages (no id, no reply) ended by
 * its request (see `part` below).
 */

import { receiveMessageOnPort, workerData } from 'node:worker_threads';

const { path, synchronous, checkpointPages, applicationId, version, signal, port } = workerData;

/** What crosses back to the store: enough for it to rebuild the error. */
function serialize(error) {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  return {
    name: error.name,
    message: error.message,
    code: typeof error.code === 'string' ? error.code : undefined,
    step: typeof error.step === 'number' ? error.step : undefined,
    missing: error.missing === true ? true : undefined,
  };
}

async function open() {
  // Loaded here, not imported above, so that a module that fails to load is reported too.
  const { default: Database } = await import('better-sqlite3');
  const { SqlRunner, applySettings } = await import('./sql-runner.mjs');
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    const id = Number(db.pragma('application_id', { simple: true }));
    const found = Number(db.pragma('user_version', { simple: true }));
    if (id !== applicationId || found !== version) {
      throw Object.assign(
        new Error(
          `the file changed while the store opened it (application_id ${id}, user_version ${found})`,
        ),
        { code: 'SQLITE_BUSY' },
      );
    }
    applySettings(db, synchronous, checkpointPages);
    // Takes the write lock now, as the opening on the caller's thread does.
    db.prepare('BEGIN IMMEDIATE').run();
    db.prepare('COMMIT').run();
    return new SqlRunner(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

let runner;
try {
  runner = await open();
  port.postMessage({ opened: true });
} catch (error) {
  port.postMessage({ opened: false, error: serialize(error) });
}
Atomics.store(signal, 0, 1);
Atomics.notify(signal, 0);

/** The SQL texts the store has sent, by number (each is sent once). */
const texts = [];

/** A transaction's step groups as sent (`[sql, rows, otherwise or -1, flags]`), for the runner. */
function groupsOf(request) {
  return request.groups.map(([sql, rows, otherwise, flags]) => ({
    sql: texts[sql],
    rows,
    otherwise: otherwise === -1 ? undefined : texts[otherwise],
    requires: (flags & 1) !== 0,
    count: (flags & 2) !== 0,
  }));
}

function reply(id, outcome) {
  if ('error' in outcome) port.postMessage({ id, error: serialize(outcome.error) });
  else port.postMessage({ id, value: outcome.value });
}

/** Runs one request other than a transaction. */
function handle(request) {
  try {
    if (request.op === 'call') {
      return { value: runner.call(texts[request.sql], request.params, request.mode) };
    }
    if (request.op === 'close') {
      runner.close();
      return { value: undefined };
    }
    throw new TypeError(`unknown request '${String(request.op)}'`);
  } catch (error) {
    return { error };
  }
}

/**
 * The transaction that is coming in parts (`{ op: 'part', groups }` messages, then its
 * `{ id, op: 'transaction', groups: [] }`): begun at its first part, each part run as it comes (so
 * the thread holds one part's rows at a time), committed at its last. After an error it is rolled
 * back and the parts left are skipped; the last one gets the error. A last part marked `abandon`
 * (the caller could not send a part) rolls it back too.
 */
let parted;

/** One part of a transaction sent in parts; the last one (it has an `id`) ends it. */
function part(request) {
  if (parted === undefined) {
    parted = { next: 0, counted: 0, error: undefined };
    try {
      runner.begin();
    } catch (error) {
      parted.error = error;
    }
  }
  if (parted.error === undefined && request.abandon === true) {
    parted.error = new Error('the transaction was abandoned: one of its parts could not be sent');
    try {
      runner.rollback();
    } catch {
      // As below.
    }
  }
  if (parted.error === undefined) {
    const groups = groupsOf(request);
    try {
      parted.counted += runner.part(groups, parted.next);
    } catch (error) {
      parted.error = error;
      try {
        runner.rollback();
      } catch {
        // The connection reports its own state at the next statement.
      }
    }
    for (const group of groups) parted.next += group.rows.length;
  }
  if (request.op === 'part') return;
  const { counted, error } = parted;
  parted = undefined;
  if (error === undefined) {
    try {
      runner.commit();
      reply(request.id, { value: counted });
    } catch (commitError) {
      try {
        runner.rollback();
      } catch {
        // As above.
      }
      reply(request.id, { error: commitError });
    }
  } else {
    reply(request.id, { error });
  }
}

/**
 * The request that woke the thread and those queued behind it, one at a time; transactions next
 * to each other share one commit (see `SqlRunner.transactions`).
 */
function serve(first) {
  let batch = [];
  const flush = () => {
    if (batch.length === 0) return;
    const outcomes = runner.transactions(batch.map(groupsOf));
    for (const [index, request] of batch.entries()) reply(request.id, outcomes[index]);
    batch = [];
  };
  for (let request = first; request !== undefined; request = receiveMessageOnPort(port)?.message) {
    if (request.defs !== undefined) for (const [n, sql] of request.defs) texts[n] = sql;
    if (request.op === 'part' || (request.op === 'transaction' && parted !== undefined)) {
      flush();
      part(request);
      continue;
    }
    if (request.op === 'transaction') {
      batch.push(request);
      continue;
    }
    flush();
    reply(request.id, handle(request));
    if (request.op === 'close') {
      port.close();
      return;
    }
  }
  flush();
}

if (runner !== undefined) port.on('message', serve);
else port.close();
