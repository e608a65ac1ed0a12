/**
 * The Stately inspector for a manager's actor system: pass `statelyInspector().inspect` as the
 * manager's `inspect` option and watch the supervisor, its `concurrency`, `rateLimit`, `budget`
 * and `tasks` children and one actor per task live, in stately.ai's viewer or any WebSocket
 * inspector server (`@statelyai/inspect/server`). See docs/observability-inspector.md.
 *
 * Inspection is an observer only: the engine does the same work with or without it. What reaches
 * the inspector is sanitized first (`sanitizeInspectionEvent`): by default the machine-level facts
 * only (ids, statuses, attempts, counts, times, error names and codes), never task data, results,
 * prompts, error messages, API keys or headers.
 */

import {
  createSkyInspector,
  createWebSocketInspector,
  type StatelyInspectionEvent,
} from '@statelyai/inspect';
import type { InspectionEvent, Observer } from 'xstate';
import { z } from 'zod';
import { parseOrThrow } from '../internal/validate.js';

export interface StatelyInspectorOptions {
  /**
   * A WebSocket inspector server (`ws://127.0.0.1:8080`, e.g. `@statelyai/inspect/server`'s
   * `createInspectorServer`). Omitted: stately.ai's hosted viewer (`createSkyInspector`; needs the
   * internet; `@statelyai/inspect` itself prints the session's link to stdout once connected).
   */
  url?: string | undefined;
  /** Send task data, results, prompts and errors' details too. Default false. */
  includeData?: boolean | undefined;
}

export interface StatelyInspector {
  /** The manager's `inspect` option. */
  readonly inspect: Observer<InspectionEvent>;
  /**
   * The WebSocket server's URL. `undefined` for the hosted viewer: its session id is made inside
   * `createSkyInspector` and only printed (`https://stately.ai/registry/inspect/<session id>`).
   */
  readonly url?: string;
  /**
   * Stops watching: what the actors did up to now is still sent, then the connection closes
   * (a WebSocket server's; the hosted viewer's socket cannot be closed, see the docs).
   */
  stop(): void;
}

const StatelyInspectorOptionsSchema = z
  .object({
    url: z.url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL' }).optional(),
    includeData: z.boolean().default(false),
  })
  .strict();

/** What replaces a value that may hold user data. */
export const OMITTED = '[omitted]';
/** What replaces an object nested deeper than {@link MAX_DEPTH}. */
const TRUNCATED = '[truncated]';
/** What replaces an object found inside itself. */
const CIRCULAR = '[circular]';
/** Levels of objects kept under a snapshot or an event (the inspector's own default depth). */
const MAX_DEPTH = 10;
/**
 * Events held until the socket is open (`@statelyai/inspect` drops the oldest beyond this; its
 * default, 200, is less than a manager's start and a few tasks make).
 */
const MAX_DEFERRED_EVENTS = 1000;

/**
 * Keys whose string is a machine-level fact, kept by default: the type of an event, ids, state
 * values and statuses, error names and codes, model names. Every string under any other key is
 * replaced by {@link OMITTED}; numbers and booleans (counts, times, limits, flags) are kept.
 */
const FACT_KEYS = new Set([
  'type',
  'id',
  'taskId',
  'taskIds',
  'actorId',
  'sessionId',
  'systemId',
  'status',
  'value',
  'tags',
  'name',
  'code',
  'providerCode',
  'requestId',
  'reason',
  'resumeTo',
  'model',
  'priority',
  'xstate$$type',
]);

/** Fact keys whose value may nest (a state value, tags, a batch's ids): every string in it is kept. */
const FACT_TREES = new Set(['value', 'tags', 'taskIds']);

/** The sanitizer's own strings, kept as they are when it runs again. */
const PLACEHOLDERS = new Set<unknown>([OMITTED, TRUNCATED, CIRCULAR]);

/**
 * Keys whose whole value may be user data (task data and input, results and outputs, prompts and
 * messages, error messages, stacks and causes, raw answers, metadata): replaced by
 * {@link OMITTED} by default, whatever its type.
 */
const DATA_KEYS = new Set([
  'data',
  'input',
  'output',
  'result',
  'results',
  'prompt',
  'prompts',
  'messages',
  'message',
  'content',
  'text',
  'body',
  'raw',
  'metadata',
  'request',
  'response',
  'payload',
  'args',
  'params',
  'stack',
  'cause',
  'details',
  'detail',
]);

/**
 * Keys dropped at any depth, with or without `includeData`: API keys, authorization, headers,
 * cookies, passwords, secrets, tokens (the word alone: `tokens`, `promptTokens` are counts).
 * Matched on the key lowercased without separators (`x-api-key`, `api_key`, `defaultHeaders`).
 */
