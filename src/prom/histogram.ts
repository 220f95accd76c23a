/**
 * Native histograms: the `Histogram` message of remote write 1.0 (`prometheus.Histogram`) and 2.0
 * (`io.prometheus.write.v2.Histogram`), which share field numbers, and their mapping to
 * classic-style rows.
 *
 * ## Mapping a native histogram to classic-style rows (`histogramToRows`)
 *
 * A native histogram is stored as the series a classic histogram would produce: `_count`, `_sum`
 * and one `_bucket` row per bucket carrying an upper bound `le` and a cumulative count.
 *
 * 1. Validation (`validateHistogram`; any failure is `invalid_request`): schema is -53 (custom
 *    buckets) or within [-4, 8]; on each side, the span lengths add up to the number of bucket
 *    deltas (integer histogram) or counts (float histogram); every span after the first has a
 *    non-negative offset; no count is negative; the zero threshold is neither negative nor NaN;
 *    an integer histogram's count is at least the sum of its bucket counts plus its zero count
 *    (not checked for float histograms, where rounding makes the sum inexact; Prometheus does not
 *    check it either). Exponential schemas carry no custom values. Custom schema: custom values
 *    strictly increase (no NaN), all offsets are non-negative, the highest bucket index is at
 *    most len(custom_values), and there are no negative spans or buckets, no zero count and no
 *    zero threshold.
 * 2. Integer or float. A histogram is a float histogram when its count was sent as `count_float`,
 *    an integer histogram when sent as `count_int` (or absent). Integer histograms take
 *    `*_deltas` and `zero_count_int`, float histograms `*_counts` and `zero_count_float`; the other
 *    kind is ignored, as Prometheus does.
 * 3. Bucket counts. Float: the counts as sent. Integer: the deltas run along each side separately
 *    and across span boundaries: count[0] = delta[0], count[k] = count[k-1] + delta[k].
 * 4. Bucket indices. Spans cover the buckets of a side in order. The first span's offset is the
 *    index of its first bucket; a later span's offset is the gap between the end of the previous
 *    span and its first bucket. Spans (0,2),(3,1) cover indices 0, 1, 5.
 * 5. Upper bounds. Exponential schema s: base = 2^(2^-s). Positive bucket i is (base^(i-1), base^i],
 *    upper bound base^i = 2^(i * 2^-s), the correctly rounded float64 of that power. Negative
 *    bucket i is [-base^i, -base^(i-1)), upper bound -base^(i-1). The zero bucket
 *    [-zero_threshold, zero_threshold] has upper bound zero_threshold. As in Prometheus, the last
 *    finite bucket (bound 2^1024) gets Number.MAX_VALUE. Custom schema -53: positive bucket i has
 *    upper bound custom_values[i]; index len(custom_values) is the +Inf bucket.
 * 6. Rows. Negative buckets (by decreasing index), the zero bucket (exponential schemas only,
 *    listed even when empty) and positive buckets (by increasing index) are sorted by upper bound,
 *    buckets with equal bounds are merged (counts added), and cumulativeCount is the running sum
 *    in that order. Buckets inside spans are listed even when empty; exponential buckets outside
 *    all spans are not (there are infinitely many), while every custom bound is listed, populated
 *    or not, as the classic histogram it stands for would list it. Buckets with upper bound +Inf
 *    are not listed: the last row is always le=+Inf with cumulativeCount = count (which also
 *    counts observations in no bucket, such as NaN). `count` is count_int or count_float, `sum`
 *    is sum. Bounds of the exponential schemas can differ from Prometheus's own precomputed
 *    table (model/histogram/generic.go) in the last binary digit: that table is not correctly
 *    rounded (it has 2^(-1/2) as 0.7071067811865475).
 */
import { IngestError } from '../errors.js';
import type { ProtoReader } from './protobuf-reader.js';

export interface BucketSpan {
  /** First span: index of its first bucket. Later spans: gap after the previous span. */
  offset: number;
  length: number;
}

export interface NativeHistogram {
  /** True when the count was sent as `count_float`. */
  isFloat: boolean;
  count: number;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  negativeSpans: BucketSpan[];
  /** Deltas for an integer histogram, absolute counts for a float histogram. */
  negativeBuckets: number[];
  positiveSpans: BucketSpan[];
  positiveBuckets: number[];
  /** Upper bounds of the custom buckets (schema -53). */
  customValues: number[];
  /** 0 unknown, 1 yes, 2 no, 3 gauge. */
  resetHint: number;
  timestampMs: number;
}

