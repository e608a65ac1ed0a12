/**
 * How the adapter's calls reach the wire: one call prepared per turn of the event loop, and the
 * moment its request is written to its socket.
 *
 * **One call a turn.** Node's `fetch` (undici) writes a request only once the work queued
 * before it is done: when a turn starts many calls (a window opening for fifty), every call's
 * SDK work (~0.5–1 ms each) runs first, and all of them are written at the end (measured against
 * the simulator: the first of 50 written ~40 ms after its hand-off, all within a few ms of each
 * other). The server then counts the whole burst late, and the next window opens as late. So a
 * call that finds another started in this turn waits for a later turn ({@link sendTurn}): each
 * is written right after its own work, in order.
 *
 * **The write.** The SDK hands a request to `fetch` before it reaches the wire: a call's headers
 * were measured written up to ~50 ms after its hand-off in a process's first burst (new
 * connections) and up to ~20 ms after it later. Node's `fetch` reports the write on the
 * `undici:client:sendHeaders` diagnostics channel ({@link onSocketWrite}); a window that counts
 * the call from its write needs less margin for the spread between our count and the server's.
 * The request is told apart by the `x-aitq-task-id` and `x-aitq-attempt` headers the adapter
 * sends. A `fetch` that is not Node's (or a request without those headers) reports nothing: the
 * call then counts from its hand-off alone.
 */

import { subscribe } from 'node:diagnostics_channel';

/** Calls waiting for a turn of their own, in the order they asked. */
const turns: (() => void)[] = [];
/** Whether a call was started in the current turn (cleared by the turn after). */
let turnTaken = false;

/**
 * Takes a turn of the event loop for one call's preparation and send: `undefined` when none was
 * taken in this turn (the call goes on at once), otherwise a promise that resolves in a later
 * turn, one call per turn, in order.
 */
export function sendTurn(): Promise<void> | undefined {
  if (!turnTaken) {
    turnTaken = true;
    setImmediate(nextTurn);
    return undefined;
  }
  return new Promise((resolve) => turns.push(resolve));
}

function nextTurn(): void {
  const next = turns.shift();
  if (next === undefined) {
    turnTaken = false;
    return;
  }
  next();
  setImmediate(nextTurn);
}

/** The calls handed to `fetch` and not yet written, by task and attempt. */
const waiting = new Map<string, () => void>();
let listening = false;

const TASK_HEADER = 'x-aitq-task-id';
const ATTEMPT_HEADER = 'x-aitq-attempt';

/** The key of a call: its task id and attempt. */
function keyOf(taskId: string, attempt: number | undefined): string {
  return attempt === undefined ? taskId : `${taskId}\n${attempt}`;
}

/**
 * Calls `written` once when the request of task `taskId`'s attempt is written to its socket,
 * if Node's `fetch` sends it. Returns the function that forgets it (call it once the request
 * has settled, written or not).
 */
export function onSocketWrite(
  taskId: string,
  attempt: number | undefined,
  written: () => void,
): () => void {
  if (!listening) {
    listening = true;
    subscribe('undici:client:sendHeaders', headersWritten);
  }
  const key = keyOf(taskId, attempt);
  waiting.set(key, written);
  return () => {
    if (waiting.get(key) === written) waiting.delete(key);
  };
}

function headersWritten(message: unknown): void {
  if (waiting.size === 0) return;
  const headers = (message as { headers?: unknown } | null)?.headers;
  const taskId = headerValue(headers, TASK_HEADER);
  if (taskId === undefined) return;
  const attempt = headerValue(headers, ATTEMPT_HEADER);
  const key = keyOf(taskId, attempt === undefined ? undefined : Number(attempt));
  const written = waiting.get(key);
  if (written === undefined) return;
  waiting.delete(key);
  written();
}

/**
 * One header's value from undici's raw request headers: a string of `name: value\r\n` lines
 * (Node 20's undici), or a flat array of names and values (later versions).
 */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (typeof headers === 'string') {
    const lower = headers.toLowerCase();
    let from = 0;
    while (from < lower.length) {
      const at = lower.indexOf(`${name}:`, from);
      if (at < 0) return undefined;
      if (at === 0 || lower[at - 1] === '\n') {
        const end = headers.indexOf('\r\n', at);
        return headers.slice(at + name.length + 1, end < 0 ? undefined : end).trim();
      }
      from = at + name.length;
    }
    return undefined;
  }
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
  }
  return undefined;
}
