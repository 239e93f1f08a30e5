/** Something the cache can weigh. */
export interface Weighed {
  bytes: number;
}

/**
 * Least-recently-used entries up to a byte budget. Keys carry the snapshot versions the value was
 * computed on, so an entry of an older snapshot is never found again and simply ages out; nothing
 * has to be invalidated by hand for correctness. `evict` frees what a predicate names early (a
 * dropped segment), which only returns memory sooner.
 */
export class LruBytes<V extends Weighed> {
  private readonly entries = new Map<string, V>();
  private total = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly budgetBytes: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Whether `key` is held, without counting a use. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, value: V): void {
    const old = this.entries.get(key);
    if (old) {
      this.total -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.total += value.bytes;
    // The newest entry always stays, even alone over budget: the caller is about to use it.
    for (const [k, v] of this.entries) {
      if (this.total <= this.budgetBytes || k === key) break;
      this.entries.delete(k);
      this.total -= v.bytes;
    }
  }

  evict(matches: (key: string) => boolean): void {
    for (const [k, v] of this.entries) {
      if (!matches(k)) continue;
      this.entries.delete(k);
      this.total -= v.bytes;
    }
  }

  /** Visits every entry without counting it as used. */
  forEach(visit: (key: string, value: V) => void): void {
    for (const [k, v] of this.entries) visit(k, v);
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }
}
