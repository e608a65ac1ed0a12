import { describe, expect, it } from 'vitest';
import { CliInputError } from '../../src/cli/errors.js';
import type { InputItem } from '../../src/cli/input.js';
import { canonicalJson, TaskKeys } from '../../src/cli/keys.js';
import type { CliTask } from '../../src/cli/records.js';
import { ManagerOptionsSchema } from '../../src/config/index.js';

const settings = ManagerOptionsSchema.parse({});

function entry(value: unknown, index: number, task: Partial<CliTask> = {}) {
  const item: InputItem = { value, line: index + 1, index };
  const full: CliTask = {
    taskType: 'TEXT_CLASSIFICATION',
    data: { text: 'x', categories: ['a', 'b'] },
    metadata: {},
    ...task,
  };
  return [item, full] as const;
}

describe('resume keys', () => {
  it('writes JSON with the keys of every object sorted', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson(JSON.parse('{"__proto__": {"x": 1}, "a": 2}'))).toBe(
      '{"__proto__":{"x":1},"a":2}',
    );
  });

  it('hashes what defines the call, and numbers identical records', () => {
    const keys = new TaskKeys('in.jsonl', settings, undefined);
    const a1 = keys.next(...entry({}, 0));
    const b = keys.next(...entry({}, 1, { data: { text: 'y', categories: ['a', 'b'] } }));
    const a2 = keys.next(...entry({}, 2, { metadata: { other: true }, priority: 'HIGH' }));
    expect(a1).toMatch(/^sha256:[0-9a-f]{64}#1$/);
    expect(a2).toBe(a1.replace(/#1$/, '#2'));
    expect(b).toMatch(/#1$/);
    expect(b.slice(0, 71)).not.toBe(a1.slice(0, 71));
    // The same records in another pass: the same keys.
    const again = new TaskKeys('in.jsonl', settings, undefined);
    expect(again.next(...entry({}, 0))).toBe(a1);
    // Another model (the queue's, or the task's own) makes another call.
    const otherModel = new TaskKeys('in.jsonl', { ...settings, model: 'gpt-4o' }, undefined);
    expect(otherModel.next(...entry({}, 0))).not.toBe(a1);
    const ownModel = new TaskKeys('in.jsonl', settings, undefined);
    expect(ownModel.next(...entry({}, 0, { config: { model: 'gpt-4o' } }))).not.toBe(a1);
    // The order of the data's keys does not matter.
    const reordered = new TaskKeys('in.jsonl', settings, undefined);
    expect(reordered.next(...entry({}, 0, { data: { categories: ['a', 'b'], text: 'x' } }))).toBe(
      a1,
    );
  });

  it('takes a field as the key: strings and numbers, unique', () => {
    const keys = new TaskKeys('in.jsonl', settings, ['metadata', 'id']);
    expect(keys.next(...entry({ metadata: { id: 'a' } }, 0))).toBe('field:metadata.id="a"');
    expect(keys.next(...entry({ metadata: { id: 1 } }, 1))).toBe('field:metadata.id=1');
    // "1" and 1 are different values.
    expect(keys.next(...entry({ metadata: { id: '1' } }, 2))).toBe('field:metadata.id="1"');
    const long = 'x'.repeat(600);
    expect(keys.next(...entry({ metadata: { id: long } }, 3))).toMatch(
      /^field:metadata\.id#sha256:[0-9a-f]{64}$/,
    );
    const problem = (value: unknown) => {
      try {
        keys.next(...entry(value, 9));
      } catch (error) {
        if (error instanceof CliInputError) return error.message;
        throw error;
      }
      throw new Error('expected a CliInputError');
    };
    expect(problem({ metadata: {} })).toBe(
      'in.jsonl: line 10 (index 9): --key metadata.id: the record has no field "metadata.id"',
    );
    expect(problem({ metadata: { id: '' } })).toMatch(/expected a non-empty string or a number/);
    expect(problem({ metadata: { id: Number.NaN } })).toMatch(/non-empty string or a number/);
    expect(problem({ metadata: { id: null } })).toMatch(/received null/);
    expect(problem({ metadata: { id: 'a' } })).toBe(
      'in.jsonl: line 10 (index 9): --key metadata.id: the value "a" is also the key of line 1: keys must be unique',
    );
    // Inherited properties are no fields.
    const inherited = new TaskKeys('in.jsonl', settings, ['toString']);
    expect(() => inherited.next(...entry({}, 0))).toThrow(/has no field "toString"/);
  });
});
