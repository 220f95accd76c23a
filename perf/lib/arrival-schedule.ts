/**
 * Open-model arrival schedule: when request k is due, for a constant or linearly ramping rate.
 *
 * Time is ms since the run started. The run is: warmup at `fromSps`, then a linear ramp from
 * `fromSps` to `toSps` over `rampMs`, then `toSps` until the end. A constant rate is
 * `fromSps === toSps`. Request k is due once `k * samplesPerRequest` samples are due, so the
 * schedule stays right when rates are not multiples of the request size.
 */
export interface ArrivalScheduleOptions {
  /** Samples per second during warmup and at the start of the ramp; >= 0. */
  fromSps: number;
  /** Samples per second at the end of the ramp and after it; > 0. */
  toSps: number;
  warmupMs: number;
  rampMs: number;
  samplesPerRequest: number;
}

export class ArrivalSchedule {
  readonly #o: Readonly<ArrivalScheduleOptions>;
  /** Samples due by the end of warmup and by the end of the ramp. */
  readonly #warmupSamples: number;
  readonly #rampSamples: number;

  constructor(o: ArrivalScheduleOptions) {
    if (!(o.fromSps >= 0) || !(o.toSps > 0)) throw new RangeError(`rates must be from >= 0, to > 0; got ${o.fromSps}:${o.toSps}`);
    if (o.fromSps === 0 && o.warmupMs > 0) throw new RangeError('a ramp starting at 0 cannot have a warmup');
    this.#o = Object.freeze({ ...o });
    this.#warmupSamples = (o.fromSps * o.warmupMs) / 1000;
    this.#rampSamples = (((o.fromSps + o.toSps) / 2) * o.rampMs) / 1000;
  }

  /** Rate in samples/s at `tMs`. */
  rateAt(tMs: number): number {
    const { fromSps, toSps, warmupMs, rampMs } = this.#o;
    const u = tMs - warmupMs;
    if (u <= 0) return fromSps;
    if (u >= rampMs) return toSps;
    return fromSps + ((toSps - fromSps) * u) / rampMs;
  }

  /** Samples due in [0, tMs]. */
  samplesDueBy(tMs: number): number {
    const { fromSps, toSps, warmupMs, rampMs } = this.#o;
    if (tMs <= warmupMs) return (fromSps * Math.max(0, tMs)) / 1000;
    const u = Math.min(tMs - warmupMs, rampMs) / 1000;
    const slope = rampMs > 0 ? (toSps - fromSps) / (rampMs / 1000) : 0;
    const inRamp = fromSps * u + (slope * u * u) / 2;
    const after = Math.max(0, tMs - warmupMs - rampMs) / 1000;
    return this.#warmupSamples + inRamp + toSps * after;
  }

  /** Requests due in [0, tMs]: request 0 is due at 0. */
  requestsDueBy(tMs: number): number {
    return Math.floor(this.samplesDueBy(tMs) / this.#o.samplesPerRequest + 1e-9) + 1;
  }

  /** When request k is due, in ms since the run started. */
  startOf(k: number): number {
    const { fromSps, toSps, warmupMs, rampMs, samplesPerRequest } = this.#o;
    const x = k * samplesPerRequest;
    if (x <= this.#warmupSamples && fromSps > 0) return (x / fromSps) * 1000;
    const inRamp = x - this.#warmupSamples;
    if (inRamp <= 0) return warmupMs;
    if (inRamp < this.#rampSamples) {
      const slope = (toSps - fromSps) / (rampMs / 1000);
      // Root of slope/2·u² + from·u − inRamp = 0, in the form that stays exact when slope → 0.
      const u = (2 * inRamp) / (fromSps + Math.sqrt(Math.max(0, fromSps * fromSps + 2 * slope * inRamp)));
      return warmupMs + u * 1000;
    }
    return warmupMs + rampMs + ((inRamp - this.#rampSamples) / toSps) * 1000;
  }
}
