import { LearnedWindows } from './learned-windows.js';
import { BucketedMap } from './persistent.js';
import { SlidingWindows } from './rate-window.js';
import { ServerHints } from './server-hints.js';
import type {
  RateLimiterState,
  RateLimitHintsData,
  RateLimitSettings,
  RateRequest,
  RefusalData,
  RefusalErrorData,
  SentRequest,
  SentSince,
  WindowTokens,
} from './types.js';
import type { WindowLimit } from './window-limits.js';

/**
 * Which of the remaining counts in `hints` this process's own sends explain: when the server's
 * count (`limit − remaining`) is no more than what this process sent in the matching learned
 * window (`sent`: every request in it, in flight, answered or refused, once the window has been
 * learned for a whole length), the server knows of no one else's traffic, and the learned window,
 * which counts all of those, already holds the same limit: such a count is dropped. Lowering it
 * by what was sent since would count again the requests the server had already counted
 * when it wrote its headers (it writes them when it answers, after the ones sent meanwhile
 * arrived): at concurrency 50 that held back 49 requests a window for the whole reset time. A
 * count the own sends do not explain (another client shares the key, or a request arrived later
 * than the margin allows) stays as the server wrote it: the requests sent since are taken to have
 * arrived, as they are for an explained count, and the ones sent after it are taken off as they
 * go. An explained count also makes the remembered one go (it would otherwise hold until its
 * reset, the time the server's whole window is clear). Before a window was learned for a whole
 * length, what was sent since is taken off, the safe side.
 */
function ownCounts(
  hints: RateLimitHintsData,
  sent: { requests: number | undefined; tokens: number | undefined },
): { requests: boolean; tokens: boolean } {
  const explained = (limit?: number, remaining?: number, own?: number) =>
    limit !== undefined && remaining !== undefined && own !== undefined && limit - remaining <= own;
  return {
    requests: explained(hints.limitRequests, hints.remainingRequests, sent.requests),
    tokens: explained(hints.limitTokens, hints.remainingTokens, sent.tokens),
  };
}

/** `hints` without the remaining counts `own` says this process's sends explain. */
function withoutOwn(
  hints: RateLimitHintsData,
  own: { requests: boolean; tokens: boolean },
): RateLimitHintsData {
  if (!own.requests && !own.tokens) return hints;
  const out: RateLimitHintsData = { ...hints };
  if (own.requests) delete out.remainingRequests;
  if (own.tokens) delete out.remainingTokens;
  return out;
}

/** `hints` with the remaining counts lowered by what was sent since (see `SentSince`). */
function lessSentSince(hints: RateLimitHintsData, sent: SentSince | undefined): RateLimitHintsData {
  if (sent === undefined || (sent.requests === 0 && sent.tokens === 0)) return hints;
  if (hints.remainingRequests === undefined && hints.remainingTokens === undefined) return hints;
  const out: RateLimitHintsData = { ...hints };
  if (hints.remainingRequests !== undefined) {
    out.remainingRequests = Math.max(0, hints.remainingRequests - sent.requests);
  }
  if (hints.remainingTokens !== undefined) {
    out.remainingTokens = Math.max(0, hints.remainingTokens - sent.tokens);
  }
  return out;
}

/** The reservation of a call admitted with no window in force: its take in a learned window. */
function learnedOnly(model: string, learnedSeq: number): Reservation {
  return Object.freeze({ model, global: -1, modelSeq: -1, learnedSeq });
}

/**
 * Why a request must wait, and until when (ms; `Infinity` = it can never fit). `shared`: a global
 * window refuses it (every model shares those); otherwise only its own model's windows, learned
 * windows or server hints hold it back, and a task of another model may go meanwhile.
 */
export type RateVerdict =
  | { ok: true }
  | {
      ok: false;
      retryAt: number;
      reason: 'window' | 'server';
      window?: WindowLimit;
      shared: boolean;
    };