export const CUSTOM_BUCKETS_SCHEMA = -53;
export const EXPONENTIAL_SCHEMA = { min: -4, max: 8 } as const;

/**
 * Decodes `Histogram` messages into one reused `NativeHistogram`. Lifetime: the histogram
 * returned by `decode` and its arrays are valid until the next `decode` call.
 */
export class HistogramDecoder {
  readonly #h: NativeHistogram = emptyHistogram();
  readonly #negativeDeltas: number[] = [];
  readonly #negativeCounts: number[] = [];
  readonly #positiveDeltas: number[] = [];
  readonly #positiveCounts: number[] = [];

  /** Decodes the message in `r.buf[r.pos, end)`; leaves `r.pos` at `end`. Does not validate. */
  decode(r: ProtoReader, end: number): NativeHistogram {
    const h = this.#h;
    const negD = this.#negativeDeltas;
    const negC = this.#negativeCounts;
    const posD = this.#positiveDeltas;
    const posC = this.#positiveCounts;
    negD.length = negC.length = posD.length = posC.length = 0;
    h.negativeSpans.length = h.positiveSpans.length = h.customValues.length = 0;
    h.sum = h.zeroThreshold = h.resetHint = h.timestampMs = h.schema = 0;
    let isFloat = false;
    let countInt = 0;
    let countFloat = 0;
    let zeroInt = 0;
    let zeroFloat = 0;
    const outer = r.end;
    r.end = end;
    // message Histogram {
    //   oneof count { uint64 count_int = 1; double count_float = 2; }
    //   double sum = 3;
    //   sint32 schema = 4;
    //   double zero_threshold = 5;
    //   oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
    //   repeated BucketSpan negative_spans = 8;
    //   repeated sint64 negative_deltas = 9;
    //   repeated double negative_counts = 10;
    //   repeated BucketSpan positive_spans = 11;
    //   repeated sint64 positive_deltas = 12;
    //   repeated double positive_counts = 13;
    //   ResetHint reset_hint = 14;
    //   int64 timestamp = 15;
    //   repeated double custom_values = 16;
    // }
    // Cases are tags (field << 3 | wire type); repeated scalars come packed (LEN) or not.
    while (r.pos < end) {
      const tag = r.tag();
      switch (tag) {
        case 0x08: countInt = r.uint64(); isFloat = false; break; // 1 count_int
        case 0x11: countFloat = r.double(); isFloat = true; break; // 2 count_float
        case 0x19: h.sum = r.double(); break; // 3 sum
        case 0x20: h.schema = r.sint32(); break; // 4 schema
        case 0x29: h.zeroThreshold = r.double(); break; // 5 zero_threshold
        case 0x30: zeroInt = r.uint64(); break; // 6 zero_count_int
        case 0x39: zeroFloat = r.double(); break; // 7 zero_count_float
        case 0x42: decodeSpan(r, h.negativeSpans); break; // 8 negative_spans
        case 0x48: negD.push(r.sint64()); break; // 9 negative_deltas
        case 0x4a: r.packedSint64(negD); break;
        case 0x51: negC.push(r.double()); break; // 10 negative_counts
        case 0x52: r.packedDouble(negC); break;
        case 0x5a: decodeSpan(r, h.positiveSpans); break; // 11 positive_spans
        case 0x60: posD.push(r.sint64()); break; // 12 positive_deltas
        case 0x62: r.packedSint64(posD); break;
        case 0x69: posC.push(r.double()); break; // 13 positive_counts
        case 0x6a: r.packedDouble(posC); break;
        case 0x70: h.resetHint = r.int64(); break; // 14 reset_hint
        case 0x78: h.timestampMs = r.int64(); break; // 15 timestamp
        case 0x81: h.customValues.push(r.double()); break; // 16 custom_values
        case 0x82: r.packedDouble(h.customValues); break;
        default: r.skip(tag);
      }
    }
    r.end = outer;
    h.isFloat = isFloat;
    h.count = isFloat ? countFloat : countInt;
    h.zeroCount = isFloat ? zeroFloat : zeroInt;
    h.negativeBuckets = isFloat ? negC : negD;
    h.positiveBuckets = isFloat ? posC : posD;
    return h;
  }
}

