/**
 * The search for the sustained rate: the highest offered rate (samples/s) a probe passes at.
 * The probe is injected, so the logic is tested without a receiver.
 *
 * Steps: probe `startSps`; while every probe passes, grow by `stepFactor` (up to `ceilingSps`);
 * while every probe fails, shrink by it (down to `floorSps`); once a pass lies below a failure,
 * bisect until they are within `tolerance` of each other. At most `maxProbes` probes, which
 * bounds the search's time (each probe lasts a fixed warm-up + window).
 */

export interface SearchOptions {
  /** First rate probed, e.g. a fraction of the closed-model maximum. */
  startSps: number;
  /** Never probe above this. */
  ceilingSps: number;
  /** Never probe below this; when even it fails, the sustained rate is 0. */
  floorSps: number;
  /** Stop once (lowest failing − highest passing) ≤ tolerance × highest passing. */
  tolerance: number;
  maxProbes: number;
  /** Growth / shrink factor before a pass and a failure bracket the answer (> 1). */
  stepFactor: number;
}

export interface SearchStep<T> {
  rateSps: number;
  outcome: T;
}

export interface SearchResult<T> {
  /** Highest rate that passed; 0 when none did. */
  sustainedSps: number;
  /** The outcome of the probe at `sustainedSps`. */
  best: T | undefined;
  /** Lowest rate that failed; undefined when none did. */
  failedAtSps: number | undefined;
  steps: SearchStep<T>[];
}

/** Rounds a rate to 3 significant digits (probes at 412 000, not 412 345.6 samples/s). */
export function roundRate(sps: number): number {
  if (!(sps > 0)) return 0;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(sps)) - 2);
  return Math.max(1, Math.round(sps / unit) * unit);
}

/** The next rate to probe given the bracket so far, or undefined when the search is done. */
export function nextRate(passSps: number, failSps: number | undefined, o: SearchOptions): number | undefined {
  if (failSps === undefined) {
    if (passSps >= o.ceilingSps) return undefined;
    return roundRate(Math.min(passSps * o.stepFactor, o.ceilingSps));
  }
  if (passSps === 0) {
    const lower = roundRate(failSps / o.stepFactor);
    return lower < o.floorSps || lower >= failSps ? undefined : lower;
  }
  if (failSps - passSps <= o.tolerance * passSps) return undefined;
  const mid = roundRate((passSps + failSps) / 2);
  return mid <= passSps || mid >= failSps ? undefined : mid;
}

export async function findSustainedRate<T extends { ok: boolean }>(probe: (rateSps: number) => Promise<T>, o: SearchOptions): Promise<SearchResult<T>> {
  if (!(o.stepFactor > 1) || !(o.floorSps > 0) || o.ceilingSps < o.floorSps || o.maxProbes < 1) {
    throw new RangeError(`bad search options: ${JSON.stringify(o)}`);
  }
  const steps: SearchStep<T>[] = [];
  let pass = 0;
  let fail: number | undefined;
  let best: T | undefined;
  let rate: number | undefined = roundRate(Math.min(o.ceilingSps, Math.max(o.floorSps, o.startSps)));
  while (rate !== undefined && steps.length < o.maxProbes) {
    const outcome = await probe(rate);
    steps.push({ rateSps: rate, outcome });
    if (outcome.ok && rate > pass) {
      pass = rate;
      best = outcome;
    } else if (!outcome.ok && (fail === undefined || rate < fail)) {
      fail = rate;
    }
    rate = nextRate(pass, fail, o);
  }
  return { sustainedSps: pass, best, failedAtSps: fail, steps };
}
