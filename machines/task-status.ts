/** The seven states a task can be in, as the seed names them (lowercase). */
export const TASK_STATUSES = [
  'queued',
  'paused',
  'running',
  'retrying',
  'completed',
  'failed',
  'cancelled',
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A count of zero for each of the seven statuses. */
export function zeroStatusCounts(): Record<TaskStatus, number> {
  return { queued: 0, paused: 0, running: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 };
}

/** States a task never leaves. */
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
]);

export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Priority levels, highest first when admitted: URGENT > HIGH > MEDIUM > LOW. */
export const Priority = {
  LOW: 'LOW',
  MEDIUM: 'MEDIUM',
  HIGH: 'HIGH',
  URGENT: 'URGENT',
} as const;

export type Priority = (typeof Priority)[keyof typeof Priority];

/** Priorities in admission order. */
export const PRIORITIES_HIGH_FIRST: readonly Priority[] = ['URGENT', 'HIGH', 'MEDIUM', 'LOW'];

/** 3 for URGENT … 0 for LOW. */
export function priorityRank(priority: Priority): number {
  switch (priority) {
    case 'URGENT':
      return 3;
    case 'HIGH':
      return 2;
    case 'MEDIUM':
      return 1;
    case 'LOW':
      return 0;
  }
}
