/**
 * A bounded cache from a series' encoded label bytes to the constant middle of its CSV rows
 * (`,SeriesId,lifted...,"{Labels}",`) and its table, so a series seen before costs one hash and
 * one byte comparison instead of sorting, hashing and escaping its labels again. Senders resend
 * the same series every scrape, so in steady state nearly every series hits.
 *
 * Layout: open addressing (linear probing) over typed arrays; keys and middles live in one
 * append-only arena. Memory is bounded by `arenaBytes` plus 32 bytes per slot.
 *
 * When the arena or the table is full: if most lookups since the last clear hit, the working set
 * fits and the space is mostly taken by series that went away, so the whole cache is dropped at
 * once (a generation bump, O(1)) and refills. If most missed, the working set is larger than the
 * cache: it keeps what it holds and stops inserting (a cyclic pass over more series than fit
 * would otherwise evict every entry before its next use), until `SATURATED_LOOKUPS_PER_ENTRY`
 * lookups per entry have passed, then starts over so it follows changes in the series set.
 *
 * Invariant: an entry is only inserted for a series that was fully validated and prepared, and
 * what it stores depends only on its key bytes and the (fixed) transform config.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Expected arena bytes per entry (key + middle); sizes the slot table. */
const BYTES_PER_ENTRY = 192;
const SATURATED_LOOKUPS_PER_ENTRY = 16;
const INITIAL_SLOTS = 1 << 14;
const SLOT = 8;
const GEN = 0;
const HASH = 1;
const KEY_AT = 2;
const KEY_LEN = 3;
const MID_LEN = 4;
const TABLE = 5;

export class SeriesCache {
  readonly #arena: Buffer;
  /** The arena as a plain Uint8Array: its `subarray` is cheaper than Buffer's. */
  readonly #arenaBytes: Uint8Array;
  #arenaUsed = 0;
  #mask: number;
  /** The slot table grows (by rehashing) up to this many slots, sized for a full arena. */
  readonly #maxSlots: number;
  /**
   * Slot records, `SLOT` int32s each (generation, hash, key offset, key length, middle length,
   * table id), packed so a probe touches one cache line.
   */
  #slots: Int32Array;
  #generation = 1;
  #entries = 0;
  /** Slot probed by the last `find` miss, for `insert`. */
  #missSlot = -1;
  #missHash = 0;
  hits = 0;
  misses = 0;
  #lookupsAtClear = 0;
  #hitsAtClear = 0;
  /** Lookup count at which a saturated (full, mostly missing) cache starts over; 0 when not saturated. */
  #saturatedUntil = 0;

  constructor(arenaBytes: number) {
    this.#arena = Buffer.allocUnsafe(Math.max(4096, arenaBytes));
    this.#arenaBytes = new Uint8Array(this.#arena.buffer, this.#arena.byteOffset, this.#arena.length);
    let slots = 1024;
    while (slots < (2 * arenaBytes) / BYTES_PER_ENTRY) slots *= 2;
    this.#maxSlots = slots;
    // Start small: a table sized to the entries stays in the CPU caches (measured: a 32 MiB
    // table for 10 k series made the lookup the biggest cost of a sample).
    const initial = Math.min(slots, INITIAL_SLOTS);
    this.#mask = initial - 1;
    this.#slots = new Int32Array(initial * SLOT);
  }

