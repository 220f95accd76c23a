/**
 * Whether another write is likely to come within the group-commit delay, judged from the recent
 * gaps between writes (their exponentially weighted mean, each new gap weighing a quarter).
 *
 * Group commit pays off only when requests arrive closer together than the delay: then one flush
 * serves several of them. A sender that waits for each answer before sending again (a Prometheus
 * shard) and sends less often than that would only see its requests held for nothing, so they are
 * written at once. The first write after start-up is written at once too.
 */
export class ArrivalGaps {
  #last: number | undefined;
  #mean = Number.POSITIVE_INFINITY;

  /** Notes a write at `nowMs`; true when the next one is expected within `windowMs`. */
  next(nowMs: number, windowMs: number): boolean {
    if (this.#last !== undefined) {
      const gap = Math.max(0, nowMs - this.#last);
      this.#mean = this.#mean === Number.POSITIVE_INFINITY ? gap : this.#mean + (gap - this.#mean) / 4;
    }
    this.#last = nowMs;
    return this.#mean < windowMs;
  }

  /** The current mean gap in ms (Infinity before the second write). */
  get meanMs(): number {
    return this.#mean;
  }
}
