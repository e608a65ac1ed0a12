/**
 * The supervisor actor as the engine runs it: the supervisor machine with the engine's actions
 * (see effects.ts) and its `isIdle` guard provided, its resource actors' logic (replaceable for
 * tests that prove a broken limiter is caught), and its input: the concurrency limit, the rate
 * windows and the budgets the settings give.
 */

import { type Actor, createActor, type InspectionEvent, type Observer } from 'xstate';
import type { BudgetLogic } from '../../machines/budget.logic.js';
import type { ConcurrencyLogic } from '../../machines/concurrency.logic.js';
import type { RateLimitLogic } from '../../machines/rate-limit.logic.js';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import type { EngineSettings } from '../config/engine-options.js';
import { BudgetBook } from '../limits/budget-book.js';
import { RateLimiter } from '../limits/rate-limiter.js';
import type { Clock } from '../time/clock.js';
import { budgetLimitsOf, rateSettingsOf } from './settings.js';

/** The supervisor's action implementations, as `.provide()` takes them. */
export type SupervisorActions = NonNullable<
  Parameters<typeof supervisorMachine.provide>[0]['actions']
>;

/**
 * Replacements for the resource actors' logic, supplied with `.provide({ actors })`, for tests
 * that prove the property tests catch a broken limiter.
 */
export interface ResourceLogicOverrides {
  concurrency?: ConcurrencyLogic;
  rateLimit?: RateLimitLogic;
  budget?: BudgetLogic;
}

export interface SupervisorSetup {
  clock: Clock;
  settings: EngineSettings;
  actions: SupervisorActions;
  /** No attempt runs (a stop may finish). */
  isIdle(): boolean;
  overrides?: ResourceLogicOverrides | undefined;
  /** Attached to the root actor: sees every actor of the system (opt-in). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
}

/** The root actor of a queue (not started). */
export function createSupervisor(setup: SupervisorSetup): Actor<typeof supervisorMachine> {
  const { settings, overrides = {} } = setup;
  const machine = supervisorMachine.provide({
    actors: {
      ...(overrides.concurrency ? { concurrency: overrides.concurrency } : {}),
      ...(overrides.rateLimit ? { rateLimit: overrides.rateLimit } : {}),
      ...(overrides.budget ? { budget: overrides.budget } : {}),
    },
    actions: setup.actions,
    guards: { isIdle: setup.isIdle },
  });
  return createActor(machine, {
    clock: setup.clock,
    systemId: 'supervisor',
    input: {
      maxConcurrent: settings.maxConcurrent,
      limiter: RateLimiter.of(rateSettingsOf(settings)),
      ledger: BudgetBook.of(budgetLimitsOf(settings), settings.budgetTimeZone),
    },
    ...(setup.inspect === undefined ? {} : { inspect: setup.inspect }),
  });
}