/** What one window holds now, for statistics. */
export interface WindowUsage {
  /** `undefined` for the global windows. */
  model: string | undefined;
  window: WindowLimit;
  requests: number;
  tokens: number;
}

/**
 * A running task's reservation: its model, and where its takes sit (the global log, its model's
 * configured windows, its model's learned windows; -1 where none).
 */
interface Reservation {
  readonly model: string;
  readonly global: number;
  readonly modelSeq: number;
  readonly learnedSeq: number;
}

/**
 * The state of the `rateLimit` actor, as an immutable value: the global windows, each model's
 * windows, each model's server hints, and every running task's reservation so it can be
 * reconciled with the real usage. `reserve`, `reconcile`, `applyHints` and `configure` return a
 * new value (sharing what did not change: see `persistent.ts`); reading a limit is reading the
 * actor's snapshot.
 */
export class RateLimiter implements RateLimiterState {
  private constructor(
    private readonly global: SlidingWindows,
    private readonly models: ReadonlyMap<string, SlidingWindows>,
    private readonly hints: ReadonlyMap<string, ServerHints>,
    private readonly reservations: BucketedMap<Reservation>,
    /** Refusals no wait cures, by model; `''` for the whole provider. */
    private readonly refusals: ReadonlyMap<string, RefusalErrorData>,
    /** Windows learned from each model's `x-ratelimit-limit-*` headers. */
    private readonly learned: ReadonlyMap<string, LearnedWindows>,
    /** Added to every send time (`RateLimitSettings.marginMs`). */
    readonly marginMs: number,
    /** What a configured window counts of a finished call's tokens. */
    readonly windowTokens: WindowTokens,
  ) {}

  /** No takes and no hints yet, with these windows. */
  static of(settings: RateLimitSettings): RateLimiter {
    return new RateLimiter(
      SlidingWindows.of([]),
      new Map(),
      new Map(),
      BucketedMap.empty(),
      new Map(),
      new Map(),
      0,
      'reserved',
    ).configure(settings);
  }

  /** True when any window, server hint or refusal could hold a request back. */
  get active(): boolean {
    return (
      this.global.windows.length > 0 ||
      this.models.size > 0 ||
      this.hints.size > 0 ||
      this.refusals.size > 0
    );
  }

  /** The refusal that stops `model` (its own, or the whole provider's), if any. */
  refusalFor(model: string): RefusalErrorData | undefined {
    if (this.refusals.size === 0) return undefined;
    return this.refusals.get('') ?? this.refusals.get(model);
  }

  /** Records a refusal: its model (or, with no model, every model) admits nothing more. */
  refuse(refusal: RefusalData): RateLimiter {
    const refusals = new Map(this.refusals).set(refusal.model ?? '', refusal.error);
    return this.with({ refusals });
  }

  /** Forgets every refusal. */
  clearRefusals(): RateLimiter {
    return this.refusals.size === 0 ? this : this.with({ refusals: new Map() });
  }

  /** Other windows in force; what was taken stays counted. */
  configure(settings: RateLimitSettings): RateLimiter {
    const models = new Map<string, SlidingWindows>();
    for (const [model, windows] of Object.entries(settings.models)) {
      models.set(model, (this.models.get(model) ?? SlidingWindows.of([])).withWindows(windows));
    }
    // A model no longer configured keeps its log (its running calls still reconcile) with no
    // window in force.
    for (const [model, limiter] of this.models) {
      if (!models.has(model)) models.set(model, limiter.withWindows([]));
    }
    return this.with({
      global: this.global.withWindows(settings.windows),
      models,
      marginMs: settings.marginMs ?? 0,
      windowTokens: settings.windowTokens ?? 'reserved',
    });
  }

