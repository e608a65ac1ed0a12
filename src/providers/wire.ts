/**
 * How the adapter's calls reach the wire: each call's request options (its headers, its signal,
 * the callbacks `fetch` is to tell), one call prepared per turn of the event loop, and the moment
 * its request is written to its socket.
 *
 * **One call a turn.** Node's `fetch` (undici) writes a request only once the work queued
 * before it is done: when a turn starts many calls (a window opening for fifty), every call's
 * SDK work (~0.5–1 ms each) runs first, and all of them are written at the end (measured against
 * the simulator: the first of 50 written ~40 ms after its hand-off, all within a few ms of each
 * other). The server then counts the whole burst late, and the next window opens as late. So a
 * call that finds another started in this turn waits for a later turn (`Turns.take`): each
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
import type { ClientOptions } from 'openai';
import { Turns } from '../internal/turns.js';
import type { CallOptions } from './types.js';

/** A `fetch` the SDK can call (the global one, or a test double). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The calls' turns: each call's preparation and send in a turn of its own. */
const sends = new Turns();

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

/**
 * Runs one request with a signal of its own, aborted with the caller's while the request runs.
 * The SDK adds an `abort` listener to the signal of every request and never removes it, so the
 * calls of one attempt sharing the attempt's signal would pile up listeners on it (Node warns
 * past 10). The link to the caller's signal is removed when the request ends, so nothing of the
 * call stays reachable from it (`AbortSignal.any` would keep every call's signal alive until
 * the caller's aborted, which a successful attempt's never is).
 */
export async function withCallSignal<T>(
  signal: AbortSignal,
  request: (callSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const abort = (): void => controller.abort(signal.reason);
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
  try {
    const turn = sends.take();
    if (turn !== undefined) await turn;
    return await request(controller.signal);
  } finally {
    signal.removeEventListener('abort', abort);
  }
}

/**
 * The key under which a call's `onSend` rides in the SDK's per-request `fetchOptions` to the
 * `fetch` the SDK calls (the SDK copies every own key of `fetchOptions` into the init it passes).
 */
const ON_SEND: unique symbol = Symbol('aitq.onSend');

/** What {@link sendingFetch} needs of a call: whom to tell of its hand-off and of its write. */
interface Sending {
  onSend: (() => void) | undefined;
  onWrite: (() => void) | undefined;
  /** The `x-aitq-call` header's value, when the call wants to hear of its write. */
  callId: string | undefined;
}

/**
 * The SDK's per-request options for a call: the headers naming its task and attempt (and, for a
 * call that wants to hear of its write, a number of its own), and `fetchOptions` carrying its
 * `onSend` / `onWrite` to {@link sendingFetch}.
 */
export function requestOptions(options: CallOptions): {
  headers?: Record<string, string>;
  fetchOptions?: FetchOptions;
} {
  const headers = taskHeaders(options);
  if (options.onSend === undefined && options.onWrite === undefined) {
    return headers === undefined ? {} : { headers };
  }
  const callId = options.onWrite === undefined ? undefined : nextCallId();
  const sending: Sending = {
    onSend: options.onSend === undefined ? undefined : () => options.onSend?.(),
    onWrite: options.onWrite === undefined ? undefined : () => options.onWrite?.(),
    callId,
  };
  // A key the SDK's types do not know (it passes it through untouched): hence the cast.
  const fetchOptions = { [ON_SEND]: sending } as unknown as FetchOptions;
  return {
    headers: callId === undefined ? { ...headers } : { ...headers, [CALL_HEADER]: callId },
    fetchOptions,
  };
}

/** The SDK's per-request `fetchOptions`. */
type FetchOptions = NonNullable<ClientOptions['fetchOptions']>;

/**
 * A `fetch` that tells the call it is being sent (see `CallOptions.onSend`), then sends it, and
 * tells it again when Node's `fetch` writes it to its socket (`CallOptions.onWrite`; see wire.ts).
 */
export function sendingFetch(fetch: FetchLike): FetchLike {
  return (input, init) => {
    const sending = (init as { [ON_SEND]?: Sending } | undefined)?.[ON_SEND];
    if (sending === undefined) return fetch(input, init);
    sending.onSend?.();
    const { callId, onWrite } = sending;
    if (callId === undefined || onWrite === undefined) return fetch(input, init);
    const forget = onSocketWrite(callId, onWrite);
    try {
      const response = fetch(input, init);
      response.then(forget, forget);
      return response;
    } catch (error) {
      forget();
      throw error;
    }
  };
}

/** The headers naming the call's task and attempt (none when the caller gives neither). */
function taskHeaders(options: CallOptions): Record<string, string> | undefined {
  if (options.taskId === undefined) return undefined;
  const headers: Record<string, string> = { 'x-aitq-task-id': options.taskId };
  if (options.attempt !== undefined) headers['x-aitq-attempt'] = String(options.attempt);
  return headers;
}
