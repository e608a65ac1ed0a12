/**
 * A byte-pair encoding (OpenAI's `tiktoken` algorithm) whose tables live in typed arrays, off
 * the JavaScript heap: the tokens' bytes end to end, where each token starts, and an
 * open-addressing hash table from a byte sequence to its rank. `o200k_base` takes about 4 MB
 * this way, and loading it allocates almost nothing on the heap; as JavaScript strings in a
 * `Map` and an array (how `gpt-tokenizer` holds it) it is ~14 MB of live heap (33 MB used right
 * after the load), which a garbage collector that lets the heap grow to a multiple of what is
 * live turns into far more.
 *
 * A text is split with the encoding's pattern; a piece that is a token is one token, any other
 * piece's UTF-8 bytes are merged pair by pair, the pair of lowest rank first (the leftmost of
 * equals), until no adjacent pair is a token: the tokens `tiktoken` gives.
 */

/** Larger than any rank: "this pair is not a token". */
const NONE = 0x7fffffff;

/** Scratch buffers larger than this (in bytes of a piece) are not kept between pieces. */
const KEPT_SCRATCH = 1 << 16;

/**
 * How many merged pieces' counts are remembered (words that are not one token recur: merging
 * them again is most of a count's time). The memory is emptied when full: a few hundred KB at
 * most, where `gpt-tokenizer`'s cache keeps 100,000 pieces.
 */
const COUNT_CACHE_SIZE = 4096;

/** Pieces longer than this (UTF-16 units) are not remembered. */
const CACHED_PIECE_LENGTH = 64;

/**
 * Pieces of more bytes than this are merged with a heap (n log n): scanning for the lowest pair
 * at every merge is n² (a markdown table's `|------|` line is one piece of hundreds of bytes).
 */
const SCANNED_PIECE_BYTES = 96;

/** A heap key's position part: `rank * POSITIONS + position` orders by rank, then leftmost. */
const POSITIONS = 2 ** 32;

