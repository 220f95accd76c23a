/**
 * Stable ids for remote write 2.0 symbols, so a series can be keyed by its label references
 * across requests (each request numbers its symbols afresh). Maps symbol bytes to a small integer,
 * exactly (bytes compared, not just hashed), in a bounded table. When the table fills, it starts
 * over with a new generation: keys carry the generation, so no key built from old ids can ever
 * equal one built from new ids.
 *
 * Module state, one table per thread; synchronous use only.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SLOT = 4; // [generation, hash, arena offset, length]; the id is the slot index

export class SymbolIds {
  readonly #arena: Buffer;
  #used = 0;
  readonly #mask: number;
  readonly #slots: Int32Array;
  #count = 0;
  generation = 1;
  #viewBuf: Uint8Array | undefined;
  #view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(arenaBytes: number, slots: number) {
    this.#arena = Buffer.allocUnsafe(arenaBytes);
    let n = 1024;
    while (n < slots) n *= 2;
    this.#mask = n - 1;
    this.#slots = new Int32Array(n * SLOT);
  }

  /** The id of the symbol `buf[start, end)` in the current generation (which this call may start). */
  idOf(buf: Uint8Array, start: number, end: number): number {
    const n = end - start;
    if (buf !== this.#viewBuf) {
      this.#viewBuf = buf;
      this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    let h = FNV_OFFSET ^ n;
    let i = start;
    for (const last = end - 4; i <= last; i += 4) h = Math.imul(h ^ this.#view.getInt32(i, true), FNV_PRIME);
    for (; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
    for (;;) {
      let slot = (h ^ (h >>> 15)) & this.#mask;
      const s = this.#slots;
      for (;;) {
        const base = slot * SLOT;
        if (s[base] !== this.generation) break;
        if (s[base + 1] === h && s[base + 3] === n && this.#arena.compare(buf, start, end, s[base + 2]!, s[base + 2]! + n) === 0) return slot;
        slot = (slot + 1) & this.#mask;
      }
      if (this.#used + n <= this.#arena.length && 2 * (this.#count + 1) <= this.#mask + 1) {
        const base = slot * SLOT;
        this.#arena.set(buf.subarray(start, end), this.#used);
        s[base] = this.generation;
        s[base + 1] = h;
        s[base + 2] = this.#used;
        s[base + 3] = n;
        this.#used += n;
        this.#count++;
        return slot;
      }
      if (n > this.#arena.length) return -1; // never cacheable; the caller builds no key
      this.generation++;
      this.#used = 0;
      this.#count = 0;
    }
  }
}
