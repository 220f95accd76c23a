/**
 * One output buffer reused call after call, for hot paths whose result is read before the next
 * call (a decoded request body, a WAL frame): no allocation per call, and no fresh pages to fault
 * in, which on the development VM cost ~10 % of a core at ~1 M samples/s (docs/performance.md,
 * seventh campaign).
 *
 * It grows on demand, at least doubling so that a slowly growing load does not reallocate every
 * call. A buffer larger than `keepBytes` serves the call it was grown for and is then let go: one
 * huge request does not pin its size for the life of the thread.
 */
export class ReusedBuffer {
  readonly #keepBytes: number;
  #buf: Buffer;

  constructor(initialBytes: number, keepBytes: number) {
    this.#keepBytes = keepBytes;
    this.#buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** The buffer as it is now (for a call that reports the size it needs). */
  get current(): Buffer {
    return this.#buf;
  }

  /** The buffer, at least `bytes` long; its contents are undefined. */
  atLeast(bytes: number): Buffer {
    if (this.#buf.length >= bytes) return this.#buf;
    const grown = Buffer.allocUnsafeSlow(Math.max(bytes, Math.min(2 * this.#buf.length, this.#keepBytes)));
    if (grown.length <= this.#keepBytes) this.#buf = grown;
    return grown;
  }
}