const SECRET_KEY =
  /apikey|authorization|headers?$|cookie|passw(or)?d|secret|credential|privatekey|accesstoken|refreshtoken|bearer|^token$|^auth$/;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/** Fields the inspector itself fills in (ids, times, the machine's definition): kept as they are. */
const INSPECTOR_FIELDS = new Set([
  'type',
  'name',
  'sessionId',
  'rootId',
  'parentId',
  'sourceId',
  'id',
  'createdAt',
  '_version',
  'definition',
]);

interface Walk {
  readonly includeData: boolean;
  /** The objects on the path from the root, to tell a cycle. */
  readonly path: Set<object>;
}

/**
 * An inspection event as it may leave the process: its snapshot and event scrubbed (see the
 * module's doc; `includeData` keeps every value but the secret keys), as plain JSON-able data.
 * Total: never throws, whatever it is given (a getter that throws, a cycle, a BigInt); applying
 * it again changes nothing.
 */
export function sanitizeInspectionEvent(
  event: StatelyInspectionEvent,
  includeData: boolean,
): StatelyInspectionEvent {
  const walk: Walk = { includeData, path: new Set() };
  try {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(event)) {
      const value = (event as unknown as Record<string, unknown>)[key];
      if (key === 'snapshot') out[key] = scrubSnapshot(value, walk);
      else if (key === 'event') out[key] = scrub(value, walk, 0, false, false);
      else if (INSPECTOR_FIELDS.has(key)) out[key] = value;
      else if (!isSecretKey(key)) out[key] = scrubField(key, value, walk, 0, false);
    }
    return out as unknown as StatelyInspectionEvent;
  } catch {
    return minimalEvent(event);
  }
}

/** The event's type and actor alone, when reading it failed. */
function minimalEvent(event: StatelyInspectionEvent): StatelyInspectionEvent {
  try {
    const { type, sessionId, rootId, createdAt, _version } = event;
    return { type, sessionId, rootId, createdAt, _version, id: null } as never;
  } catch {
    return { type: '@xstate.event', event: { type: OMITTED } } as never;
  }
}

/**
 * A snapshot: its `toJSON()` (a machine's leaves out the machine and its state nodes), without
 * `historyValue` (state nodes, when read from the live snapshot of an `@xstate.actor` event).
 */
function scrubSnapshot(snapshot: unknown, walk: Walk): unknown {
  const plain = toPlain(snapshot);
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    return scrub(plain, walk, 0, false, false);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(plain)) {
    if (key === 'historyValue' || key === 'machine') continue;
    const value = readField(plain, key);
    if (!isSecretKey(key)) setField(out, key, scrubField(key, value, walk, 0, false));
  }
  return out;
}

/**
 * One field of an object at `depth` (a secret key is dropped by the caller): a data key hidden;
 * `tree`: inside a fact tree (a state value), where every string is kept.
 */
function scrubField(
  key: string,
  value: unknown,
  walk: Walk,
  depth: number,
  tree: boolean,
): unknown {
  if (!walk.includeData && !tree && DATA_KEYS.has(key)) {
    return value === undefined || value === null || PLACEHOLDERS.has(value) ? value : OMITTED;
  }
  const inTree = tree || FACT_TREES.has(key);
  return scrub(value, walk, depth, inTree, inTree || FACT_KEYS.has(key));
}

/**
 * Any value at `depth`. `tree`: inside a fact tree; `fact`: the value of a fact key (or in a
 * tree), kept if it is a string.
 */
function scrub(value: unknown, walk: Walk, depth: number, tree: boolean, fact: boolean): unknown {
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'string':
      return walk.includeData || fact || PLACEHOLDERS.has(value) ? value : OMITTED;
    case 'bigint':
      return Number(value);
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return TRUNCATED;
  const plain = toPlain(value);
  if (plain !== value) return scrubConverted(plain, walk, depth, tree, fact);
  const object = value as object;
  if (walk.path.has(object)) return CIRCULAR;
  walk.path.add(object);
  try {
    if (Array.isArray(object)) {
      return object.map((item: unknown) => scrub(item, walk, depth + 1, tree, tree));
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      if (isSecretKey(key)) continue;
      setField(out, key, scrubField(key, readField(object, key), walk, depth + 1, tree));
    }
    return out;
  } catch {
    return OMITTED;
  } finally {
    walk.path.delete(object);
  }
}

/** What `toPlain` gave for an object: walked like any value, unless it gave an object again. */
function scrubConverted(
  plain: unknown,
  walk: Walk,
  depth: number,
  tree: boolean,
  fact: boolean,
): unknown {
  if (
    plain !== null &&
    typeof plain === 'object' &&
    typeof (plain as Partial<ToJSON>).toJSON === 'function'
  ) {
    return OMITTED; // a toJSON() that returns another object with a toJSON(): not followed
  }
  return scrub(plain, walk, depth, tree, fact);
}

