import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, BucketedMap, CHUNK, ChunkedLog } from '../../src/limits/persistent.js';

/** A plain model of a `ChunkedLog`: the live entries, the first numbered `start`. */
interface LogModel {
  readonly start: number;
  readonly items: readonly string[];
}

type LogOp =
  | { kind: 'push'; times: number }
  | { kind: 'set'; pick: number }
  | { kind: 'drop'; pick: number; span: number };

/** Pushes long enough to cross several chunk boundaries within a few operations. */
const timesArb = fc.oneof(
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 3 * CHUNK }),
  fc.constantFrom(CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK),
);

const logOpArb: fc.Arbitrary<LogOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('push' as const), times: timesArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('drop' as const),
      pick: fc.nat(),
      // Where the drop lands: before the start, inside, at a chunk edge, or past the end.
      span: fc.constantFrom(0, 1, 2, 3),
    }),
  },
);

/** Which version an operation applies to: mostly the newest, sometimes an older one. */
const logStepArb = fc.record({ from: fc.option(fc.nat(), { freq: 3 }), op: logOpArb });

function expectLog(log: ChunkedLog<string>, model: LogModel): void {
  const end = model.start + model.items.length;
  expect(log.start).toBe(model.start);
  expect(log.end).toBe(end);
  expect(log.size).toBe(model.items.length);
  for (let i = 0; i < model.items.length; i++) {
    if (log.get(model.start + i) !== model.items[i]) {
      expect.fail(`entry ${model.start + i}: ${log.get(model.start + i)} ≠ ${model.items[i]}`);
    }
  }
  expect(() => log.get(model.start - 1)).toThrow(RangeError);
  expect(() => log.get(end)).toThrow(RangeError);
  expect(() => log.set(end, 'x')).toThrow(RangeError);
}

describe('ChunkedLog properties (against an array)', () => {
  it('push, set and dropBefore match an array; every older version is unchanged', () => {
    fc.assert(
      fc.property(fc.array(logStepArb, { maxLength: 40 }), (steps) => {
        const versions: { log: ChunkedLog<string>; model: LogModel }[] = [
          { log: ChunkedLog.empty<string>(), model: { start: 0, items: [] } },
        ];
        let counter = 0;
        for (const { from, op } of steps) {
          const base = versions[from === null ? versions.length - 1 : from % versions.length];
          if (base === undefined) throw new Error('no version');
          let { log } = base;
          const { start, items } = base.model;
          let next: LogModel;
          switch (op.kind) {
            case 'push': {
              const pushed: string[] = [];
              for (let i = 0; i < op.times; i++) {
                const value = `v${counter++}`;
                expect(log.end).toBe(start + items.length + i);
                log = log.push(value);
                pushed.push(value);
              }
              next = { start, items: [...items, ...pushed] };
              break;
            }
            case 'set': {
              if (items.length === 0) {
                expect(() => log.set(start, 'x')).toThrow(RangeError);
                continue;
              }
              const index = op.pick % items.length;
              const value = `s${counter++}`;
              log = log.set(start + index, value);
              next = { start, items: items.map((v, i) => (i === index ? value : v)) };
              break;
            }
            case 'drop': {
              const end = start + items.length;
              const target = [
                start - (op.pick % 5),
                start + (op.pick % (items.length + 1)),
                // Around one of the next chunk edges after the start (edges counted from 0).
                (Math.floor(start / CHUNK) + 1 + (op.pick % 4)) * CHUNK + ((op.pick >> 2) % 3) - 1,
                end + (op.pick % 5),
              ][op.span] as number;
              log = log.dropBefore(target);
              const kept = Math.min(Math.max(target, start), end);
              next = { start: kept, items: items.slice(kept - start) };
              if (kept === start) expect(log).toBe(base.log);
              break;
            }
          }
          expectLog(log, next);
          versions.push({ log, model: next });
        }
        // Every version still holds what it held when it was made.
        for (const { log, model } of versions) expectLog(log, model);
      }),
      { numRuns: 200 },
    );
  });

  it('numbers entries from 0 for ever: a log emptied by dropBefore goes on from its end', () => {
    let log = ChunkedLog.empty<number>();
    expect([log.start, log.end, log.size]).toEqual([0, 0, 0]);
    for (let i = 0; i < 3 * CHUNK + 7; i++) log = log.push(i);
    const emptied = log.dropBefore(log.end);
    expect([emptied.start, emptied.end, emptied.size]).toEqual([3 * CHUNK + 7, 3 * CHUNK + 7, 0]);
    let refilled = emptied;
    for (let i = 0; i < 2 * CHUNK; i++) refilled = refilled.push(10_000 + i);
    expect(refilled.get(3 * CHUNK + 7)).toBe(10_000);
    expect(refilled.get(5 * CHUNK + 6)).toBe(10_000 + 2 * CHUNK - 1);
    expect(log.get(3 * CHUNK + 6)).toBe(3 * CHUNK + 6);
    expect(log.get(0)).toBe(0);
    expect(ChunkedLog.empty<number>().size).toBe(0);
  });
});

