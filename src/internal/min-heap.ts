/**
 * A binary min-heap ordered by a numeric key. Pushing keys in increasing order (the usual case:
 * submission order) costs O(1); any push or pop costs O(log n).
 * @internal
 */
export class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly key: (item: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    const k = this.key(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (this.key(p) <= k) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    this.siftDown(0);
    return top;
  }

  /**
   * Keeps only the items `keep` accepts, in heap order again: O(n). For heaps whose removed
   * items are only marked (and popped when they reach the top), so that those can be let go.
   */
  retain(keep: (item: T) => boolean): void {
    const items = this.items;
    let kept = 0;
    for (const item of items) if (keep(item)) items[kept++] = item;
    items.length = kept;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(from: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[from] as T;
    const k = this.key(item);
    let i = from;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.key(items[right] as T) < this.key(items[left] as T)) child = right;
      const c = items[child] as T;
      if (this.key(c) >= k) break;
      items[i] = c;
      i = child;
    }
    items[i] = item;
  }

  /** Every item, in no particular order. */
  values(): readonly T[] {
    return this.items;
  }
}
