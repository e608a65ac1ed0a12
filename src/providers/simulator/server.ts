/**
 * The simulator's HTTP side: routing, auth, rate limits, fault injection, latency, headers and
 * bookkeeping. Answers themselves are built in `responses.ts`.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Turns } from '../../internal/turns.js';
import { type RandomSource, seededRandom } from '../../time/clock.js';
import { AnswerLimitError, MAX_ANSWER_BYTES } from './answer-limits.js';
import { Arrivals } from './arrivals.js';
import { PacedCounter } from './counting.js';
import { formatResetDuration } from './durations.js';
import {
  bodyTooLarge,
  type ErrorAnswer,
  invalidApiKey,
  invalidRequest,
  malformedJson,
  methodNotAllowed,
  modelNotFound,
  outOfCredit,
  rateLimitExceeded,
  serverError,
  serviceUnavailable,
  unknownUrl,
} from './errors.js';
import { drawFault, type FaultKind } from './faults.js';
import { readJsonBody, writeAnswer } from './http.js';
import { answerDelayMs, sampleLatencyMs } from './latency.js';
import { type LimitKind, SimulatorRateLimits } from './limits.js';
import type { ResolvedSimulatorOptions } from './options.js';
import { checkChatBody, checkEmbeddingBody, modelOf } from './requests.js';
import { buildChatCompletion, buildEmbeddingList, modelList, modelObject } from './responses.js';
import { routeOf } from './routes.js';
import { RequestLog, type SimulatorLogEntry, type SimulatorStats } from './stats.js';

/** How long an injected 429 or 503 tells the client to wait. */
const INJECTED_RETRY_AFTER_MS = 1_000;

/** The running HTTP server and its controls. */
export interface SimulatorServer {
  readonly server: Server;
  stats(): SimulatorStats;
  reset(): void;
  /** Stops listening, ends pending and hanging requests, and resolves once the server is closed. */
  shutdown(): Promise<void>;
}

/** A request being handled: its log entry and where to answer. */
interface Exchange {
  res: ServerResponse;
  entry: SimulatorLogEntry;
  /** Set once the entry has been counted, so it is counted once. */
  recorded: boolean;
  /** Arrival order, behind `x-request-id` and completion ids. */
  sequence: number;
}