  /**
   * The entry for these key bytes, or -1 (then `insert` may follow for the same key). The hash
   * reads 32-bit words and the comparison is a native memcmp: per-byte JS loops cost ~3 ns/byte
   * here (perf/micro/decode-to-block.bench.ts), which is most of a series' budget.
   */
  find(buf: Uint8Array, start: number, end: number): number {
    const n = end - start;
    const view = this.#viewOf(buf);
    let h = FNV_OFFSET ^ n;
    let i = start;
    for (const last = end - 4; i <= last; i += 4) h = Math.imul(h ^ view.getInt32(i, true), FNV_PRIME);
    for (; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
    let slot = (h ^ (h >>> 15)) & this.#mask;
    const slots = this.#slots;
    for (;;) {
      const base = slot * SLOT;
      if (slots[base + GEN] !== this.#generation) break;
      if (slots[base + HASH] === h && slots[base + KEY_LEN] === n) {
        const at = slots[base + KEY_AT]!;
        if (this.#arena.compare(buf, start, end, at, at + n) === 0) {
          this.hits++;
          return base;
        }
      }
      slot = (slot + 1) & this.#mask;
    }
    this.misses++;
    this.#missSlot = slot;
    this.#missHash = h;
    return -1;
  }

  #viewBuf: Uint8Array | undefined;
  #view: DataView = new DataView(new ArrayBuffer(0));

  /** One DataView per request buffer (callers pass the same buffer for a whole request). */
  #viewOf(buf: Uint8Array): DataView {
    if (buf !== this.#viewBuf) {
      this.#viewBuf = buf;
      this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return this.#view;
  }

  /** Stores the entry for the key of the last missed `find`. */
  insert(buf: Uint8Array, start: number, end: number, middle: Buffer, middleLen: number, table: number): void {
    const keyLen = end - start;
    if (this.#missSlot < 0) return;
    if (this.#saturatedUntil > 0) {
      if (this.hits + this.misses < this.#saturatedUntil) return;
      this.#startOver(buf, start, end);
    } else if (2 * (this.#entries + 1) > this.#mask + 1 && this.#mask + 1 < this.#maxSlots) {
      this.#grow();
      this.find(buf, start, end); // re-probe for the insert slot in the larger table
      this.misses--;
    }
    if (this.#arenaUsed + keyLen + middleLen > this.#arena.length || 2 * (this.#entries + 1) > this.#mask + 1) {
      const lookups = this.hits + this.misses - this.#lookupsAtClear;
      if (2 * (this.hits - this.#hitsAtClear) < lookups) {
        this.#saturatedUntil = this.hits + this.misses + SATURATED_LOOKUPS_PER_ENTRY * this.#entries;
        return;
      }
      this.#startOver(buf, start, end);
    }
    if (keyLen + middleLen > this.#arena.length) return;
    const base = this.#missSlot * SLOT;
    const at = this.#arenaUsed;
    this.#arena.set(buf.subarray(start, end), at);
    middle.copy(this.#arena, at + keyLen, 0, middleLen);
    this.#arenaUsed = at + keyLen + middleLen;
    const slots = this.#slots;
    slots[base + GEN] = this.#generation;
    slots[base + HASH] = this.#missHash;
    slots[base + KEY_AT] = at;
    slots[base + KEY_LEN] = keyLen;
    slots[base + MID_LEN] = middleLen;
    slots[base + TABLE] = table;
    this.#entries++;
    this.#missSlot = -1;
  }

  /** Copies an entry's middle into `out` at `at`; returns the bytes copied. */
  copyMiddle(entry: number, out: Uint8Array, at: number): number {
    const slots = this.#slots;
    const from = slots[entry + KEY_AT]! + slots[entry + KEY_LEN]!;
    const n = slots[entry + MID_LEN]!;
    out.set(this.#arenaBytes.subarray(from, from + n), at);
    return n;
  }

  middleLength(entry: number): number {
    return this.#slots[entry + MID_LEN]!;
  }

  tableOf(entry: number): number {
    return this.#slots[entry + TABLE]!;
  }

  get entries(): number {
    return this.#entries;
  }

  clear(): void {
    this.#generation++;
    this.#entries = 0;
    this.#arenaUsed = 0;
    this.#missSlot = -1;
    this.#saturatedUntil = 0;
    this.#lookupsAtClear = this.hits + this.misses;
    this.#hitsAtClear = this.hits;
  }

  /** Doubles the slot table, moving the current generation's entries by their stored hash. */
  #grow(): void {
    const old = this.#slots;
    const size = (this.#mask + 1) * 2;
    const next = new Int32Array(size * SLOT);
    const mask = size - 1;
    for (let base = 0; base < old.length; base += SLOT) {
      if (old[base + GEN] !== this.#generation) continue;
      const h = old[base + HASH]!;
      let slot = (h ^ (h >>> 15)) & mask;
      while (next[slot * SLOT + GEN] === this.#generation) slot = (slot + 1) & mask;
      next.set(old.subarray(base, base + SLOT), slot * SLOT);
    }
    this.#slots = next;
    this.#mask = mask;
  }

  /** Clears, then re-probes the (now empty) table for the key about to be inserted. */
  #startOver(buf: Uint8Array, start: number, end: number): void {
    this.clear();
    this.find(buf, start, end);
    this.misses--;
  }
}
