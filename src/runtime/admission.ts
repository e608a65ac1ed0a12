/**
 * Admission as data in, decision out: whether the head of the waiting line may start now, and if
 * not, what it waits for and until when, or why it can never start. Pure: it reads the resource
 * actors' state through the read-only view it is given and takes nothing; the supervisor's
 * `admit` action carries the decision out by sending events to those actors.
 */

import type { WaitReason } from '../../machines/wait-reason.js';
import {
  BudgetExceededError,
  type SerializedError,
  serializeError,
  serverWaitTooLong,
  ValidationError,
} from '../errors.js';
import type { BudgetPeriod, BudgetVerdict } from '../limits/budget.js';
import type { RateVerdict } from '../limits/rate-limiter.js';
import type { WindowLimit } from '../limits/window-limits.js';

/** What admission needs to know of the task at the head of the line. */
export interface AdmissionHead {
  id: string;
  reservation: {
    /** Takes a slot, a window reservation and a budget hold (a composite parent takes none). */
    limited: boolean;
    model: string;
    promptTokens: number;
    maxTokens: number;
    worstCaseMicros: number;
  };
}

/** The resource actors' state as admission reads it: read-only, nothing is taken through it. */
export interface AdmissionView {
  /** `stop()` was called: only tasks that drain with running work (children of running composite tasks) start. */
  readonly stopping: boolean;
  /** The concurrency actor's pool. */
  readonly slots: { readonly max: number; readonly used: number };
  readonly rate: {
    /** Whether any window or server hint is in force (no reservation is checked otherwise). */
    readonly active: boolean;
    check(now: number, model: string, requests: number, tokens: number): RateVerdict;
    canEverFit(model: string, requests: number, tokens: number): WindowLimit | undefined;
    /** A refusal no wait cures that stops `model` (see `ProviderRefusedError`), if any. */
    refusalFor(model: string): SerializedError | undefined;
  };
  readonly budget: {
    check(now: number, amount: number): BudgetVerdict;
    canEverFit(amount: number): BudgetPeriod | undefined;
    /** Money held by running calls, which comes back when they end. */
    held(): number;
  };
  /** `maxServerWait` in milliseconds. */
  readonly maxServerWaitMs: number;
}

export type AdmissionDecision =
  /** Start it; `limited`: take a slot, a window reservation and a budget hold first. */
  | { kind: 'admit'; limited: boolean }
  /**
   * It waits for `waitingFor`, until `until` if known. `ownModel`: only its own model's limits
   * hold it back (its windows, learned windows, server hints), and every shared resource (a slot,
   * the global windows, the budgets) has room for it now: tasks of other models may start
   * meanwhile. Otherwise the whole line waits behind it.
   */
  | { kind: 'wait'; waitingFor: WaitReason; until?: number | undefined; ownModel: boolean }
  /** It can never start: fail it with `error`, and look at the next task. */
  | { kind: 'fail'; error: SerializedError }
  /** A draining stop sets it aside: it stays queued in the store, for a later run. */
  | { kind: 'park' };

/**
 * The decision for `head` at `now` (wall time; `mono`: the monotonic reading the rate windows
 * run on, `now` when the clock has none). `drains`: whether the head is part of the running work
 * that a draining stop waits for (only asked while stopping).
 *
 * In order: a draining stop parks what does not drain; a composite parent starts at once; then a
 * free slot, room in every window and no server hint in force, room in every budget for the
 * worst case. The first refusal decides what the head waits for, except that a refusal by the
 * head's own model only (`ownModel`) gives way to a later refusal of a shared resource: a wait
 * is per model only when nothing shared refuses the head. A window or budget that can
 * never hold the head (lowered by `adjustSettings`), a total budget that can never pay it again
 * (nothing held could come back), a server's wait above `maxServerWait`, or a refusal of its
 * provider or model that no wait cures (`ProviderRefusedError`) fails it instead.
 */