/** What a successful or faulted call answers, after its delay. */
interface PlannedAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** Creates the simulator's server (not yet listening). */
export function createSimulatorServer(options: ResolvedSimulatorOptions): SimulatorServer {
  const { now } = options;
  const models = new Set(options.models);
  // One window for every model, or one per served model (made on its first request); a model
  // that is not served reports an empty window.
  const shared = new SimulatorRateLimits(options.limits);
  const perModel = new Map<string, SimulatorRateLimits>();
  function limitsOf(model: string): SimulatorRateLimits {
    if (!options.limits.perModel) return shared;
    if (!models.has(model)) return new SimulatorRateLimits(options.limits);
    let limits = perModel.get(model);
    if (limits === undefined) {
      limits = new SimulatorRateLimits(options.limits);
      perModel.set(model, limits);
    }
    return limits;
  }
  const log = new RequestLog(options.logLimit);
  /** The server's work, one piece a turn of the event loop (see arrivals.ts). */
  const turns = new Turns();
  let faultRandom: RandomSource = seededRandom(options.seed);
  let latencyRandom: RandomSource = seededRandom(options.seed ^ 0x5bd1e995);
  let sequence = 0;
  let closing = false;
  /** Answers waiting for their latency, with their exchange (logged 499 if the server closes). */
  const timers = new Map<NodeJS.Timeout, Exchange>();
  const hanging = new Set<ServerResponse>();

  function record(exchange: Exchange, status: number): void {
    if (exchange.recorded) return;
    exchange.recorded = true;
    exchange.entry.status = status;
    log.record(exchange.entry);
  }

  /** The headers of the window the request's model counts in (`''` when it named none). */
  function rateLimitHeaders(model: string): Record<string, string> {
    const snapshot = limitsOf(model).snapshot(now());
    const headers: Record<string, string> = {};
    if (snapshot.requests !== undefined) {
      headers['x-ratelimit-limit-requests'] = String(snapshot.requests.limit);
      headers['x-ratelimit-remaining-requests'] = String(snapshot.requests.remaining);
      headers['x-ratelimit-reset-requests'] = formatResetDuration(snapshot.requests.resetMs);
    }
    if (snapshot.tokens !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(snapshot.tokens.limit);
      headers['x-ratelimit-remaining-tokens'] = String(snapshot.tokens.remaining);
      headers['x-ratelimit-reset-tokens'] = formatResetDuration(snapshot.tokens.resetMs);
    }
    return headers;
  }

  function send(exchange: Exchange, answer: PlannedAnswer, processingMs = 0): void {
    if (exchange.res.destroyed) {
      record(exchange, 499);
      return;
    }
    record(exchange, answer.status);
    writeAnswer(exchange.res, answer.status, answer.body, {
      'x-request-id': `req_sim${exchange.sequence.toString(16).padStart(12, '0')}`,
      'openai-processing-ms': String(Math.round(processingMs)),
      ...rateLimitHeaders(exchange.entry.model),
      ...answer.headers,
    });
  }

  function sendError(exchange: Exchange, error: ErrorAnswer): void {
    send(exchange, errorAnswer(error));
  }

  function sendJson(exchange: Exchange, body: unknown): void {
    send(exchange, { status: 200, body: JSON.stringify(body) });
  }

  /** Answers after `delayMs`, unless the client leaves or the server closes first. */
  function sendLater(exchange: Exchange, delayMs: number, answer: () => PlannedAnswer): void {
    if (delayMs <= 0) {
      send(exchange, answer());
      return;
    }
    const onClose = () => {
      clearTimeout(timer);
      timers.delete(timer);
      record(exchange, 499);
    };
    // Written in a turn of its own: answers due at once would otherwise hold one pass of the
    // event loop for all their writes, and the requests arriving meanwhile would be stamped late.
    // Until then the answer stays among the timers (a shutdown logs it as cut off).
    const timer = setTimeout(() => {
      void turns.later().then(() => {
        if (!timers.delete(timer)) return;
        exchange.res.off('close', onClose);
        send(exchange, answer(), delayMs);
      });
    }, delayMs);
    timers.set(timer, exchange);
    exchange.res.once('close', onClose);
  }

  /** Never answers (the `timeout` fault): the client aborts, or `shutdown()` cuts it off. */
  function hang(exchange: Exchange): void {
    record(exchange, 0);
    hanging.add(exchange.res);
    exchange.res.once('close', () => hanging.delete(exchange.res));
  }

  function refuseOverLimit(
    exchange: Exchange,
    model: string,
    verdict: {
      kind: LimitKind;
      limit: number;
      used: number;
      requested: number;
      retryAfterMs: number;
    },
  ): void {
    const windowMs = options.limits.windowMs;
    const per =
      windowMs === 60_000
        ? `${verdict.kind} per min (${verdict.kind === 'requests' ? 'RPM' : 'TPM'})`
        : `${verdict.kind} per ${formatResetDuration(windowMs)}`;
    const message = Number.isFinite(verdict.retryAfterMs)
      ? `Rate limit reached for ${model} in organization org-simulator on ${per}: Limit ${verdict.limit}, Used ${verdict.used}, Requested ${verdict.requested}. Please try again in ${formatResetDuration(verdict.retryAfterMs)}.`
      : `Request too large for ${model} in organization org-simulator on ${per}: Limit ${verdict.limit}, Requested ${verdict.requested}. The input or output tokens must be reduced in order to run successfully.`;
    sendError(exchange, rateLimitExceeded(message, verdict.kind, verdict.retryAfterMs));
  }

  /**
   * The shared tail of chat and embeddings: build the answer (a schema that asks for more than
   * the simulator generates is refused here, uncounted), count against the limits, draw the
   * fault and the latency, then answer (or not).
   */
  async function admitAndAnswer(
    exchange: Exchange,
    model: string,
    reservedTokens: number,
    build: () => Promise<{ body: Record<string, unknown>; completionTokens: number }>,
  ): Promise<void> {
    let built: { body: Record<string, unknown>; completionTokens: number };
    try {
      built = await build();
    } catch (error) {
      if (!(error instanceof AnswerLimitError)) throw error;
      sendError(
        exchange,
        invalidRequest(`Invalid schema for response_format: ${error.message}.`, 'response_format'),
      );
      return;
    }
    // Counting and building let other requests run: this one may have lost its client meanwhile.
    if (closing || exchange.res.destroyed) {
      record(exchange, 499);
      return;
    }
    // Counted at its arrival, as a provider counts at its edge. Requests are handled in the order
    // they arrived, but one whose body or answer takes longer may be decided after a later one:
    // the window records it in its arrival place (`SimulatorRateLimits.take`).
    const at = exchange.entry.at;
    const limits = limitsOf(model);
    const verdict = limits.check(reservedTokens, at);
    if (!verdict.ok) {
      refuseOverLimit(exchange, model, verdict);
      return;
    }
    limits.take(reservedTokens, at);
    const fault = drawFault(options.faults, faultRandom);
    const baseMs = sampleLatencyMs(options.latency, latencyRandom);
    if (fault !== undefined) exchange.entry.fault = fault;
    const injected = injectedError(fault);
    if (fault === 'timeout') {
      hang(exchange);
      return;
    }
    if (injected !== undefined) {
      sendLater(exchange, baseMs, () => errorAnswer(injected));
      return;
    }
    const { body, completionTokens } = built;
    exchange.entry.completionTokens = completionTokens;
    if (fault === 'noUsage') delete body.usage;
    let text = JSON.stringify(body);
    // A 200 whose body stops halfway: no JSON parser accepts it.
    if (fault === 'malformed') text = text.slice(0, Math.floor(text.length / 2));
    const delayMs = answerDelayMs(baseMs, completionTokens, options.perOutputTokenMs);
    sendLater(exchange, delayMs, () => ({ status: 200, body: text }));
  }

  async function chat(exchange: Exchange, req: IncomingMessage): Promise<void> {
    const body = await readBody(exchange, req);
    if (body === undefined) return;
    const checked = checkChatBody(body);
    if (!checked.ok) {
      sendError(exchange, checked.error);
      return;
    }
    const call = checked.call;
    const counter = new PacedCounter(call.model, turns);
    let promptTokens = await counter.chat(call.messages);
    if (call.responseSchema !== undefined) {
      const schemaTokens = await counter.schema(call.responseSchema);
      exchange.entry.schemaTokens = schemaTokens;
      promptTokens += schemaTokens;
    }
    exchange.entry.promptTokens = promptTokens;
    if (call.maxTokens !== undefined) exchange.entry.maxTokens = call.maxTokens;
    const reserved = promptTokens + (call.maxTokens ?? options.defaultMaxTokens) * call.n;
    await admitAndAnswer(exchange, call.model, reserved, async () => {
      const built = await buildChatCompletion(call, counter, {
        body,
        seed: options.seed,
        promptTokens,
        created: Math.floor(exchange.entry.at / 1000),
        id: `chatcmpl-sim${exchange.sequence.toString(36).padStart(10, '0')}`,
        maxBytes: MAX_ANSWER_BYTES,
      });
      return { body: { ...built.body }, completionTokens: built.completionTokens };
    });
  }

  async function embeddings(exchange: Exchange, req: IncomingMessage): Promise<void> {
    const body = await readBody(exchange, req);
    if (body === undefined) return;
    const checked = checkEmbeddingBody(body, options.embeddingDimensions);
    if (!checked.ok) {
      sendError(exchange, checked.error);
      return;
    }
    const call = checked.call;
    const counter = new PacedCounter(call.model, turns);
    let inputTokens = 0;
    for (const text of call.input) inputTokens += await counter.text(text);
    exchange.entry.promptTokens = inputTokens;
    await admitAndAnswer(exchange, call.model, inputTokens, async () => ({
      body: { ...buildEmbeddingList(call, options.embeddingDimensions, inputTokens) },
      completionTokens: 0,
    }));
  }

  /** The JSON body with a served model, or `undefined` once an error has been answered. */
  async function readBody(exchange: Exchange, req: IncomingMessage): Promise<unknown> {
    const result = await readJsonBody(req, options.maxBodyBytes);
    // A body can end in the poll phase, where the requests that arrived meanwhile wait to be
    // stamped behind whatever runs: what follows (its checks, counts and answer) takes a turn.
    await turns.later();
    if (!result.ok) {
      if (result.reason === 'aborted') record(exchange, 499);
      else
        sendError(
          exchange,
          result.reason === 'too-large' ? bodyTooLarge(options.maxBodyBytes) : malformedJson(),
        );
      return undefined;
    }
    const model = modelOf(result.value);
    if (model === undefined) {
      sendError(exchange, invalidRequest('You must provide a model parameter.', 'model'));
      return undefined;
    }
    exchange.entry.model = model;
    if (!models.has(model)) {
      sendError(exchange, modelNotFound(model));
      return undefined;
    }
    return result.value;
  }

  const keyDigest = options.apiKey === undefined ? undefined : sha256(options.apiKey);

  /**
   * Whether the request carries `Authorization: Bearer <apiKey>`. The scheme is matched in any
   * case (RFC 7235); the keys are compared in constant time through their SHA-256 digests, so
   * neither the time taken nor an early exit tells how much of the key, or its length, was right.
   */
  function authorized(req: IncomingMessage): boolean {
    if (keyDigest === undefined) return true;
    const match = /^bearer +(.*)$/i.exec(req.headers.authorization ?? '');
    const digest = sha256(match?.[1] ?? '');
    return timingSafeEqual(digest, keyDigest) && match !== null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, at: number): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const exchange: Exchange = {
      res,
      entry: { at, path, model: '', status: 0, promptTokens: 0, completionTokens: 0 },
      recorded: false,
      sequence: ++sequence,
    };
    const taskId = req.headers['x-aitq-task-id'];
    if (typeof taskId === 'string' && taskId !== '') exchange.entry.taskId = taskId.slice(0, 200);
    if (closing) {
      res.setHeader('connection', 'close');
      sendError(exchange, serviceUnavailable(INJECTED_RETRY_AFTER_MS));
      return;
    }
    const route = routeOf(path);
    if (route === undefined) {
      sendError(exchange, unknownUrl(method, path));
      return;
    }
    const allowed = route.kind === 'models' || route.kind === 'model' ? 'GET' : 'POST';
    if (method !== allowed) {
      sendError(exchange, methodNotAllowed(method, path, allowed));
      return;
    }
    if (!authorized(req)) {
      sendError(exchange, invalidApiKey());
      return;
    }
    switch (route.kind) {
      case 'models':
        sendJson(exchange, modelList(options.models));
        return;
      case 'model':
        exchange.entry.model = route.id;
        if (models.has(route.id)) sendJson(exchange, modelObject(route.id));
        else sendError(exchange, modelNotFound(route.id));
        return;
      case 'chat':
        await chat(exchange, req);
        return;
      case 'embeddings':
        await embeddings(exchange, req);
        return;
    }
  }

  // Stamped as it arrives, handled one request a turn of the event loop (see arrivals.ts).
  const arrived = new Arrivals(answer, turns);
  const server = createServer((req, res) => arrived.add(req, res, now()));

  function answer(req: IncomingMessage, res: ServerResponse, at: number): void {
    handle(req, res, at).catch(() => {
      // An answer could not be built: report it as OpenAI reports its own failures.
      sendError(bareExchange(req, res, at), serverError());
    });
  }

  /** An exchange for a request known only by its arrival (not handled, or failed in handling). */
  function bareExchange(req: IncomingMessage, res: ServerResponse, at: number): Exchange {
    return {
      res,
      entry: {
        at,
        path: req.url ?? '',
        model: '',
        status: 0,
        promptTokens: 0,
        completionTokens: 0,
      },
      recorded: false,
      sequence: ++sequence,
    };
  }

  let closed: Promise<void> | undefined;

  return {
    server,
    stats: () => log.snapshot(),
    reset: () => {
      log.clear();
      shared.clear();
      perModel.clear();
      faultRandom = seededRandom(options.seed);
      latencyRandom = seededRandom(options.seed ^ 0x5bd1e995);
    },
    shutdown: () => {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        // Cut off before their latency ran out: logged now, so that `stats()` after `close()`
        // resolves counts them.
        for (const [timer, exchange] of timers) {
          clearTimeout(timer);
          record(exchange, 499);
        }
        timers.clear();
        // Arrived but not yet handled: logged as cut off too.
        for (const { req, res, at } of arrived.drain()) {
          record(bareExchange(req, res, at), 499);
          res.destroy();
        }
        for (const res of hanging) res.destroy();
        hanging.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** The error answer of an injected fault, or `undefined` for faults that are not errors. */
function injectedError(fault: FaultKind | undefined): ErrorAnswer | undefined {
  switch (fault) {
    case 'error500':
      return serverError();
    case 'error503':
      return serviceUnavailable(INJECTED_RETRY_AFTER_MS);
    case 'error429':
      return rateLimitExceeded(
        'Rate limit reached (injected by the simulator). Please try again in 1s.',
        'requests',
        INJECTED_RETRY_AFTER_MS,
      );
    case 'outOfCredit':
      return outOfCredit();
    default:
      return undefined;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function errorAnswer(error: ErrorAnswer): PlannedAnswer {
  const answer: PlannedAnswer = { status: error.status, body: JSON.stringify(error.body) };
  if (error.headers !== undefined) answer.headers = error.headers;
  return answer;
}
