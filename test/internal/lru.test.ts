import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/internal/lru.js';

describe('LruCache', () => {
  it('keeps at most its capacity, dropping the least recently used (property against a model)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 60 }),
        (capacity, keys) => {
          const cache = new LruCache<number, string>(capacity);
          const model: number[] = []; // least recent first
          for (const key of keys) {
            let made = false;
            const value = cache.getOrCreate(key, () => {
              made = true;
              return `v${key}`;
            });
            expect(value).toBe(`v${key}`);
            const at = model.indexOf(key);
            expect(made).toBe(at < 0);
            if (at >= 0) model.splice(at, 1);
            model.push(key);
            if (model.length > capacity) model.shift();
            expect(cache.size).toBe(model.length);
          }
        },
      ),
    );
  });
});
