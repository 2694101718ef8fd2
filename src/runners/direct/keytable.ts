/**
 * The per-key tables of groupings and combines: structural keys to values, in insertion order.
 *
 * A lifted combine's hot path is one lookup per element (a word count's per word), and V8's Map is
 * slow at it for strings it has not seen before: each lookup hashes the string and then follows
 * its bucket's chain through the stored keys themselves, a cache miss per entry on a table larger
 * than the cache. Short strings (words, ids: the usual keys) live instead in an open-addressing
 * table of our own whose slots hold each key's hash, so a probe compares numbers in one typed
 * array and touches a stored key only when its hash matches: about twice as fast per lookup on
 * 50,000 keys. Other keys (numbers, long or encoded strings, bigints) go to V8 Maps.
 *
 * V8 Maps hold at most 2^24 entries ("Map maximum size exceeded"), so those are chains of Maps
 * (BigMap): new keys go to the last Map, and a full one starts the next.
 */

export const MAP_SHARD_LIMIT = 1 << 22;

/** Strings up to this length are hashed here; longer ones are left to V8 (which caches its hash in the string). */
const SHORT_STRING = 40;
const INITIAL_SLOTS = 16;

/** FNV-1a over the UTF-16 code units, then a finalizer so that the low bits (the slot) mix well. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class KeyTable<K, V> {
  /**
   * The slots, two numbers each (one cache line holds both): the key's hash, and the index of its
   * entry plus one (0: empty). Linear probing, at most half full.
   */
  private slots = new Int32Array(2 * INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  /** The string entries, in insertion order. */
  private keys: string[] = [];
  private vals: V[] = [];
  private readonly others: BigMap<K, V>;
  /** Where the last missed string key would go (add takes it without probing again). */
  private missKey: string | undefined = undefined;
  private missSlot = 0;
  private missHash = 0;

  /** `limit`: most keys the string table holds (more go to the Maps) and each Map holds. */
  constructor(private readonly limit = MAP_SHARD_LIMIT) {
    this.others = new BigMap(limit);
  }

  get(key: K): V | undefined {
    if (typeof key !== "string" || key.length > SHORT_STRING) return this.others.get(key);
    const h = hashString(key);
    const { slots, mask } = this;
    let i = h & mask;
    for (;;) {
      const e = slots[2 * i + 1]!;
      if (e === 0) break;
      if (slots[2 * i] === h && this.keys[e - 1] === key) return this.vals[e - 1];
      i = (i + 1) & mask;
    }
    this.missKey = key;
    this.missSlot = i;
    this.missHash = h;
    return this.others.size === 0 ? undefined : this.others.get(key);
  }

  /** Adds a key that `get` did not find; values must not be undefined. */
  add(key: K, value: V): void {
    if (typeof key !== "string" || key.length > SHORT_STRING || this.keys.length >= this.limit) {
      this.others.add(key, value);
      return;
    }
    let i: number;
    let h: number;
    if (this.missKey === key) {
      i = this.missSlot;
      h = this.missHash;
    } else {
      h = hashString(key);
      i = this.free(this.slots, h);
    }
    this.missKey = undefined;
    this.keys.push(key);
    this.vals.push(value);
    this.slots[2 * i] = h;
    this.slots[2 * i + 1] = this.keys.length;
    if (this.keys.length * 2 > this.mask + 1) this.grow();
  }

  /** The first empty slot for hash `h`. */
  private free(slots: Int32Array, h: number): number {
    let i = h & this.mask;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    return i;
  }

  private grow(): void {
    const old = this.slots;
    this.mask = 2 * (this.mask + 1) - 1;
    this.slots = new Int32Array(2 * (this.mask + 1));
    for (let j = 0; j < old.length; j += 2) {
      const e = old[j + 1]!;
      if (e === 0) continue;
      const i = this.free(this.slots, old[j]!);
      this.slots[2 * i] = old[j]!;
      this.slots[2 * i + 1] = e;
    }
  }

  get size(): number {
    return this.keys.length + this.others.size;
  }

  /** How many Maps the keys besides short strings use (for tests). */
  get shards(): number {
    return this.others.shards;
  }

  *values(): Generator<V> {
    yield* this.vals;
    yield* this.others.values();
  }

  clear(): void {
    this.slots = new Int32Array(2 * INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.keys = [];
    this.vals = [];
    this.missKey = undefined;
    this.others.clear();
  }
}

/** A chain of V8 Maps, past the 2^24 entries one Map holds. */
export class BigMap<K, V> {
  private readonly maps: Map<K, V>[] = [new Map()];
  private last: Map<K, V>;
  constructor(private readonly limit = MAP_SHARD_LIMIT) {
    this.last = this.maps[0]!;
  }
  get(key: K): V | undefined {
    const ms = this.maps;
    const v = ms[0]!.get(key);
    if (v !== undefined || ms.length === 1) return v;
    for (let i = 1; i < ms.length; i++) {
      const w = ms[i]!.get(key);
      if (w !== undefined) return w;
    }
    return undefined;
  }
  /** Adds a key that `get` did not find; values must not be undefined. */
  add(key: K, value: V): void {
    if (this.last.size >= this.limit) {
      this.last = new Map();
      this.maps.push(this.last);
    }
    this.last.set(key, value);
  }
  get size(): number {
    let n = 0;
    for (const m of this.maps) n += m.size;
    return n;
  }
  /** How many Maps the table uses (for tests). */
  get shards(): number {
    return this.maps.length;
  }
  *values(): Generator<V> {
    for (const m of this.maps) yield* m.values();
  }
  clear(): void {
    this.maps.length = 1;
    this.maps[0]!.clear();
    this.last = this.maps[0]!;
  }
}
