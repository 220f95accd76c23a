import { BodyRing } from './body-ring.js';

/** Where one request body lives while a worker may read it. */
export interface BodySlot {
  readonly buffer: SharedArrayBuffer;
  readonly offset: number;
  readonly length: number;
  /** In the shared ring (workers have it already) rather than a buffer of its own. */
  readonly inRing: boolean;
}

/**
 * Shared memory for request bodies. Bodies up to a quarter of the ring go into the ring, which
 * every worker maps once; rarer large bodies get a SharedArrayBuffer of their own (passed with
 * the task, shared, not copied), within a byte budget. Either way the main thread copies a body
 * exactly once, and memory stays bounded: the ring (whose pages all become resident as it
 * cycles) can stay small while --max-request-size stays large.
 */
export class BodyStore {
  readonly #ring: BodyRing;
  readonly #largeFrom: number;
  readonly #largeBudget: number;
  #largeUsed = 0;

  constructor(ringBytes: number, largeBudgetBytes: number) {
    this.#ring = new BodyRing(ringBytes);
    this.#largeFrom = Math.floor(ringBytes / 4);
    this.#largeBudget = largeBudgetBytes;
  }

  get ring(): SharedArrayBuffer {
    return this.#ring.buffer;
  }

  get usedBytes(): number {
    return this.#ring.usedBytes + this.#largeUsed;
  }

  /** Reserves room for a body; undefined when memory is full (shed the request). */
  tryAlloc(length: number): BodySlot | undefined {
    if (length <= this.#largeFrom) {
      const offset = this.#ring.tryAlloc(length);
      return offset === undefined ? undefined : { buffer: this.#ring.buffer, offset, length, inRing: true };
    }
    if (this.#largeUsed + length > this.#largeBudget) return undefined;
    this.#largeUsed += length;
    return { buffer: new SharedArrayBuffer(length), offset: 0, length, inRing: false };
  }

  view(slot: BodySlot, at: number, length: number): Uint8Array {
    return new Uint8Array(slot.buffer, slot.offset + at, length);
  }

  release(slot: BodySlot): void {
    if (slot.inRing) this.#ring.release(slot.offset);
    else this.#largeUsed -= slot.length;
  }
}
