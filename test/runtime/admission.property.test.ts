import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BudgetPeriod, BudgetVerdict } from '../../src/limits/budget.js';
import type { RateVerdict } from '../../src/limits/rate-limiter.js';
import type { WindowLimit } from '../../src/limits/window-limits.js';
import {
  type AdmissionHead,
  type AdmissionView,
  decideAdmission,
} from '../../src/runtime/admission.js';

const NOW = 1_000_000;

const head: fc.Arbitrary<AdmissionHead> = fc.record({
  id: fc.constantFrom('a', 'b'),
  reservation: fc.record({
    limited: fc.boolean(),
    model: fc.constantFrom('m1', 'm2'),
    promptTokens: fc.integer({ min: 0, max: 1000 }),
    maxTokens: fc.integer({ min: 0, max: 1000 }),
    worstCaseMicros: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 })),
  }),
});

const rateVerdict: fc.Arbitrary<RateVerdict> = fc.oneof(
  fc.constant({ ok: true } as const),
  fc.record({
    ok: fc.constant(false as const),
    retryAt: fc.oneof(
      fc.integer({ min: NOW, max: NOW + 10_000_000 }),
      fc.constant(Number.POSITIVE_INFINITY),
    ),
    reason: fc.constantFrom('window' as const, 'server' as const),
    shared: fc.boolean(),
  }),
);
const window: WindowLimit = { requests: 1, tokens: 10, windowMs: 1000 };
const budgetVerdict: fc.Arbitrary<BudgetVerdict> = fc.oneof(
  fc.constant({ ok: true } as const),
  fc.record({
    ok: fc.constant(false as const),
    period: fc.constantFrom('total' as const, 'daily' as const, 'hourly' as const),
    retryAt: fc.integer({ min: NOW, max: NOW + 86_400_000 }),
  }),
);

interface World {
  stopping: boolean;
  drains: boolean;
  max: number;
  used: number;
  active: boolean;
  rate: RateVerdict;
  rateNever: boolean;
  budget: BudgetVerdict;
  budgetNever: BudgetPeriod | undefined;
  held: number;
  maxServerWaitMs: number;
  /** The model a provider's refusal stops, if any. */
  refused: 'm1' | 'm2' | undefined;
}

const REFUSAL = Object.freeze({
  name: 'ProviderRefusedError',
  code: 'PROVIDER_REFUSED',
  message: 'chat request failed: 429 You exceeded your current quota',
  retryable: false,
  status: 429,
  providerCode: 'insufficient_quota',
});

const world: fc.Arbitrary<World> = fc.record({
  stopping: fc.boolean(),
  drains: fc.boolean(),
  max: fc.integer({ min: 1, max: 4 }),
  used: fc.integer({ min: 0, max: 5 }),
  active: fc.boolean(),
  rate: rateVerdict,
  rateNever: fc.boolean(),
  budget: budgetVerdict,
  budgetNever: fc.constantFrom(undefined, 'total' as const, 'daily' as const),
  held: fc.constantFrom(0, 5),
  maxServerWaitMs: fc.constantFrom(1, 3_600_000),
  refused: fc.constantFrom(undefined, undefined, 'm1' as const, 'm2' as const),
});

/** A view over `w` that records every read, and lets nothing be taken through it. */
function viewOf(w: World): AdmissionView {
  return Object.freeze({
    stopping: w.stopping,
    slots: Object.freeze({ max: w.max, used: w.used }),
    rate: Object.freeze({
      active: w.active,
      check: () => w.rate,
      canEverFit: () => (w.rateNever ? window : undefined),
      refusalFor: (model: string) => (model === w.refused ? REFUSAL : undefined),
    }),
    budget: Object.freeze({
      check: () => w.budget,
      canEverFit: () => w.budgetNever,
      held: () => w.held,
    }),
    maxServerWaitMs: w.maxServerWaitMs,
  });
}

describe('decideAdmission (property)', () => {
  it('admits exactly when every limit grants; otherwise says why, or fails what can never start', () => {
    fc.assert(
      fc.property(head, world, (h, w) => {
        const decision = decideAdmission(h, w.drains, viewOf(w), NOW);
        // Pure: the same inputs give the same decision.
        expect(decideAdmission(h, w.drains, viewOf(w), NOW)).toEqual(decision);
        const { limited, worstCaseMicros } = h.reservation;
        if (w.stopping && !w.drains) {
          expect(decision).toEqual({ kind: 'park' });
          return;
        }
        if (!limited) {
          expect(decision).toEqual({ kind: 'admit', limited: false });
          return;
        }
        if (w.active && h.reservation.model === w.refused) {
          // A refusal no wait cures fails it at once, before anything else is asked.
          expect(decision).toEqual({ kind: 'fail', error: REFUSAL });
          return;
        }
        const slotFree = w.used < w.max;
        const rateOk = !w.active || w.rate.ok;
        const budgetOk = worstCaseMicros === 0 || w.budget.ok;
        if (slotFree && rateOk && budgetOk) {
          expect(decision).toEqual({ kind: 'admit', limited: true });
          return;
        }
        expect(decision.kind).not.toBe('admit');
        if (!slotFree) {
          // A slot is asked for first: nothing else is read into the answer.
          expect(decision).toEqual({ kind: 'wait', waitingFor: 'concurrency', ownModel: false });
          return;
        }
        if (!rateOk && !w.rate.ok) {
          const { retryAt, reason, shared } = w.rate;
          const wait = {
            kind: 'wait',
            waitingFor: reason === 'server' ? 'server' : 'rateLimit',
            until: Number.isFinite(retryAt) ? retryAt : undefined,
          };
          if (w.rateNever) {
            expect(decision).toMatchObject({ kind: 'fail', error: { code: 'VALIDATION' } });
            return;
          }
          if (reason === 'server' && retryAt - NOW > w.maxServerWaitMs) {
            expect(decision).toMatchObject({ kind: 'fail', error: { code: 'SERVER_WAIT' } });
            return;
          }
          if (shared) {
            expect(decision).toEqual({ ...wait, ownModel: false });
            return;
          }
          // Its own model holds it: that is the wait only if nothing shared refuses it too.
          if (budgetOk) {
            expect(decision).toEqual({ ...wait, ownModel: true });
            return;
          }
        }
        if (w.budget.ok) throw new Error('unreachable: the budget refused');
        if (w.budgetNever !== undefined) {
          expect(decision).toMatchObject({ kind: 'fail', error: { code: 'BUDGET_EXCEEDED' } });
        } else if (w.budget.period !== 'total') {
          expect(decision).toEqual({
            kind: 'wait',
            waitingFor: 'budget',
            until: w.budget.retryAt,
            ownModel: false,
          });
        } else if (w.held > 0) {
          expect(decision).toEqual({ kind: 'wait', waitingFor: 'budget', ownModel: false });
        } else {
          expect(decision).toMatchObject({ kind: 'fail', error: { code: 'BUDGET_EXCEEDED' } });
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never lets a head wait on a server longer than maxServerWait', () => {
    fc.assert(
      fc.property(head, world, (h, w) => {
        const decision = decideAdmission(h, w.drains, viewOf(w), NOW);
        if (decision.kind === 'wait' && decision.waitingFor === 'server') {
          expect((decision.until ?? Number.POSITIVE_INFINITY) - NOW).toBeLessThanOrEqual(
            w.maxServerWaitMs,
          );
        }
      }),
      { numRuns: 2000 },
    );
  });
});