// message BucketSpan { sint32 offset = 1; uint32 length = 2; }
function decodeSpan(r: ProtoReader, out: BucketSpan[]): void {
  const end = r.len() + r.pos;
  const outer = r.end;
  r.end = end;
  let offset = 0;
  let length = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x08) offset = r.sint32();
    else if (tag === 0x10) length = r.uint32();
    else r.skip(tag);
  }
  r.end = outer;
  out.push({ offset, length });
}

export function emptyHistogram(): NativeHistogram {
  return {
    isFloat: false, count: 0, sum: 0, schema: 0, zeroThreshold: 0, zeroCount: 0,
    negativeSpans: [], negativeBuckets: [], positiveSpans: [], positiveBuckets: [],
    customValues: [], resetHint: 0, timestampMs: 0,
  };
}

function invalid(what: string): IngestError {
  return new IngestError('invalid_request', `invalid native histogram: ${what}`);
}

/** Throws `invalid_request` unless `h` passes the checks of step 1 in the file comment. */
export function validateHistogram(h: NativeHistogram): void {
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  if (!custom && !(h.schema >= EXPONENTIAL_SCHEMA.min && h.schema <= EXPONENTIAL_SCHEMA.max)) {
    throw invalid(`unsupported schema ${h.schema}`);
  }
  const negTotal = checkSide('negative', h.negativeSpans, h.negativeBuckets, h.isFloat, custom);
  const posTotal = checkSide('positive', h.positiveSpans, h.positiveBuckets, h.isFloat, custom);
  if (h.zeroCount < 0 || h.count < 0) throw invalid('negative count');
  if (!(h.zeroThreshold >= 0)) throw invalid(`zero threshold ${h.zeroThreshold}`);
  if (!h.isFloat && h.count < negTotal + posTotal + h.zeroCount) {
    throw invalid(`count ${h.count} below the ${negTotal + posTotal + h.zeroCount} observations in buckets`);
  }
  if (!custom) {
    if (h.customValues.length > 0) throw invalid('custom values with an exponential schema');
    return;
  }
  if (h.negativeSpans.length > 0 || h.negativeBuckets.length > 0) throw invalid('negative buckets with custom buckets');
  if (h.zeroCount !== 0 || h.zeroThreshold !== 0) throw invalid('zero bucket with custom buckets');
  const bounds = h.customValues;
  for (let i = 0; i < bounds.length; i++) {
    if (!(i === 0 ? !Number.isNaN(bounds[0]) : bounds[i]! > bounds[i - 1]!)) throw invalid(`custom values not increasing at index ${i}`);
  }
  let next = 0; // index after the last bucket seen so far
  for (const span of h.positiveSpans) next += span.offset + span.length;
  if (next > bounds.length + 1) throw invalid(`bucket index ${next - 1} beyond ${bounds.length} custom values`);
}

/** Checks one side's spans and buckets; returns the side's total count. */
function checkSide(side: string, spans: BucketSpan[], buckets: number[], isFloat: boolean, custom: boolean): number {
  let n = 0;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i]!;
    if (span.offset < 0 && (i > 0 || custom)) throw invalid(`${side} span ${i} has negative offset ${span.offset}`);
    n += span.length;
  }
  if (n !== buckets.length) throw invalid(`${side} spans cover ${n} buckets but ${buckets.length} are given`);
  let count = 0;
  let total = 0;
  for (let i = 0; i < buckets.length; i++) {
    count = isFloat ? buckets[i]! : count + buckets[i]!;
    if (count < 0) throw invalid(`${side} bucket ${i} has negative count ${count}`);
    total += count;
  }
  return total;
}

export interface HistogramRows {
  count: number;
  sum: number;
  /** Ascending by `le`; the last row is always `le: Infinity` with `cumulativeCount: count`. */
  buckets: { le: number; cumulativeCount: number }[];
}

