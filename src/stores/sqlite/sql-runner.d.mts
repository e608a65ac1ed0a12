import type Database from 'better-sqlite3';

/** What a statement call returns, by mode (see {@link SqlRunner.call}). */
export type CallMode = 'run' | 'get' | 'all' | 'value' | 'values';

/**
 * Steps of a write transaction that run one statement (see {@link SqlRunner.transaction}): one
 * step for each row of parameters, in order.
 */
export interface StepGroup {
  sql: string;
  rows: ReadonlyArray<readonly unknown[]>;
  /** Run instead, with the same parameters, for a step whose `sql` changed nothing. */
  otherwise?: string | undefined;
  /** Fail the transaction (`missing: true`) when a step changed nothing. */
  requires?: boolean | undefined;
  /** Add the steps' changes to what the transaction returns. */
  count?: boolean | undefined;
}

/**
 * An error a step threw: SQLite's own (with its `code`), or a required change missing; `step` is
 * its index over the groups' rows.
 */
export interface StepError extends Error {
  step?: number;
  missing?: boolean;
  code?: string;
}

export declare function applySettings(
  db: Database.Database,
  synchronous: 'NORMAL' | 'FULL',
  checkpointPages: number,
): void;

export declare class SqlRunner {
  constructor(db: Database.Database);
  readonly prepared: number;
  call(sql: string, params: readonly unknown[], mode: CallMode): unknown;
  transaction(groups: readonly StepGroup[]): number;
  transactions(
    list: ReadonlyArray<readonly StepGroup[]>,
  ): Array<{ value: number } | { error: unknown }>;
  begin(): void;
  part(groups: readonly StepGroup[], first: number): number;
  commit(): void;
  rollback(): void;
  close(): void;
}
