import { describe, expect, it } from 'vitest';
import { newTaskId } from '../../src/internal/task-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newTaskId', () => {
  it('makes random UUIDs of version 4, none twice, across refills of its pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const id = newTaskId();
      expect(id).toMatch(UUID_V4);
      seen.add(id);
    }
    expect(seen.size).toBe(5_000);
  });

  it('uses every hex digit in the random positions', () => {
    const digits = new Set<string>();
    for (let i = 0; i < 200; i++) for (const c of newTaskId().replaceAll('-', '')) digits.add(c);
    expect([...digits].sort().join('')).toBe('0123456789abcdef');
  });
});