  /** Whether `requests` and `tokens` for `model` fit every window and hint in force at `now`. */
  check(now: number, model: string, requests: number, tokens: number): RateVerdict {
    let verdict: RateVerdict = { ok: true };
    const consider = (next: RateVerdict): void => {
      if (next.ok) return;
      if (verdict.ok || next.retryAt > verdict.retryAt) verdict = next;
    };
    const g = this.global.check(now, requests, tokens);
    const shared = !g.ok;
    if (!g.ok) {
      consider({ ok: false, retryAt: g.retryAt, reason: 'window', window: g.window, shared });
    }
    const m = this.models.get(model)?.check(now, requests, tokens);
    if (m && !m.ok) {
      consider({ ok: false, retryAt: m.retryAt, reason: 'window', window: m.window, shared });
    }
    const l = this.learned.get(model)?.check(now, requests, tokens);
    // A learned window is the provider's limit: its wait is a server wait (maxServerWait bounds it).
    if (l && !l.ok) consider({ ok: false, retryAt: l.retryAt, reason: 'server', shared });
    const h = this.hints.get(model)?.check(now, requests, tokens);
    if (h && !h.ok) consider({ ok: false, retryAt: h.retryAt, reason: 'server', shared });
    return verdict;
  }

  /** The window a request of this size can never fit, if any. */
  canEverFit(model: string, requests: number, tokens: number): WindowLimit | undefined {
    return (
      this.global.canEverFit(requests, tokens) ??
      this.models.get(model)?.canEverFit(requests, tokens)
    );
  }

  /** Running tasks whose reservation is not reconciled yet (0 once every call has ended). */
  get openReservations(): number {
    return this.reservations.size;
  }

  /** Records a reservation at `at` (the caller checked it first). */
  reserve(at: number, request: RateRequest): RateLimiter {
    const { model, requests, tokens } = request;
    const modelWindows = this.models.get(model);
    const learnedWindows = this.learned.get(model);
    const reservation: Reservation = Object.freeze({
      model,
      global: this.global.nextSeq,
      modelSeq: modelWindows?.nextSeq ?? -1,
      learnedSeq: learnedWindows?.nextSeq ?? -1,
    });
    let models = this.models;
    if (modelWindows !== undefined) {
      models = new Map(models).set(model, modelWindows.take(at, requests, tokens));
    }
    const learned =
      learnedWindows === undefined
        ? this.learned
        : new Map(this.learned).set(model, learnedWindows.take(at, requests, tokens));
    const hint = this.hints.get(model);
    const hints =
      hint === undefined ? this.hints : new Map(this.hints).set(model, hint.take(requests, tokens));
    return this.with({
      global: this.global.take(at, requests, tokens),
      models,
      hints,
      learned,
      reservations: this.reservations.set(request.taskId, reservation),
    });
  }

  /**
   * Task `taskId`'s call is being sent at `at`: its takes count from `at + marginMs` on in every
   * window (global, its model's, its model's learned ones), if that is later than they did. A
   * take only ever moves later, so a window never counts less than it did. A call that holds no
   * take in its model's learned windows (`request` names its model and tokens) is taken in them
   * now, from `at + marginMs`.
   */
  sent(taskId: string, at: number, request?: { model: string; tokens: number }): RateLimiter {
    const reservation = this.reservations.get(taskId);
    const restamped =
      reservation === undefined
        ? this
        : this.with(this.changeTakes(reservation, 'restamp', at + this.marginMs));
    if (request === undefined || (reservation !== undefined && reservation.learnedSeq >= 0)) {
      return restamped;
    }
    // A call with no take in its model's learned windows (admitted before they were learned):
    // the server counts it from its arrival all the same. Its reservation (a new one holding only
    // this take, for a call admitted with no window in force) holds the take from now on: its
    // answer may restamp it, and a second send does not take again.
    const learned = restamped.learned.get(request.model);
    if (learned === undefined || !learned.inForce(at)) return restamped;
    const seq = learned.nextSeq;
    return restamped.with({
      learned: new Map(restamped.learned).set(
        request.model,
        learned.sent(at, request.tokens, this.marginMs),
      ),
      reservations:
        reservation === undefined
          ? restamped.reservations.set(taskId, learnedOnly(request.model, seq))
          : restamped.linked(taskId, request.model, seq),
    });
  }