interface ToJSON {
  toJSON(): unknown;
}

/**
 * How an object is sent: an actor as `{ xstate$$type, id }` and a machine snapshot without its
 * machine (their `toJSON()`, as `JSON.stringify` would), an `Error` as its name, message and own
 * fields (its message and stack are not enumerable), anything else as it is.
 */
function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  try {
    if (value instanceof Error) {
      const fields: Record<string, unknown> = { name: value.name, message: value.message };
      for (const key of Object.keys(value))
        fields[key] = (value as unknown as Record<string, unknown>)[key];
      return fields;
    }
    const toJSON = (value as Partial<ToJSON>).toJSON;
    return typeof toJSON === 'function' ? toJSON.call(value) : value;
  } catch {
    return OMITTED;
  }
}

function readField(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return OMITTED;
  }
}

/** Sets an own field (a `__proto__` key stays data, not the object's prototype). */
function setField(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) return;
  if (key === '__proto__') {
    Object.defineProperty(out, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    out[key] = value;
  }
}

/**
 * The Stately inspector: pass its `inspect` to the manager (`inspect: inspector.inspect`), call
 * `stop()` once the manager has stopped. With `url`, events go to that WebSocket inspector server
 * (held until the socket opens); without, to stately.ai's hosted viewer. Throws a
 * `ValidationError` for a `url` that is not `ws://` or `wss://`, or an unknown option.
 *
 * @example
 * ```ts
 * const inspector = statelyInspector({ url: 'ws://127.0.0.1:8080' });
 * const manager = createAITaskManager({ inspect: inspector.inspect });
 * // … submit, wait
 * await manager.stop();
 * inspector.stop();
 * ```
 */
export function statelyInspector(options?: StatelyInspectorOptions): StatelyInspector {
  const { url, includeData } = parseOrThrow(
    StatelyInspectorOptionsSchema,
    options ?? {},
    'options',
  );
  const serialize = (event: StatelyInspectionEvent): StatelyInspectionEvent =>
    sanitizeInspectionEvent(event, includeData);
  let stopped = false;

  if (url === undefined) {
    // `createSkyInspector` connects at once and reconnects by itself; its errors (offline) would
    // each be printed with console.error.
    const sky = createSkyInspector({ serialize, onerror: () => undefined });
    return {
      inspect: { next: (event) => (stopped ? undefined : sky.inspect.next?.(event)) },
      stop() {
        // Its socket is out of reach (`stop()` of a sky inspector does nothing in 0.7.2): only
        // the events stop here.
        stopped = true;
        sky.stop();
      },
    };
  }

  const inspector = createWebSocketInspector({
    url,
    serialize,
    maxDeferredEvents: MAX_DEFERRED_EVENTS,
    autoStart: false,
  });
  const adapter = inspector.adapter as unknown as object;
  closeSocketsAfterStop(adapter, () => stopped);
  inspector.start();
  return {
    inspect: { next: (event) => (stopped ? undefined : inspector.inspect.next?.(event)) },
    url,
    stop() {
      if (stopped) return;
      stopped = true;
      // The inspector hands each event on from a 0 ms timer: those already scheduled run first
      // (timers of the same delay run in order), then the socket closes.
      setTimeout(() => {
        silence((adapter as { ws?: unknown }).ws);
        inspector.stop();
      }, 0);
    },
  };
}

/**
 * `@statelyai/inspect` 0.7.2's WebSocket adapter opens a new socket 5 s after any socket error and
 * never cancels that timer, not even in `stop()`: a server that was down (or a socket closed
 * while connecting, which errors) would keep the process alive, retrying for ever. Every socket
 * the adapter opens after `stop()` is closed as soon as the adapter has set its handlers, its
 * errors ignored, so a retry already scheduled is the last one.
 */
function closeSocketsAfterStop(adapter: object, stopped: () => boolean): void {
  let socket: unknown;
  try {
    Object.defineProperty(adapter, 'ws', {
      configurable: true,
      enumerable: true,
      get: () => socket,
      set: (next: unknown) => {
        socket = next;
        if (stopped()) {
          queueMicrotask(() => {
            silence(next);
            close(next);
          });
        }
      },
    });
  } catch {
    // Not the adapter this was written for: it keeps its own ways.
  }
}

interface SocketLike {
  onerror: ((event: unknown) => void) | null;
  close(): void;
}

/** Its errors no longer start a retry (a socket closed while connecting emits one). */
function silence(socket: unknown): void {
  if (socket === null || typeof socket !== 'object') return;
  try {
    (socket as SocketLike).onerror = () => undefined;
  } catch {
    // not a socket
  }
}

function close(socket: unknown): void {
  if (socket === null || typeof socket !== 'object') return;
  try {
    (socket as SocketLike).close();
  } catch {
    // closed already
  }
}
