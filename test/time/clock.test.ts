import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/time/clock.js';

const DAY = 86_400_000;

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the whole delay of a timer longer than Node allows (~24.8 days), and clears it', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    systemClock.setTimeout(fired, 30 * DAY);
    vi.advanceTimersByTime(1_000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * DAY - 1_000 - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);

    const cleared = vi.fn();
    const handle = systemClock.setTimeout(cleared, 40 * DAY);
    vi.advanceTimersByTime(26 * DAY);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(20 * DAY);
    expect(cleared).not.toHaveBeenCalled();
  });
});
