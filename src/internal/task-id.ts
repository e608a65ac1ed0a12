/**
 * Task ids: UUIDs of version 7 (RFC 9562), made as flat strings.
 *
 * **Time-ordered.** A version 7 UUID starts with its 48-bit Unix time in milliseconds, so ids made
 * later sort after ids made earlier, as text as well as bytes. A store's index on the id then
 * grows at one end, and the tasks a queue works on together (submitted together, admitted
 * together) sit on the same few pages of it instead of one page each: with the SQLite store a
 * task's insert costs about a third less, and the commits of its updates and its delete about a
 * sixth (see docs/benchmarks.md). The time is the caller's (the engine's injected clock).
 *
 * **Increasing within a process.** Ids of one millisecond, and ids made while the clock stands or
 * steps back, count up in the 12 bits after the version (RFC 9562 §6.2, method 1: a counter that
 * starts at a random value below 2^11 each new millisecond); when the counter would run over,
 * the id's time moves one millisecond on. The order is the process's, not one clock's: an id
 * made after one of a later time (another engine's clock, a clock set back) takes that later
 * time. Only at the greatest time the format holds (the year 10889) does the order end. The
 * other 62 bits are random: ids of several processes do not collide.
 *
 * **Flat strings.** `crypto.randomUUID()` returns a string V8 keeps as a tree of concatenated
 * pieces: ~490 bytes of heap for every id a waiting task holds. These are written as ASCII into
 * a buffer and decoded once: 64 bytes each.
 */

import { randomFillSync } from 'node:crypto';

/** Random bytes taken 8 per id (the 62 random bits after the variant) and 2 per new millisecond. */
const pool = Buffer.allocUnsafe(4096);
let used = pool.length;

function randomByte(): number {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  return pool[used++] as number;
}

/** Two ASCII hex digits for every byte value. */
const HEX = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const digits = b.toString(16).padStart(2, '0');
  HEX[2 * b] = digits.charCodeAt(0);
  HEX[2 * b + 1] = digits.charCodeAt(1);
}
/** Where each of the 16 bytes goes in `xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx`. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const text = Buffer.alloc(36, 0x2d); // '-' where no digit goes
const bytes = new Uint8Array(16);

/** The largest time a version 7 UUID holds: 2^48 − 1 ms. */
const MAX_MS = 2 ** 48 - 1;
const TWO_32 = 2 ** 32;

/** The time of the last id made, ms, and its 12-bit counter. */
let lastMs = -1;
let counter = 0;

/**
 * A new UUID v7 whose time is `at` (ms since the Unix epoch, or since a simulated clock's origin;
 * clamped to the 48 bits the format holds), as a flat string; greater than every id made before
 * it in this process.
 */
export function newTaskId(at: number): string {
  const ms = Number.isFinite(at) ? Math.min(MAX_MS, Math.max(0, Math.floor(at))) : 0;
  if (ms > lastMs) {
    lastMs = ms;
    counter = ((randomByte() & 0x07) << 8) | randomByte();
  } else if (counter < 0xfff) {
    counter += 1;
  } else {
    lastMs = Math.min(MAX_MS, lastMs + 1);
    counter = ((randomByte() & 0x07) << 8) | randomByte();
  }
  const high = Math.floor(lastMs / TWO_32);
  const low = lastMs % TWO_32;
  bytes[0] = high >>> 8;
  bytes[1] = high & 0xff;
  bytes[2] = low >>> 24;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = 0x70 | (counter >>> 8); // version 7
  bytes[7] = counter & 0xff;
  bytes[8] = (randomByte() & 0x3f) | 0x80; // variant 10xx
  for (let i = 9; i < 16; i++) bytes[i] = randomByte();
  for (let i = 0; i < 16; i++) {
    const b = bytes[i] as number;
    const at = AT[i] as number;
    text[at] = HEX[2 * b] as number;
    text[at + 1] = HEX[2 * b + 1] as number;
  }
  return text.toString('latin1');
}
