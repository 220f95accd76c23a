import t from 'tap';
import fc from 'fast-check';
import { IngestError } from '../../src/errors.js';
import {
  emptyHistogram, HistogramDecoder, histogramToRows, type NativeHistogram, upperBound, validateHistogram,
} from '../../src/prom/histogram.js';
import { ProtoReader } from '../../src/prom/protobuf-reader.js';
import { codeOf, hex, histogram } from '../fixtures/prom/helpers.js';

function h(fields: Partial<NativeHistogram>): NativeHistogram {
  return { ...emptyHistogram(), ...fields };
}

function decodeHex(s: string): NativeHistogram {
  const buf = hex(s);
  const r = new ProtoReader(buf);
  const out = new HistogramDecoder().decode(r, buf.length);
  if (r.pos !== buf.length) throw new Error(`decoder stopped at ${r.pos} of ${buf.length}`);
  return out;
}

const rows = (x: NativeHistogram) => histogramToRows(x).buckets.map((b) => [b.le, b.cumulativeCount]);

t.test('decode: integer histogram, packed deltas', async (t) => {
  const got = decodeHex(`
    08 09                     # count_int 9
    19 0000000000002940       # sum 12.5
    29 000000000000d03f       # zero_threshold 0.25
    30 02                     # zero_count_int 2
    42 02 1002                # negative_spans [{offset 0, length 2}]
    4a 02 06 03               # negative_deltas packed [3, -2]
    5a 04 0801 1001           # positive_spans [{offset -1, length 1}]
    62 01 02                  # positive_deltas packed [1]
    70 02                     # reset_hint NO
    78 ffffffffffffffffff01   # timestamp -1`.replace(/#.*$/gm, ''));
  t.same(got, h({
    isFloat: false, count: 9, sum: 12.5, zeroThreshold: 0.25, zeroCount: 2,
    negativeSpans: [{ offset: 0, length: 2 }], negativeBuckets: [3, -2],
    positiveSpans: [{ offset: -1, length: 1 }], positiveBuckets: [1], resetHint: 2, timestampMs: -1,
  }));
});

t.test('decode: float histogram, unpacked counts, custom values, unknown fields', async (t) => {
  const got = decodeHex(`
    11 0000000000001140       # count_float 4.25
    20 69                     # schema -53 (zigzag 105)
    39 000000000000d03f       # zero_count_float 0.25
    69 000000000000f83f       # positive_counts 1.5 (unpacked)
    69 000000000000e03f       # positive_counts 0.5 (unpacked)
    5a 02 1002                # positive_spans [{0, 2}]
    8201 10 9a9999999999b93f 000000000000e03f    # custom_values packed [0.1, 0.5]
    8101 000000000000f03f     # custom_values 1 (unpacked)
    f807 01                   # unknown field 127`.replace(/#.*$/gm, ''));
  t.same(got, h({
    isFloat: true, count: 4.25, schema: -53, zeroCount: 0.25, positiveSpans: [{ offset: 0, length: 2 }],
    positiveBuckets: [1.5, 0.5], customValues: [0.1, 0.5, 1],
  }));
});

t.test('decode: the count oneof decides the kind; the other kind of buckets is ignored', async (t) => {
  // count_int then count_float: the last one wins, so float; deltas are ignored.
  const f = decodeHex('08 05 11 0000000000000040 30 07 39 000000000000f03f 62 01 02 6a 08 0000000000000840');
  t.equal(f.isFloat, true);
  t.equal(f.count, 2);
  t.equal(f.zeroCount, 1);
  t.same(f.positiveBuckets, [3]);
  const i = decodeHex('11 0000000000000040 08 05 30 07 39 000000000000f03f 62 01 02 6a 08 0000000000000840');
  t.equal(i.isFloat, false);
  t.equal(i.count, 5);
  t.equal(i.zeroCount, 7);
  t.same(i.positiveBuckets, [1]);
  t.equal(decodeHex('').isFloat, false, 'no count at all: integer');
});

t.test('decode: the decoder reuses one object; malformed input is bad_protobuf', async (t) => {
  const d = new HistogramDecoder();
  const a = hex('08 01 5a 02 1001 62 01 02');
  const first = d.decode(new ProtoReader(a), a.length);
  const b = hex('08 02');
  const second = d.decode(new ProtoReader(b), b.length);
  t.equal(first, second);
  t.same(second.positiveSpans, []);
  t.same(second.positiveBuckets, []);
  t.equal(codeOf(() => decodeHex('4a 05 02')), 'bad_protobuf');
  t.equal(codeOf(() => decodeHex('52 07 00000000000000')), 'bad_protobuf');
  t.equal(codeOf(() => decodeHex('42 03 0801')), 'bad_protobuf');
});

t.test('upper bounds', async (t) => {
  t.equal(upperBound(0, 0), 1);
  t.equal(upperBound(3, 0), 8);
  t.equal(upperBound(-1, 0), 0.5);
  t.equal(upperBound(1, -2), 16);
  t.equal(upperBound(-1, -2), 0.0625);
  t.equal(upperBound(-1, -4), 2 ** -16);
  t.equal(upperBound(1, 1), Math.SQRT2);
  t.equal(upperBound(-1, 1), Math.SQRT1_2);
  t.equal(upperBound(3, 1), 2 * Math.SQRT2);
  t.equal(upperBound(1, 2), 1.189207115002721);
  // Math.pow(2, 0.75) is 1.6817928305074292, one ulp above the nearest double to 2^0.75.
  t.equal(upperBound(3, 2), 1.681792830507429);
  t.equal(upperBound(256, 8), 2);
  t.equal(upperBound(-256 * 1074, 8), 5e-324);
  t.equal(upperBound(-1075, 0), 0);
  // The last finite bucket gets MAX_VALUE, the next one is the +Inf bucket.
  t.equal(upperBound(1023, 0), 2 ** 1023);
  t.equal(upperBound(1024, 0), Number.MAX_VALUE);
  t.equal(upperBound(1025, 0), Infinity);
  t.equal(upperBound(256, -2), Number.MAX_VALUE);
  t.equal(upperBound(1024 * 256, 8), Number.MAX_VALUE);
  t.equal(upperBound(1024 * 256 - 1, 8) < Number.MAX_VALUE, true);
  t.equal(upperBound(1024 * 256 + 1, 8), Infinity);
});

t.test('upper bounds are the nearest doubles to 2^(i/2^s), and increase', async (t) => {
  for (const schema of [1, 2, 3, 8]) {
    const n = 2 ** schema;
    for (let i = 1; i < n; i++) {
      const y = upperBound(i, schema);
      // Nearest double iff (y - ulp/2)^n < 2^i < (y + ulp/2)^n; y = m / 2^52 with m a 53-bit integer.
      const m = BigInt(y * 2 ** 52);
      const target = 1n << BigInt(i + 53 * n);
      t.ok((2n * m - 1n) ** BigInt(n) < target && target < (2n * m + 1n) ** BigInt(n), `schema ${schema} index ${i}`);
    }
  }
  fc.assert(fc.property(fc.integer({ min: -4, max: 8 }), fc.integer({ min: -2000, max: 2000 }), (s, i) => upperBound(i, s) < upperBound(i + 1, s) || upperBound(i + 1, s) === 0 || upperBound(i, s) === Infinity));
});

t.test('mapping, worked by hand: integer histogram, schema 0, negative and zero buckets', async (t) => {
  // Negative: index 0 (bucket [-1, -0.5)), count 3.  Zero bucket [-0.25, 0.25]: 2.
  // Positive: spans (0,2),(1,1) cover indices 0, 1, 3; deltas 1, 1, -1 give counts 1, 2, 1;
  // bounds 2^0, 2^1, 2^3. One NaN observation: count 10 = 3 + 2 + 1 + 2 + 1 + 1.
  const x = h({
    count: 10, sum: 12.5, zeroThreshold: 0.25, zeroCount: 2,
    negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [3],
    positiveSpans: [{ offset: 0, length: 2 }, { offset: 1, length: 1 }], positiveBuckets: [1, 1, -1],
  });
  const r = histogramToRows(x);
  t.equal(r.count, 10);
  t.equal(r.sum, 12.5);
  t.same(rows(x), [[-0.5, 3], [0.25, 5], [1, 6], [2, 8], [8, 9], [Infinity, 10]]);
});

t.test('mapping, worked by hand: float histogram, schema 1 (base √2)', async (t) => {
  // Negative: index 2 is [-2, -√2), upper bound -2^(1/2), count 2. Zero bucket 0.001: 0.25.
  // Positive: span (-1, 2) covers indices -1, 0: bounds 2^(-1/2), 1; counts 1.5, 0.5.
  const x = h({
    isFloat: true, count: 4.25, sum: -1, schema: 1, zeroThreshold: 0.001, zeroCount: 0.25,
    negativeSpans: [{ offset: 2, length: 1 }], negativeBuckets: [2],
    positiveSpans: [{ offset: -1, length: 2 }], positiveBuckets: [1.5, 0.5],
  });
  t.same(rows(x), [[-Math.SQRT2, 2], [0.001, 2.25], [Math.SQRT1_2, 3.75], [1, 4.25], [Infinity, 4.25]]);
});

t.test('mapping, worked by hand: negative side with several spans, schema -1 (base 4)', async (t) => {
  // Negative spans (1,2),(2,1) cover indices 1, 2, 5; deltas 1, 2, -3 give counts 1, 3, 0.
  // Negative index i has upper bound -4^(i-1): -1, -4, -256. Sorted: -256, -4, -1.
  const x = h({
    count: 4, schema: -1, negativeSpans: [{ offset: 1, length: 2 }, { offset: 2, length: 1 }], negativeBuckets: [1, 2, -3],
  });
  t.same(rows(x), [[-256, 0], [-4, 3], [-1, 4], [0, 4], [Infinity, 4]]);
});

t.test('mapping, worked by hand: custom buckets (schema -53)', async (t) => {
  // Bounds 0.1, 0.5, 1 and the +Inf bucket at index 3. Spans (0,2),(1,1) cover 0, 1, 3;
  // deltas 2, 1, -2 give counts 2, 3, 1. Bound 1 is unpopulated but listed.
  const x = h({
    count: 6, sum: 3, schema: -53, customValues: [0.1, 0.5, 1],
    positiveSpans: [{ offset: 0, length: 2 }, { offset: 1, length: 1 }], positiveBuckets: [2, 1, -2],
  });
  t.same(rows(x), [[0.1, 2], [0.5, 5], [1, 5], [Infinity, 6]]);
  t.same(rows(h({ schema: -53, customValues: [-1, 2] })), [[-1, 0], [2, 0], [Infinity, 0]]);
});

t.test('mapping: equal bounds merge; +Inf buckets fold into the +Inf row', async (t) => {
  // The zero bucket's bound 1 equals positive bucket 0's bound.
  const x = h({ count: 5, zeroThreshold: 1, zeroCount: 1, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [2, 0] });
  t.same(rows(x), [[1, 3], [2, 5], [Infinity, 5]]);
  // Schema 0: index 1024 is the last finite bucket (MAX_VALUE), 1025 the bucket of +Inf observations.
  const y = h({ count: 3, positiveSpans: [{ offset: 1023, length: 3 }], positiveBuckets: [1, 0, 0] });
  t.same(rows(y), [[0, 0], [2 ** 1023, 1], [Number.MAX_VALUE, 2], [Infinity, 3]]);
});

t.test('validation errors are invalid_request', async (t) => {
  const bad: [string, Partial<NativeHistogram>][] = [
    ['schema 9', { schema: 9 }],
    ['schema -5', { schema: -5 }],
    ['spans cover more buckets than given', { count: 9, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1] }],
    ['buckets without spans', { count: 9, negativeBuckets: [1] }],
    ['negative offset in a later span', { count: 9, positiveSpans: [{ offset: 0, length: 1 }, { offset: -1, length: 1 }], positiveBuckets: [1, 0] }],
    ['negative bucket count from deltas', { count: 9, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1, -2] }],
    ['negative float bucket count', { isFloat: true, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [-1] }],
    ['negative float count', { isFloat: true, count: -1 }],
    ['negative float zero count', { isFloat: true, zeroCount: -Infinity }],
    ['count below bucket total', { count: 2, zeroCount: 1, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [2] }],
    ['custom values with exponential schema', { customValues: [1] }],
    ['custom values not increasing', { schema: -53, customValues: [1, 1] }],
    ['custom NaN bound', { schema: -53, customValues: [1, NaN] }],
    ['custom negative first offset', { schema: -53, customValues: [1], count: 1, positiveSpans: [{ offset: -1, length: 1 }], positiveBuckets: [1] }],
    ['custom index beyond +Inf bucket', { schema: -53, customValues: [1], count: 1, positiveSpans: [{ offset: 2, length: 1 }], positiveBuckets: [1] }],
    ['custom with negative buckets', { schema: -53, count: 1, negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [1] }],
    ['custom with zero bucket', { schema: -53, count: 1, zeroCount: 1 }],
    ['custom with zero threshold', { schema: -53, zeroThreshold: 0.1 }],
    ['custom single NaN bound', { schema: -53, customValues: [NaN] }],
    ['NaN zero threshold', { zeroThreshold: NaN }],
    ['negative zero threshold', { zeroThreshold: -1 }],
  ];
  for (const [name, fields] of bad) {
    t.equal(codeOf(() => validateHistogram(h(fields))), 'invalid_request', name);
    t.equal(codeOf(() => histogramToRows(h(fields))), 'invalid_request', name);
  }
  // Allowed: a negative first offset (exponential), count above the bucket total (NaN observations).
  t.doesNotThrow(() => validateHistogram(h({ count: 5, positiveSpans: [{ offset: -3, length: 1 }], positiveBuckets: [1] })));
  t.doesNotThrow(() => validateHistogram(h({ schema: -53, customValues: [1], count: 1, positiveSpans: [{ offset: 1, length: 1 }], positiveBuckets: [1] })));
});

/** Repairs an arbitrary histogram into a valid one (see validateHistogram). */
function repair(x: NativeHistogram): NativeHistogram {
  const y: NativeHistogram = structuredClone(x);
  const finite = (v: number) => (Number.isFinite(v) ? Math.abs(v) : 1);
  y.zeroThreshold = finite(y.zeroThreshold);
  if (y.schema === -53) {
    y.negativeSpans = [];
    y.negativeBuckets = [];
    y.zeroCount = 0;
    y.zeroThreshold = 0;
    y.positiveSpans = y.positiveSpans.map((sp) => ({ offset: Math.abs(sp.offset), length: sp.length }));
    const needed = y.positiveSpans.reduce((a, sp) => a + sp.offset + sp.length, 0);
    y.customValues = Array.from({ length: Math.max(needed - 1, y.customValues.length) }, (_, i) => i * 0.5 - 1);
  } else {
    y.customValues = [];
  }
  const fix = (buckets: number[]) => {
    const counts = buckets.map((v) => (y.isFloat ? finite(v) : Math.abs(Math.round(v))));
    return y.isFloat ? counts : counts.map((c, i) => c - (i > 0 ? counts[i - 1]! : 0));
  };
  y.negativeBuckets = fix(y.negativeBuckets);
  y.positiveBuckets = fix(y.positiveBuckets);
  if (y.isFloat && y.schema !== -53) y.zeroCount = finite(y.zeroCount);
  if (y.isFloat) y.count = finite(y.count);
  if (!y.isFloat) {
    const total = (d: number[]) => d.reduce((a, _, i) => a + d.slice(0, i + 1).reduce((p, q) => p + q, 0), 0);
    y.zeroCount = Math.abs(y.zeroCount);
    y.count = total(y.negativeBuckets) + total(y.positiveBuckets) + y.zeroCount + (y.count % 3);
  }
  return y;
}

t.test('property: histograms map to increasing rows ending at +Inf = count, or are invalid_request', async (t) => {
  let valid = 0;
  const check = (x: NativeHistogram) => {
    let r;
    try {
      r = histogramToRows(x);
    } catch (e) {
      if (e instanceof IngestError && e.code === 'invalid_request') return;
      throw e;
    }
    valid++;
    const b = r.buckets;
    if (b[b.length - 1]!.le !== Infinity || !Object.is(b[b.length - 1]!.cumulativeCount, r.count)) throw new Error('last row');
    for (let i = 1; i < b.length; i++) {
      if (!(b[i]!.le > b[i - 1]!.le)) throw new Error(`le not increasing at ${i}`);
      // (NaN float counts pass validation, as in Prometheus, and make every later row NaN.)
      const inf = i === b.length - 1 && x.isFloat; // float count is not checked against bucket sums
      if (!inf && b[i]!.cumulativeCount < b[i - 1]!.cumulativeCount) throw new Error(`count decreasing at ${i}`);
    }
  };
  fc.assert(fc.property(histogram, check), { numRuns: 1000 });
  valid = 0;
  fc.assert(fc.property(histogram.map(repair), (x) => {
    const before = valid;
    check(x);
    if (valid === before) throw new Error('repaired histogram rejected');
  }), { numRuns: 1000 });
  t.equal(valid, 1000);
});