  /**
   * Replaces a task's reserved tokens with the tokens it really used; `sentAt`, when given, is
   * applied first as by `sent` (a replayed ledger carries it on the reconcile). `answeredAt`
   * (a cold call, whose arrival is only known to come before its answer): its learned take
   * counts from then on, if that is later (see `answered`).
   */
  reconcile(
    taskId: string,
    actualTokens: number,
    sentAt?: number,
    answeredAt?: number,
  ): RateLimiter {
    if (sentAt !== undefined) {
      return this.sent(taskId, sentAt).reconcile(taskId, actualTokens, undefined, answeredAt);
    }
    const reservation = this.reservations.get(taskId);
    if (reservation === undefined) return this;
    const stamped = answeredAt === undefined ? this : this.answered(reservation, answeredAt);
    return stamped.with({
      // A provider that counts the reservation keeps it counted; more used counts more.
      ...stamped.changeTakes(
        reservation,
        this.windowTokens === 'used' ? 'reconcile' : 'reconcileUp',
        actualTokens,
      ),
      reservations: this.reservations.delete(taskId),
    });
  }

  /**
   * A cold call's learned take counts from its answer at `at` (if later): what makes a window
   * learned from the model's first answer complete (see `applyHints`). The configured windows
   * keep counting it from its send plus the margin, as they count every call.
   */
  private answered(reservation: Reservation, at: number): RateLimiter {
    const { model, learnedSeq } = reservation;
    const learned = learnedSeq < 0 ? undefined : this.learned.get(model);
    if (learned === undefined) return this;
    const restamped = learned.restamp(learnedSeq, at);
    return restamped === learned
      ? this
      : this.with({ learned: new Map(this.learned).set(model, restamped) });
  }

  /**
   * The reservations with task `taskId`'s (if it holds one for `model` and no learned take yet)
   * holding learned take `seq`.
   */
  private linked(taskId: string, model: string, seq: number): BucketedMap<Reservation> {
    const reservation = this.reservations.get(taskId);
    if (reservation === undefined || reservation.model !== model || reservation.learnedSeq >= 0) {
      return this.reservations;
    }
    return this.reservations.set(taskId, Object.freeze({ ...reservation, learnedSeq: seq }));
  }

  /**
   * The logs that hold `reservation`'s takes (the global one, its model's, its model's learned
   * windows), each with `op(seq, value)` applied to the take.
   */
  private changeTakes(
    reservation: Reservation,
    op: 'restamp' | 'reconcile' | 'reconcileUp',
    value: number,
  ): {
    global: SlidingWindows;
    models: ReadonlyMap<string, SlidingWindows>;
    learned: ReadonlyMap<string, LearnedWindows>;
  } {
    const { model, modelSeq, learnedSeq } = reservation;
    let models = this.models;
    const modelWindows = modelSeq < 0 ? undefined : this.models.get(model);
    if (modelWindows !== undefined) {
      models = new Map(models).set(model, modelWindows[op](modelSeq, value));
    }
    let learned = this.learned;
    const learnedWindows = learnedSeq < 0 ? undefined : this.learned.get(model);
    if (learnedWindows !== undefined) {
      // A learned window always counts the reservation (its `reconcile` never gives back).
      const learnedOp = op === 'restamp' ? 'restamp' : 'reconcile';
      learned = new Map(learned).set(model, learnedWindows[learnedOp](learnedSeq, value));
    }
    return { global: this.global[op](reservation.global, value), models, learned };
  }

