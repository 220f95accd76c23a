/**
 * The ingest ring: one SharedArrayBuffer that request bodies are copied into exactly once, so
 * workers read them in place. Allocation is a bump pointer that wraps; regions are released in
 * any order, and space is reclaimed from the oldest allocation forward once it is released.
 *
 *   0                         tail            head                       size
 *   │ free (after wrap) │ in use (FIFO of regions) │ free                  │
 *
 * Invariant: live regions are exactly the FIFO entries; `used` is the sum of their spans
 * (including the gap skipped at a wrap, charged to the region that wrapped while regions before
 * it in the FIFO are live, that is while the gap cannot be allocated).
 */
interface Region {
  readonly offset: number;
  readonly length: number;
  /** Bytes charged: the region plus any tail gap skipped to place it, until that gap is free again. */
  span: number;
  released: boolean;
}

export class BodyRing {
  readonly buffer: SharedArrayBuffer;
  readonly #size: number;
  #head = 0;
  #used = 0;
  readonly #fifo: Region[] = [];
  #fifoStart = 0;
  readonly #byOffset = new Map<number, Region>();

  constructor(size: number) {
    this.#size = size;
    this.buffer = new SharedArrayBuffer(size);
  }

  get usedBytes(): number {
    return this.#used;
  }

  get sizeBytes(): number {
    return this.#size;
  }

  /** Reserves `length` contiguous bytes; undefined when the ring is too full (shed the request). */
  tryAlloc(length: number): number | undefined {
    const n = Math.max(1, length);
    if (n > this.#size) return undefined;
    const live = this.#fifo.length - this.#fifoStart;
    if (live === 0) {
      this.#head = 0;
    }
    const tail = live === 0 ? 0 : this.#fifo[this.#fifoStart]!.offset;
    let offset: number;
    let span: number;
    if (live === 0 || this.#head > tail || (this.#head === tail && this.#used === 0)) {
      // In use: [tail, head). Free: [head, size) then [0, tail).
      if (this.#size - this.#head >= n) {
        offset = this.#head;
        span = n;
      } else if (tail >= n) {
        offset = 0;
        span = n + (this.#size - this.#head);
      } else return undefined;
    } else {
      // Wrapped: in use [tail, size) and [0, head). Free: [head, tail).
      if (tail - this.#head < n) return undefined;
      offset = this.#head;
      span = n;
    }
    const region: Region = { offset, length: n, span, released: false };
    this.#fifo.push(region);
    this.#byOffset.set(offset, region);
    this.#head = offset + n;
    this.#used += span;
    return offset;
  }

  /** A view of a reserved region for the main thread to copy body chunks into. */
  view(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.buffer, offset, length);
  }

  release(offset: number): void {
    const region = this.#byOffset.get(offset);
    if (region === undefined || region.released) throw new Error(`ring region ${offset} is not allocated`);
    region.released = true;
    this.#byOffset.delete(offset);
    while (this.#fifoStart < this.#fifo.length && this.#fifo[this.#fifoStart]!.released) {
      this.#used -= this.#fifo[this.#fifoStart]!.span;
      this.#fifoStart++;
    }
    // Once the region that wrapped is the oldest, the gap it skipped at the end is free again
    // (tryAlloc places new regions there): stop charging it, or `used` would count it twice.
    const oldest = this.#fifo[this.#fifoStart];
    if (oldest !== undefined && oldest.span > oldest.length) {
      this.#used -= oldest.span - oldest.length;
      oldest.span = oldest.length;
    }
    if (this.#fifoStart > 1024 && this.#fifoStart * 2 > this.#fifo.length) {
      this.#fifo.splice(0, this.#fifoStart);
      this.#fifoStart = 0;
    }
  }
}
