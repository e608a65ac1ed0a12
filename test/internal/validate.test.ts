/**
 * `parseOrThrow`'s message names the fields that failed, and stays short for a big batch: the
 * first ten, then how many more; `issues` keeps every one.
 */

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../src/errors.js';
import { parseOrThrow } from '../../src/internal/validate.js';

function errorOf(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

const tasks = z.array(z.object({ taskType: z.string() }).strict());

describe('parseOrThrow', () => {
  it('names each failing field with what it received', () => {
    const error = errorOf(() => parseOrThrow(tasks, [{ taskType: 1 }], 'tasks'));
    expect(error.message).toBe(
      'invalid tasks: tasks.0.taskType: Invalid input: expected string, received number (received 1)',
    );
    expect(error.issues).toHaveLength(1);
  });

  it('names the first ten issues of a big batch and counts the rest', () => {
    const batch = Array.from({ length: 1000 }, () => ({ type: 'ECHO' }));
    const error = errorOf(() => parseOrThrow(tasks, batch, 'tasks'));
    expect(error.issues).toHaveLength(2000);
    expect(error.message).toContain('tasks.0.taskType:');
    expect(error.message).toMatch(/; and 1,990 more \(all in error\.issues\)$/);
    expect(error.message.length).toBeLessThan(2000);
  });
});
