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
 * The request is told apart by a number of its own the adapter sends as `x-aitq-call`. A `fetch`
 * that is not Node's reports nothing: the call then counts from its hand-off alone.
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

/** The calls handed to `fetch` and not yet written, by their `x-aitq-call` number. */
const waiting = new Map<string, () => void>();
let listening = false;
let calls = 0;

/**
 * The header that tells a call's request apart on the diagnostics channel: a number of its own in
 * this process (a task id and attempt are not enough: two engines of one process may be given the
 * same ids, and one attempt may make calls at once).
 */
export const CALL_HEADER = 'x-aitq-call';

/** A number for the next call that wants to hear of its write (see {@link CALL_HEADER}). */
export function nextCallId(): string {
  calls += 1;
  return calls.toString(36);
}

/**
 * Calls `written` once when the request whose {@link CALL_HEADER} is `callId` is written to its
 * socket, if Node's `fetch` sends it. Returns the function that forgets it (call it once the
 * request has settled, written or not).
 */
export function onSocketWrite(callId: string, written: () => void): () => void {
  if (!listening) {
    listening = true;
    subscribe('undici:client:sendHeaders', headersWritten);
  }
  waiting.set(callId, written);
  return () => {
    waiting.delete(callId);
  };
}

function headersWritten(message: unknown): void {
  if (waiting.size === 0) return;
  const callId = headerValue((message as { headers?: unknown } | null)?.headers, CALL_HEADER);
  if (callId === undefined) return;
  const written = waiting.get(callId);
  if (written === undefined) return;
  waiting.delete(callId);
  // Inside undici's write: a throw here would end the process as an uncaught exception, so a
  // failing listener costs only the call's count from its write (it keeps its hand-off's).
  try {
    written();
  } catch {
    // The window keeps counting the call from its hand-off.
  }
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
