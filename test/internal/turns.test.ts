import { describe, expect, it } from 'vitest';
import { Turns } from '../../src/internal/turns.js';

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Turns', () => {
  it('gives each unit asked in one turn a turn of its own, in order', async () => {
    const turns = new Turns();
    const order: string[] = [];
    await immediate();
    expect(turns.take()).toBeUndefined();
    const second = turns.take();
    const third = turns.take();
    expect(second).toBeInstanceOf(Promise);
    void second?.then(() => order.push('second'));
    void third?.then(() => order.push('third'));
    // Queued after the first unit's turn was taken: it runs between the second and the third.
    setImmediate(() => order.push('a turn'));
    await third;
    expect(order).toEqual(['second', 'a turn', 'third']);
    // Once the waiting units are through, a new turn's first unit goes on at once.
    await immediate();
    await immediate();
    expect(turns.take()).toBeUndefined();
  });

  it('lets the sockets be read between two units', async () => {
    const turns = new Turns();
    const order: string[] = [];
    // A unit that asks for a later turn never runs in this one, even when no other unit ran.
    const first = turns.later().then(() => order.push('first'));
    const second = turns.later().then(() => order.push('second'));
    order.push('now');
    // What the event loop runs between the two: another check-phase callback queued after the
    // first unit's turn was booked.
    setImmediate(() => order.push('between'));
    await Promise.all([first, second]);
    expect(order).toEqual(['now', 'first', 'between', 'second']);
    // A unit asked after the line emptied goes on at once with `take`.
    await immediate();
    await immediate();
    expect(turns.take()).toBeUndefined();
  });

  it('keeps the order of take and later together', async () => {
    const turns = new Turns();
    const order: number[] = [];
    await immediate();
    expect(turns.take()).toBeUndefined();
    const units = [turns.later(), turns.take(), turns.later()].map((p, i) =>
      (p as Promise<void>).then(() => order.push(i)),
    );
    await Promise.all(units);
    expect(order).toEqual([0, 1, 2]);
  });
});
