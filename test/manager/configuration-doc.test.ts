import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManagerOptionsSchema } from '../../src/config/manager-options.js';

describe('docs/configuration.md', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

  it('lists every key of ManagerOptionsSchema in a table row', () => {
    const rows = new Set(
      doc
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .map((line) => /^\| `([A-Za-z]+)`/.exec(line)?.[1]),
    );
    const missing = Object.keys(ManagerOptionsSchema.shape).filter((key) => !rows.has(key));
    expect(missing).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const keys = new Set(Object.keys(ManagerOptionsSchema.shape));
    const documented = doc
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([A-Za-z]+)`/.exec(line)?.[1] as string);
    expect(documented.filter((key) => !keys.has(key))).toEqual([]);
  });
});