/** Maps a native histogram to classic-style rows as described in the file comment. */
export function histogramToRows(h: NativeHistogram): HistogramRows {
  validateHistogram(h);
  const les: number[] = [];
  const counts: number[] = [];
  const custom = h.schema === CUSTOM_BUCKETS_SCHEMA;
  if (custom) {
    // Every custom bound is listed, populated or not, as the classic histogram would have it.
    for (const le of h.customValues) (les.push(le), counts.push(0));
    collectSide(h.positiveSpans, h.positiveBuckets, h.isFloat, (i) => h.customValues[i] ?? Infinity, les, counts);
  } else {
    collectSide(h.negativeSpans, h.negativeBuckets, h.isFloat, (i) => -upperBound(i - 1, h.schema), les, counts);
    les.push(h.zeroThreshold);
    counts.push(h.zeroCount);
    collectSide(h.positiveSpans, h.positiveBuckets, h.isFloat, (i) => upperBound(i, h.schema), les, counts);
  }

  // Sort by upper bound; NaN bounds cannot occur (validated schema, increasing custom values).
  const order = les.map((_, i) => i).sort((a, b) => les[a]! - les[b]! || a - b);
  const buckets: HistogramRows['buckets'] = [];
  let cumulative = 0;
  for (const i of order) {
    const le = les[i]!;
    if (le === Infinity) continue;
    cumulative += counts[i]!;
    const last = buckets[buckets.length - 1];
    if (last !== undefined && last.le === le) last.cumulativeCount = cumulative;
    else buckets.push({ le, cumulativeCount: cumulative });
  }
  buckets.push({ le: Infinity, cumulativeCount: h.count });
  return { count: h.count, sum: h.sum, buckets };
}

/** Appends (upper bound, count) of one side's buckets in index order. */
function collectSide(
  spans: BucketSpan[], buckets: number[], isFloat: boolean, bound: (index: number) => number,
  les: number[], counts: number[],
): void {
  let k = 0;
  let index = 0;
  let count = 0;
  for (let s = 0; s < spans.length; s++) {
    const span = spans[s]!;
    index += span.offset;
    for (let j = 0; j < span.length; j++, k++, index++) {
      count = isFloat ? buckets[k]! : count + buckets[k]!;
      les.push(bound(index));
      counts.push(count);
    }
  }
}

/** Upper bound of positive bucket `index` under exponential schema `schema`: 2^(index * 2^-schema). */
export function upperBound(index: number, schema: number): number {
  if (schema <= 0) {
    const exp = index * 2 ** -schema;
    return exp === 1024 ? Number.MAX_VALUE : pow2(exp);
  }
  const fracIndex = index & ((1 << schema) - 1);
  const exp = (index >> schema) + 1;
  const frac = fractionTable(schema)[fracIndex]!;
  if (frac === 0.5 && exp === 1025) return Number.MAX_VALUE;
  // frac is in [0.5, 1): split the scaling so that neither factor overflows or underflows early.
  return frac * 2 * pow2(exp - 1);
}

const scratch = new DataView(new ArrayBuffer(8));

/** Exactly 2^e for an integer e (0 below the subnormal range, Infinity above 2^1023). */
function pow2(e: number): number {
  if (e > 1023) return Infinity;
  if (e < -1074) return 0;
  if (e < -1022) return pow2(e + 52) * pow2(-52);
  scratch.setUint32(0, (e + 1023) << 20);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

const fractionTables: Float64Array[] = [];

/**
 * For schema s > 0, entry k is 2^(k/2^s) / 2, correctly rounded. Math.pow is off by one ulp for
 * some entries, so each is checked exactly with BigInt arithmetic: y is the correctly rounded
 * value of 2^(k/n) iff (y - ulp/2)^n < 2^k < (y + ulp/2)^n. Built once per schema (a few ms).
 */
function fractionTable(schema: number): Float64Array {
  const cached = fractionTables[schema];
  if (cached !== undefined) return cached;
  const n = 2 ** schema;
  const table = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const y = Math.pow(2, k / n);
    table[k] = (isCorrectlyRounded(y, k, n) ? y : isCorrectlyRounded(nextUp(y, 1), k, n) ? nextUp(y, 1) : nextUp(y, -1)) / 2;
  }
  fractionTables[schema] = table;
  return table;
}

/** For y in [1, 2): whether y is the float64 nearest to 2^(k/n). */
function isCorrectlyRounded(y: number, k: number, n: number): boolean {
  if (k === 0) return y === 1;
  scratch.setFloat64(0, y);
  const mantissa = (scratch.getBigUint64(0) & 0xfffffffffffffn) | 0x10000000000000n; // y = m * 2^-52
  // (2m - 1)^n < 2^(k + 53n) < (2m + 1)^n, all scaled by 2^53n to stay in integers.
  const target = 1n << BigInt(k + 53 * n);
  const N = BigInt(n);
  return (2n * mantissa - 1n) ** N < target && target < (2n * mantissa + 1n) ** N;
}

function nextUp(y: number, step: 1 | -1): number {
  scratch.setFloat64(0, y);
  scratch.setBigUint64(0, scratch.getBigUint64(0) + BigInt(step));
  return scratch.getFloat64(0);
}