export function decideAdmission(
  head: AdmissionHead,
  drains: boolean,
  view: AdmissionView,
  now: number,
  mono: number = now,
): AdmissionDecision {
  if (view.stopping && !drains) return PARK;
  const { limited, model, promptTokens, maxTokens, worstCaseMicros } = head.reservation;
  if (!limited) return ADMIT_FREE;
  // A provider that refused in a way no wait cures fails the task at once, slot or not.
  const refused = view.rate.active ? view.rate.refusalFor(model) : undefined;
  if (refused !== undefined) return { kind: 'fail', error: refused };
  if (view.slots.used >= view.slots.max) {
    return { kind: 'wait', waitingFor: 'concurrency', ownModel: false };
  }
  // A wait for the head's own model only (its windows, learned windows, server hints): the
  // shared resources are still checked, so a task of another model never takes what the head
  // could use now; the loop then looks past this model.
  let ownModelWait: AdmissionDecision | undefined;
  if (view.rate.active) {
    const tokens = promptTokens + maxTokens;
    // The windows run on the monotonic clock; what the decision says is in wall time.
    const rate = view.rate.check(mono, model, 1, tokens);
    const retryAt = rate.ok ? mono : rate.retryAt - mono + now;
    if (!rate.ok) {
      const never = view.rate.canEverFit(model, 1, tokens);
      if (never !== undefined) {
        return fail(aboveWindow(`task '${head.id}'`, 'config', never, head.reservation));
      }
      if (rate.reason === 'server' && retryAt - now > view.maxServerWaitMs) {
        return fail(serverWaitTooLong(model, retryAt - now, view.maxServerWaitMs, retryAt));
      }
      const wait: AdmissionDecision = {
        kind: 'wait',
        waitingFor: rate.reason === 'server' ? 'server' : 'rateLimit',
        until: Number.isFinite(retryAt) ? retryAt : undefined,
        ownModel: !rate.shared,
      };
      if (rate.shared) return wait;
      ownModelWait = wait;
    }
  }
  if (worstCaseMicros > 0) {
    const money = view.budget.check(now, worstCaseMicros);
    if (!money.ok) {
      const never = aboveBudget(worstCaseMicros, view.budget.canEverFit(worstCaseMicros));
      if (never !== undefined) return fail(never);
      if (money.period !== 'total') {
        return { kind: 'wait', waitingFor: 'budget', until: money.retryAt, ownModel: false };
      }
      // Money held by running calls may come back when they end; without any, it never will.
      if (view.budget.held() > 0) return { kind: 'wait', waitingFor: 'budget', ownModel: false };
      return fail(
        new BudgetExceededError(
          `task's worst-case cost $${(worstCaseMicros / 1e6).toFixed(6)} no longer fits the total budget`,
        ),
      );
    }
  }
  if (ownModelWait !== undefined) return ownModelWait;
  return ADMIT_LIMITED;
}

const PARK: AdmissionDecision = { kind: 'park' };
const ADMIT_FREE: AdmissionDecision = { kind: 'admit', limited: false };
const ADMIT_LIMITED: AdmissionDecision = { kind: 'admit', limited: true };

function fail(error: Error): AdmissionDecision {
  return { kind: 'fail', error: serializeError(error) };
}

/**
 * The refusal of a token reservation that a window can never hold (at submit, or once a window
 * was lowered under a waiting task), naming `subject` and its `config.maxTokens`.
 */
export function aboveWindow(
  subject: string,
  configPath: string,
  window: WindowLimit,
  { promptTokens, maxTokens }: { promptTokens: number; maxTokens: number },
): ValidationError {
  return new ValidationError(
    `${subject} reserves ${promptTokens + maxTokens} tokens (prompt ${promptTokens} + max_tokens ${maxTokens}), more than the window of ${window.tokens ?? window.requests} per ${window.windowMs} ms allows (lower its maxTokens or raise the window)`,
    [
      {
        path: `${configPath}.maxTokens`,
        message: 'token reservation above a window',
        received: maxTokens,
      },
    ],
  );
}

/** The refusal of a worst case above the budget `period` (from the ledger's `canEverFit`), if any. */
export function aboveBudget(
  worstCaseMicros: number,
  period: BudgetPeriod | undefined,
): BudgetExceededError | undefined {
  if (period === undefined) return undefined;
  return new BudgetExceededError(
    `task's worst-case cost $${(worstCaseMicros / 1e6).toFixed(6)} exceeds the ${period} budget`,
  );
}