type MapOp =
  | { kind: 'set'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'bulk'; keys: string[]; value: number };

/** Few enough keys that deletes and overwrites hit, many enough to fill every bucket. */
const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 4 * BUCKETS }).map((n) => `task-${n}`),
  fc.constantFrom('', 'a', 'A', 'é', '\u{1F600}', '__proto__', 'constructor', 'toString'),
  fc.string({ maxLength: 6 }),
);

const mapOpArb: fc.Arbitrary<MapOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('set' as const), key: keyArb, value: fc.integer() }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bulk' as const),
      keys: fc.array(keyArb, { minLength: 1, maxLength: 3 * BUCKETS }),
      value: fc.integer(),
    }),
  },
);

const mapStepArb = fc.record({ from: fc.option(fc.nat(), { freq: 3 }), op: mapOpArb });

function expectMap(
  map: BucketedMap<number>,
  model: ReadonlyMap<string, number>,
  keys: Set<string>,
) {
  expect(map.size).toBe(model.size);
  for (const key of keys) {
    if (map.get(key) !== model.get(key) || map.has(key) !== model.has(key)) {
      expect.fail(`key ${JSON.stringify(key)}: ${map.get(key)} ≠ ${model.get(key)}`);
    }
  }
}

describe('BucketedMap properties (against a Map)', () => {
  it('set, delete, get, has and size match a Map; every older version is unchanged', () => {
    fc.assert(
      fc.property(fc.array(mapStepArb, { maxLength: 60 }), (steps) => {
        const versions: { map: BucketedMap<number>; model: ReadonlyMap<string, number> }[] = [
          { map: BucketedMap.empty<number>(), model: new Map() },
        ];
        /** Every key ever used, plus some never used. */
        const keys = new Set(['never', 'task-999999', '']);
        for (const { from, op } of steps) {
          const base = versions[from === null ? versions.length - 1 : from % versions.length];
          if (base === undefined) throw new Error('no version');
          let { map } = base;
          const model = new Map(base.model);
          switch (op.kind) {
            case 'set':
              keys.add(op.key);
              map = map.set(op.key, op.value);
              model.set(op.key, op.value);
              break;
            case 'delete': {
              keys.add(op.key);
              const had = map.has(op.key);
              map = map.delete(op.key);
              model.delete(op.key);
              if (!had) expect(map).toBe(base.map);
              break;
            }
            case 'bulk':
              op.keys.forEach((key, i) => {
                keys.add(key);
                map = map.set(key, op.value + i);
                model.set(key, op.value + i);
              });
              break;
          }
          expectMap(map, model, keys);
          versions.push({ map, model });
        }
        // Every version still holds what it held when it was made.
        for (const { map, model } of versions) expectMap(map, model, keys);
      }),
      { numRuns: 300 },
    );
  });

  it('empties back to size 0 and has nothing once every key is deleted', () => {
    let map = BucketedMap.empty<number>();
    const keys = Array.from({ length: 5 * BUCKETS }, (_, i) => `k${i}`);
    for (const [i, key] of keys.entries()) map = map.set(key, i);
    const full = map;
    expect(full.size).toBe(keys.length);
    for (const key of keys) map = map.delete(key);
    expect(map.size).toBe(0);
    expect(keys.some((key) => map.has(key))).toBe(false);
    expect(full.get(`k${5 * BUCKETS - 1}`)).toBe(5 * BUCKETS - 1);
    expect(BucketedMap.empty<number>().size).toBe(0);
  });
});
