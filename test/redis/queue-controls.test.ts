/** What a worker keeps of the shared queue's control channel (src/redis/queue-controls.ts). */

import { describe, expect, it } from 'vitest';
import { QueueControls } from '../../src/redis/queue-controls.js';

describe('QueueControls', () => {
  it('remembers cancels, and follows pause and resume, counting them', () => {
    const controls = new QueueControls();
    expect(controls.read(JSON.stringify({ t: 'cancel', id: 'a' }))).toEqual({
      t: 'cancel',
      id: 'a',
    });
    expect(controls.cancelled('a')).toBe(true);
    expect(controls.cancelled('b')).toBe(false);
    expect(controls.heard).toBe(0);
    expect(controls.read('{"t":"pause"}')).toEqual({ t: 'pause' });
    expect(controls.paused).toBe(true);
    expect(controls.read('{"t":"resume"}')).toEqual({ t: 'resume' });
    expect(controls.paused).toBe(false);
    expect(controls.heard).toBe(2);
  });

  it('ignores what it cannot read, changing nothing', () => {
    const controls = new QueueControls();
    for (const message of ['not json', '{"t":"stop"}', 'null', '42']) {
      expect(controls.read(message)).toBeUndefined();
    }
    expect(controls.heard).toBe(0);
    expect(controls.paused).toBe(false);
  });

  it('keeps at most 10,000 recent cancels, then starts over', () => {
    const controls = new QueueControls();
    for (let i = 0; i < 10_000; i++) controls.read(JSON.stringify({ t: 'cancel', id: `t${i}` }));
    expect(controls.cancelled('t0')).toBe(true);
    controls.read(JSON.stringify({ t: 'cancel', id: 'late' }));
    expect(controls.cancelled('t0')).toBe(false);
    expect(controls.cancelled('late')).toBe(true);
  });
});
