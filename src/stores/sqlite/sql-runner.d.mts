import type Database from 'better-sqlite3';

/** What a statement call returns, by mode (see {@link SqlRunner.call}). */
export type CallMode = 'run' | 'get' | 'all' | 'value' | 'values';

/** One statement of a write transaction (see {@link SqlRunner.transaction}). */
export interface Step {
  sql: string;
  params: readonly unknown[];
  /** Run instead, with the same parameters, when `sql` changed nothing. */
  otherwise?: string | undefined;
  /** Fail the transaction (`missing: true`) when nothing changed. */
  requires?: boolean | undefined;
  /** Add the changes to what the transaction returns. */
  count?: boolean | undefined;
}

/** An error a step threw: SQLite's own (with its `code`), or a required change missing. */
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
  transaction(steps: readonly Step[]): number;
  transactions(list: ReadonlyArray<readonly Step[]>): Array<{ value: number } | { error: unknown }>;
  close(): void;
}
