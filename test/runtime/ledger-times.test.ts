import { describe, expect, it } from 'vitest';
import { ledgerTimes } from '../../src/runtime/resources.js';

const plus = (at: number) => at + 1_000;

describe('ledgerTimes: the rate events’ times between the windows’ clock and the ledger', () => {
  it('converts every time a reconcile carries, and only those', () => {
    expect(
      ledgerTimes(
        { type: 'rate.reconcile', taskId: 't', tokens: 5, sentAt: 10, answeredAt: 60 },
        plus,
      ),
    ).toEqual({ type: 'rate.reconcile', taskId: 't', tokens: 5, sentAt: 1_010, answeredAt: 1_060 });
    expect(ledgerTimes({ type: 'rate.reconcile', taskId: 't', tokens: 5 }, plus)).toEqual({
      type: 'rate.reconcile',
      taskId: 't',
      tokens: 5,
    });
  });

  it('keeps the times and tokens of a first answer’s sends, not their tasks or `first`', () => {
    // A replay has none of those calls running: their reservations would never be reconciled.
    const event = ledgerTimes(
      {
        type: 'rate.hints',
        at: 50,
        model: 'm',
        hints: { retryAfterMs: 100 },
        sends: [{ at: 1, tokens: 9, taskId: 't', cold: true }],
        first: true,
      },
      plus,
    );
    expect(event).toEqual({
      type: 'rate.hints',
      at: 1_050,
      model: 'm',
      hints: { retryAfterMs: 100 },
      sends: [{ at: 1_001, tokens: 9 }],
    });
  });
});