  /**
   * Applies a provider's rate-limit headers (or a 429's retry-after) for one model, from the
   * answer to task `taskId`'s call when known. The remaining counts are lowered by what the
   * model's calls sent after that one still hold (the server may have written them before those
   * arrived), and `x-ratelimit-limit-*` with their reset times become learned windows; a window
   * learned for the first time starts with `sends`, the model's calls in flight.
   */
  applyHints(
    at: number,
    model: string,
    hints: RateLimitHintsData,
    sentSince?: SentSince,
    sends?: readonly SentRequest[],
    first?: boolean,
  ): RateLimiter {
    const before = this.learned.get(model) ?? LearnedWindows.NONE;
    let after = before.learn(at, hints);
    let limiter: RateLimiter = this;
    if (sends !== undefined && !before.inForce(at) && after.inForce(at)) {
      // A window learned for the first time: the calls in flight left before it and hold no
      // take in it, but the server counts them (the first burst of a process, spread out on its
      // way). Each counts from its send, plus the margin, like every later call. Its reservation
      // holds its take (one is made for a call admitted with no window in force), so its
      // reconcile can restamp it.
      let answerStamped = true;
      after = after.seed(sends, this.marginMs, ({ taskId, cold }, seq) => {
        const reservation = taskId === undefined ? undefined : limiter.reservations.get(taskId);
        if (taskId !== undefined && reservation === undefined) {
          const reservations = limiter.reservations.set(taskId, learnedOnly(model, seq));
          limiter = limiter.with({ reservations });
        } else if (taskId !== undefined && reservation?.model === model) {
          limiter = limiter.with({ reservations: limiter.linked(taskId, model, seq) });
        } else if (cold === true) answerStamped = false;
      });
      // Learned from the model's first answer, the log holds every call the process sent it.
      // A call of that first burst may reach the server later than its send plus the margin
      // (new connections), so the log is complete only when each of them counts from its answer
      // (its reconcile restamps it; see `reconcile`).
      if (first === true && answerStamped) after = after.complete();
    }
    const sent = after.sentIn(at);
    const own = ownCounts(hints, sent);
    // With a whole learned window the own count stands for what was sent since (see ownCounts).
    const since = sentSince && {
      requests: sent.requests === undefined ? sentSince.requests : 0,
      tokens: sent.tokens === undefined ? sentSince.tokens : 0,
    };
    const server = (this.hints.get(model) ?? ServerHints.NONE)
      .forget(own.requests, own.tokens)
      .apply(at, lessSentSince(withoutOwn(hints, own), since));
    return limiter.with({
      hints: new Map(this.hints).set(model, server),
      ...(after === before ? {} : { learned: new Map(this.learned).set(model, after) }),
    });
  }

  /** Whether a window learned from `model`'s headers is in force at `now`. */
  hasLearned(model: string, now: number): boolean {
    return this.learned.get(model)?.inForce(now) ?? false;
  }

  /** The windows learned for `model` from its headers (for statistics and tests). */
  learnedWindows(model: string): readonly WindowLimit[] {
    return this.learned.get(model)?.windows ?? [];
  }

  /** Every window's load at `now`. */
  usage(now: number): WindowUsage[] {
    const out: WindowUsage[] = this.global
      .usage(now)
      .map((u) => ({ model: undefined, window: u.window, requests: u.requests, tokens: u.tokens }));
    for (const [model, limiter] of this.models) {
      for (const u of limiter.usage(now)) {
        out.push({ model, window: u.window, requests: u.requests, tokens: u.tokens });
      }
    }
    return out;
  }

  private with(changes: {
    global?: SlidingWindows;
    models?: ReadonlyMap<string, SlidingWindows>;
    hints?: ReadonlyMap<string, ServerHints>;
    reservations?: BucketedMap<Reservation>;
    refusals?: ReadonlyMap<string, RefusalErrorData>;
    learned?: ReadonlyMap<string, LearnedWindows>;
    marginMs?: number;
    windowTokens?: WindowTokens;
  }): RateLimiter {
    return new RateLimiter(
      changes.global ?? this.global,
      changes.models ?? this.models,
      changes.hints ?? this.hints,
      changes.reservations ?? this.reservations,
      changes.refusals ?? this.refusals,
      changes.learned ?? this.learned,
      changes.marginMs ?? this.marginMs,
      changes.windowTokens ?? this.windowTokens,
    );
  }
}
