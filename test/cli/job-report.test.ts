import { describe, expect, it } from 'vitest';
import { interruptLine } from '../../src/cli/job-report.js';

describe('interruptLine', () => {
  it('says on the first Ctrl-C that the job drains, and how to cancel the running tasks', () => {
    expect(interruptLine(1, 3)).toBe(
      'aitq: draining: waiting for 3 running tasks; Ctrl-C again to cancel them\n',
    );
    expect(interruptLine(1, 1)).toBe(
      'aitq: draining: waiting for 1 running task; Ctrl-C again to cancel them\n',
    );
    expect(interruptLine(1, 0)).toBe('aitq: draining: no task running; stopping\n');
  });

  it('says on the second which running tasks it cancels', () => {
    expect(interruptLine(2, 2)).toBe('aitq: cancelling 2 running tasks\n');
    expect(interruptLine(2, 1)).toBe('aitq: cancelling 1 running task\n');
    expect(interruptLine(2, 0)).toBe('aitq: cancelling: no task running\n');
  });

  it('is one line each time', () => {
    for (const press of [1, 2] as const) {
      for (const running of [0, 1, 5]) {
        expect(interruptLine(press, running).trimEnd()).not.toContain('\n');
      }
    }
  });
});
