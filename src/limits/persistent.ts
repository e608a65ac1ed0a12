/**
 * Two persistent (immutable) structures with structural sharing, for the state of the resource
 * actors: every change returns a new value and leaves the old one as it was, so a snapshot an
 * observer holds never changes under it, and a change copies a bounded part, not the whole.
 *
 * - {@link ChunkedLog}: a log in sequence order (append at the end, drop from the front, replace
 *   one entry), held as frozen chunks of {@link CHUNK} entries. An append copies the open last
 *   chunk and the list of chunks; full chunks are shared by every version that holds them. An
 *   hourly window of 10^5 entries is ~390 chunks: a change copies at most ~650 references.
 * - {@link BucketedMap}: a string-keyed map split into {@link BUCKETS} frozen buckets by a hash
 *   of the key. A change copies the bucket list and the one bucket the key falls in.
 */

/** Entries per chunk of a {@link ChunkedLog}. */
export const CHUNK = 256;

/** Buckets of a {@link BucketedMap}. */
export const BUCKETS = 64;

/**
 * An immutable log whose entries are numbered by sequence (`seq`): the first entry ever appended
 * is 0. Entries before {@link start} have been dropped.
 */
export class ChunkedLog<T> {
  private static readonly EMPTY = new ChunkedLog<never>(Object.freeze([]), 0, 0, 0);

  private constructor(
    /** Frozen chunks; `chunks[0][0]` has sequence number `base`. */
    private readonly chunks: readonly (readonly T[])[],
    private readonly base: number,
    /** Sequence number of the first live entry. */
    readonly start: number,
    /** Sequence number the next appended entry gets. */
    readonly end: number,
  ) {}

  static empty<T>(): ChunkedLog<T> {
    return ChunkedLog.EMPTY as ChunkedLog<T>;
  }

  /** Live entries. */
  get size(): number {
    return this.end - this.start;
  }

  /** The entry numbered `seq` (`start ≤ seq < end`). */
  get(seq: number): T {
    if (seq < this.start || seq >= this.end) {
      throw new RangeError(`no entry ${seq} in [${this.start}, ${this.end})`);
    }
    const offset = seq - this.base;
    return (this.chunks[Math.floor(offset / CHUNK)] as readonly T[])[offset % CHUNK] as T;
  }

  /** A log with `value` appended (numbered `end`). */
  push(value: T): ChunkedLog<T> {
    const { chunks } = this;
    const last = chunks[chunks.length - 1];
    // Spread, then replace: `slice` of a frozen array takes a slow path in V8 (~7× slower here).
    const next = [...chunks];
    if (last === undefined || last.length === CHUNK) next.push(Object.freeze([value]));
    else next[next.length - 1] = Object.freeze([...last, value]);
    return new ChunkedLog(Object.freeze(next), this.base, this.start, this.end + 1);
  }

  /** A log with the entry numbered `seq` replaced by `value`. */
  set(seq: number, value: T): ChunkedLog<T> {
    this.get(seq);
    const offset = seq - this.base;
    const index = Math.floor(offset / CHUNK);
    const chunk = [...(this.chunks[index] as readonly T[])];
    chunk[offset % CHUNK] = value;
    const next = [...this.chunks];
    next[index] = Object.freeze(chunk);
    return new ChunkedLog(Object.freeze(next), this.base, this.start, this.end);
  }

  /** A log whose first live entry is `seq` (entries before it are dropped; whole chunks freed). */
  dropBefore(seq: number): ChunkedLog<T> {
    const start = Math.min(Math.max(seq, this.start), this.end);
    if (start === this.start) return this;
    if (start === this.end) return new ChunkedLog(Object.freeze([]), start, start, start);
    const deadChunks = Math.floor((start - this.base) / CHUNK);
    if (deadChunks === 0) return new ChunkedLog(this.chunks, this.base, start, this.end);
    return new ChunkedLog(
      Object.freeze(this.chunks.slice(deadChunks)),
      this.base + deadChunks * CHUNK,
      start,
      this.end,
    );
  }
}

/** FNV-1a over the UTF-16 code units of a key, reduced to a bucket index. */
function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % BUCKETS;
}

type Bucket<V> = ReadonlyMap<string, V>;

const NO_ENTRIES: Bucket<never> = new Map<string, never>();

/** An immutable string-keyed map; see the module's comment. */
export class BucketedMap<V> {
  private static readonly EMPTY = new BucketedMap<never>(
    Object.freeze(new Array<Bucket<never>>(BUCKETS).fill(NO_ENTRIES)),
    0,
  );

  private constructor(
    private readonly buckets: readonly Bucket<V>[],
    readonly size: number,
  ) {}

  static empty<V>(): BucketedMap<V> {
    return BucketedMap.EMPTY as BucketedMap<V>;
  }

  get(key: string): V | undefined {
    return (this.buckets[bucketOf(key)] as Bucket<V>).get(key);
  }

  has(key: string): boolean {
    return (this.buckets[bucketOf(key)] as Bucket<V>).has(key);
  }

  /** A map with `key` set to `value`. */
  set(key: string, value: V): BucketedMap<V> {
    const index = bucketOf(key);
    const bucket = this.buckets[index] as Bucket<V>;
    const next = new Map(bucket);
    next.set(key, value);
    return this.withBucket(index, next, bucket.has(key) ? this.size : this.size + 1);
  }

  /** A map without `key` (the same map when it has no such key). */
  delete(key: string): BucketedMap<V> {
    const index = bucketOf(key);
    const bucket = this.buckets[index] as Bucket<V>;
    if (!bucket.has(key)) return this;
    const next = new Map(bucket);
    next.delete(key);
    return this.withBucket(index, next.size === 0 ? NO_ENTRIES : next, this.size - 1);
  }

  private withBucket(index: number, bucket: Bucket<V>, size: number): BucketedMap<V> {
    const buckets = [...this.buckets];
    buckets[index] = bucket;
    return new BucketedMap(Object.freeze(buckets), size);
  }
}