const BASE64 = (() => {
  const values = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

const SPACE = 0x20;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const EQUALS = 0x3d;

const utf8 = new TextDecoder('utf-8');

/** Room for one piece: its bytes, the boundaries of its parts and (short pieces) their pair ranks. */
interface Room {
  bytes: Uint8Array;
  starts: Int32Array;
  /** Used by the scanning merge only: room for pieces of up to `SCANNED_PIECE_BYTES`. */
  ranks: Int32Array;
}

/** The room pieces are counted in, grown up to `KEPT_SCRATCH`; a larger piece gets its own. */
class Scratch implements Room {
  bytes = new Uint8Array(256);
  starts = new Int32Array(257);
  readonly ranks = new Int32Array(SCANNED_PIECE_BYTES + 1);

  /** Room for a piece of up to `length` bytes. */
  forPiece(length: number): Room {
    if (length <= this.bytes.length) return this;
    if (length > KEPT_SCRATCH) {
      return {
        bytes: new Uint8Array(length),
        starts: new Int32Array(length + 1),
        ranks: this.ranks,
      };
    }
    this.bytes = new Uint8Array(length);
    this.starts = new Int32Array(length + 1);
    return this;
  }
}

/** Writes the UTF-8 bytes of `text` into `into` (long enough: 3 bytes per UTF-16 unit) and
 * returns how many there are. A lone surrogate becomes U+FFFD, as `TextEncoder` does. */
function utf8Into(text: string, into: Uint8Array): number {
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      into[at++] = c;
    } else if (c < 0x800) {
      into[at++] = 0xc0 | (c >> 6);
      into[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const point = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          into[at++] = 0xf0 | (point >> 18);
          into[at++] = 0x80 | ((point >> 12) & 0x3f);
          into[at++] = 0x80 | ((point >> 6) & 0x3f);
          into[at++] = 0x80 | (point & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd;
      }
      into[at++] = 0xe0 | (c >> 12);
      into[at++] = 0x80 | ((c >> 6) & 0x3f);
      into[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

/** The ranks of a byte-pair encoding, and its split pattern. */
export class BytePairEncoding {
  /** Every token's bytes, in rank order. */
  readonly #bytes: Uint8Array;
  /** Where token `r` starts in `#bytes` (`#starts[r + 1]` is where it ends). */
  readonly #starts: Uint32Array;
  /** Open addressing, linear probing: a rank, or -1 for an empty slot. */
  readonly #slots: Int32Array;
  readonly #mask: number;
  readonly #split: RegExp;
  readonly #scratch = new Scratch();
  /** The counts of recently merged pieces. */
  readonly #counts = new Map<string, number>();

  /**
   * Reads a `.tiktoken` file (one token per line: its bytes in base64, a space, its rank; the
   * ranks 0, 1, 2, … in order, as OpenAI publishes them).
   *
   * @param split the encoding's pattern, with the `g` and `u` flags
   */
  static fromTiktoken(file: Uint8Array, split: RegExp): BytePairEncoding {
    if (!split.global || !split.unicode) {
      throw new TypeError(`the split pattern needs the g and u flags: ${String(split)}`);
    }
    // Each line's base64 gives at most 3 bytes per 4 characters; a token per line at most.
    const bytes = new Uint8Array(Math.ceil((file.length * 3) / 4));
    let lines = 1;
    for (let at = file.indexOf(NEWLINE); at !== -1; at = file.indexOf(NEWLINE, at + 1)) lines++;
    const starts = new Uint32Array(lines + 1);
    let count = 0;
    let at = 0;
    while (at < file.length) {
      const lineEnd = file.indexOf(NEWLINE, at);
      const end = lineEnd === -1 ? file.length : lineEnd;
      let cut = end;
      if (cut > at && file[cut - 1] === CARRIAGE_RETURN) cut--;
      if (cut > at) {
        const space = file.indexOf(SPACE, at);
        if (space === -1 || space >= cut) throw new Error(`malformed line at byte ${at}`);
        let rank = 0;
        for (let i = space + 1; i < cut; i++) {
          const digit = (file[i] as number) - 0x30;
          if (digit < 0 || digit > 9) throw new Error(`malformed rank at byte ${i}`);
          rank = rank * 10 + digit;
        }
        if (rank !== count) throw new Error(`rank ${rank} out of order (expected ${count})`);
        const tokenEnd = decodeBase64(file, at, space, bytes, starts[count] as number);
        count++;
        starts[count] = tokenEnd;
      }
      at = end + 1;
    }
    const written = starts[count] as number;
    return new BytePairEncoding(bytes.slice(0, written), starts.slice(0, count + 1), split);
  }

  private constructor(bytes: Uint8Array, starts: Uint32Array, split: RegExp) {
    this.#bytes = bytes;
    this.#starts = starts;
    this.#split = new RegExp(split.source, split.flags);
    const count = starts.length - 1;
    let size = 1;
    while (size < count * 2) size *= 2;
    this.#slots = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
    for (let rank = 0; rank < count; rank++) {
      const from = starts[rank] as number;
      const to = starts[rank + 1] as number;
      let slot = hash(bytes, from, to) & this.#mask;
      while (this.#slots[slot] !== -1) {
        if (this.#equals(this.#slots[slot] as number, bytes, from, to)) {
          throw new Error(`rank ${rank} repeats the bytes of rank ${this.#slots[slot]}`);
        }
        slot = (slot + 1) & this.#mask;
      }
      this.#slots[slot] = rank;
    }
  }

  /** How many tokens the encoding has. */
  get size(): number {
    return this.#starts.length - 1;
  }

  /** The number of tokens in `text` (special-token markers are plain text). */
  count(text: string): number {
    let total = 0;
    const split = this.#split;
    split.lastIndex = 0;
    for (let match = split.exec(text); match !== null; match = split.exec(text)) {
      const piece = match[0];
      const scratch = this.#scratch.forPiece(piece.length * 3);
      const length = utf8Into(piece, scratch.bytes);
      if (this.#rank(scratch.bytes, 0, length) !== -1) {
        total++;
        continue;
      }
      const known = this.#counts.get(piece);
      if (known !== undefined) {
        total += known;
        continue;
      }
      const parts = this.#merge(scratch, length);
      if (piece.length <= CACHED_PIECE_LENGTH) {
        if (this.#counts.size >= COUNT_CACHE_SIZE) this.#counts.clear();
        // A key of its own: the piece may be a slice that keeps the whole text alive. (A lone
        // surrogate decodes as U+FFFD: the same bytes, so the same count.)
        this.#counts.set(utf8.decode(scratch.bytes.subarray(0, length)), parts);
      }
      total += parts;
    }
    return total;
  }

  /** The tokens of `text` (special-token markers are plain text). */
  encode(text: string): number[] {
    const tokens: number[] = [];
    const split = this.#split;
    split.lastIndex = 0;
    for (let match = split.exec(text); match !== null; match = split.exec(text)) {
      const piece = match[0];
      const scratch = this.#scratch.forPiece(piece.length * 3);
      const { bytes, starts } = scratch;
      const length = utf8Into(piece, bytes);
      const whole = this.#rank(bytes, 0, length);
      if (whole !== -1) {
        tokens.push(whole);
        continue;
      }
      const parts = this.#merge(scratch, length);
      for (let i = 0; i < parts; i++) {
        tokens.push(this.#rank(bytes, starts[i] as number, starts[i + 1] as number));
      }
    }
    return tokens;
  }

  /** The text of `tokens`; bytes that are not whole UTF-8 characters become U+FFFD. */
  decode(tokens: Iterable<number>): string {
    const ranks = [...tokens];
    let length = 0;
    for (const rank of ranks) {
      if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
        throw new RangeError(`token ${rank} is not in the encoding (0 to ${this.size - 1})`);
      }
      length += (this.#starts[rank + 1] as number) - (this.#starts[rank] as number);
    }
    const out = new Uint8Array(length);
    let at = 0;
    for (const rank of ranks) {
      const from = this.#starts[rank] as number;
      const to = this.#starts[rank + 1] as number;
      out.set(this.#bytes.subarray(from, to), at);
      at += to - from;
    }
    return utf8.decode(out);
  }

  /**
   * Merges the piece in `scratch.bytes` (not itself a token) and returns how many parts are
   * left; they start at `scratch.starts[0 … parts]` (the last entry is the piece's end).
   */
  #merge(scratch: Room, length: number): number {
    if (length > SCANNED_PIECE_BYTES) return this.#mergeLong(scratch, length);
    const { bytes, starts, ranks } = scratch;
    // `ranks[i]` is the rank of parts i and i + 1 together (NONE when they are not a token).
    let ends = length + 1;
    for (let i = 0; i < ends; i++) starts[i] = i;
    for (let i = 0; i < ends; i++) {
      ranks[i] = i + 2 < ends ? this.#pairRank(bytes, i, i + 2) : NONE;
    }
    while (ends > 2) {
      let lowest = NONE;
      let at = -1;
      for (let i = 0; i < ends - 2; i++) {
        const rank = ranks[i] as number;
        if (rank < lowest) {
          lowest = rank;
          at = i;
        }
      }
      if (at === -1) break;
      // Parts `at` and `at + 1` become one: their boundary goes.
      starts.copyWithin(at + 1, at + 2, ends);
      ranks.copyWithin(at + 1, at + 2, ends);
      ends--;
      ranks[at] =
        at + 2 < ends
          ? this.#pairRank(bytes, starts[at] as number, starts[at + 2] as number)
          : NONE;
      if (at > 0) {
        ranks[at - 1] = this.#pairRank(bytes, starts[at - 1] as number, starts[at + 1] as number);
      }
    }
    return ends - 1;
  }

  /**
   * `#merge` for a long piece: its parts in a linked list (`next`, `prev`: a part starts at its
   * first byte), each part's pair rank with the part after it in `pair`, and the pairs in a heap
   * by rank, then position. A heap entry whose rank is not its part's rank any more is stale.
   */
  #mergeLong(scratch: Room, length: number): number {
    const { bytes, starts } = scratch;
    const next = new Int32Array(length + 1);
    const prev = new Int32Array(length + 1);
    const pair = new Int32Array(length + 1).fill(NONE);
    const heap = new MinHeap(3 * length);
    for (let i = 0; i <= length; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    for (let i = 0; i + 2 <= length; i++) {
      pair[i] = this.#pairRank(bytes, i, i + 2);
      if (pair[i] !== NONE) heap.push((pair[i] as number) * POSITIONS + i);
    }
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / POSITIONS);
      const at = key - rank * POSITIONS;
      if (pair[at] !== rank) continue;
      // The part after `at` joins it.
      const joined = next[at] as number;
      const after = next[joined] as number;
      pair[joined] = NONE;
      next[at] = after;
      prev[after] = at;
      pair[at] = after < length ? this.#pairRank(bytes, at, next[after] as number) : NONE;
      if (pair[at] !== NONE) heap.push((pair[at] as number) * POSITIONS + at);
      const before = prev[at] as number;
      if (before >= 0) {
        pair[before] = this.#pairRank(bytes, before, after);
        if (pair[before] !== NONE) heap.push((pair[before] as number) * POSITIONS + before);
      }
    }
    let parts = 0;
    for (let i = 0; i < length; i = next[i] as number) starts[parts++] = i;
    starts[parts] = length;
    return parts;
  }

  #pairRank(bytes: Uint8Array, from: number, to: number): number {
    const rank = this.#rank(bytes, from, to);
    return rank === -1 ? NONE : rank;
  }

  /** The rank of `bytes[from, to)`, or -1 when it is not a token. */
  #rank(bytes: Uint8Array, from: number, to: number): number {
    let slot = hash(bytes, from, to) & this.#mask;
    for (;;) {
      const rank = this.#slots[slot] as number;
      if (rank === -1 || this.#equals(rank, bytes, from, to)) return rank;
      slot = (slot + 1) & this.#mask;
    }
  }

  #equals(rank: number, bytes: Uint8Array, from: number, to: number): boolean {
    const start = this.#starts[rank] as number;
    if ((this.#starts[rank + 1] as number) - start !== to - from) return false;
    const own = this.#bytes;
    for (let i = from, j = start; i < to; i++, j++) {
      if (own[j] !== bytes[i]) return false;
    }
    return true;
  }
}

/** A binary min-heap of numbers, with room for `capacity` of them. */
class MinHeap {
  readonly #keys: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.#keys = new Float64Array(capacity);
  }

  push(key: number): void {
    const keys = this.#keys;
    let at = this.size++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((keys[parent] as number) <= key) break;
      keys[at] = keys[parent] as number;
      at = parent;
    }
    keys[at] = key;
  }

  /** Removes and returns the smallest key (the heap is not empty). */
  pop(): number {
    const keys = this.#keys;
    const top = keys[0] as number;
    const last = keys[--this.size] as number;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && (keys[child + 1] as number) < (keys[child] as number)) child++;
      if ((keys[child] as number) >= last) break;
      keys[at] = keys[child] as number;
      at = child;
    }
    keys[at] = last;
    return top;
  }
}

/** FNV-1a over `bytes[from, to)`. */
function hash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  }
  return h >>> 0;
}

/** Decodes the base64 in `text[from, to)` into `into` at `at`; returns the new end. */
function decodeBase64(
  text: Uint8Array,
  from: number,
  to: number,
  into: Uint8Array,
  at: number,
): number {
  let bits = 0;
  let held = 0;
  for (let i = from; i < to; i++) {
    const c = text[i] as number;
    if (c === EQUALS) break;
    const value = BASE64[c] as number;
    if (value === -1) throw new Error(`malformed base64 at byte ${i}`);
    bits = (bits << 6) | value;
    held += 6;
    if (held >= 8) {
      held -= 8;
      into[at++] = (bits >> held) & 0xff;
    }
  }
  return at;
}
