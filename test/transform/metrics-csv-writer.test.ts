import fc from 'fast-check';
import t from 'tap';
import { IngestError } from '../../src/errors.js';
import { encodeWriteRequestV1, encodeWriteRequestV2, type EncodeSeries } from '../../src/prom/remote-write-encode.js';
import { decodeWriteRequestV1 } from '../../src/prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { MetricsRowBuilder } from '../../src/transform/metrics-rows.js';
import { hasher, transformConfig } from '../helpers/rows.js';

type Outcome = { tables: Record<string, string>; samples: number; rows: number; dropped: number } | { error: string };

/** Decodes the request `passes` times into one writer (with a series cache, later passes hit it); returns the last. */
function viaWriter(series: EncodeSeries[], args: string[], v: 1 | 2, cacheBytes = 0, passes = 1): Outcome {
  const w = new MetricsCsvWriter(transformConfig(args), hasher, cacheBytes);
  const body = v === 1 ? encodeWriteRequestV1(series) : encodeWriteRequestV2(series);
  for (let i = 0; i < passes; i++) {
    w.reset();
    try {
      if (v === 1) decodeWriteRequestV1(body, w);
      else decodeWriteRequestV2(body, w);
    } catch (e) {
      return { error: (e as IngestError).code ?? String(e) };
    }
  }
  const tables: Record<string, string> = {};
  for (const x of w.tables()) tables[x.prefix] = x.out.buf.subarray(x.start, x.out.len).toString('utf8');
  return { tables, samples: w.samples, rows: w.rows, dropped: w.droppedSeries };
}

function viaReference(series: EncodeSeries[], args: string[], v: 1 | 2): Outcome {
  const b = new MetricsRowBuilder(transformConfig(args), hasher);
  try {
    if (v === 1) decodeWriteRequestV1(encodeWriteRequestV1(series), b);
    else decodeWriteRequestV2(encodeWriteRequestV2(series), b);
  } catch (e) {
    return { error: (e as IngestError).code ?? String(e) };
  }
  const tables: Record<string, string> = {};
  for (const x of b.tables()) if (x.rows > 0) tables[x.prefix] = x.csv;
  return { tables, samples: b.samples, rows: b.rows, dropped: b.droppedSeries };
}

const nameChars = fc.constantFrom('a', 'b', 'Z', '_', 'job', 'le', 'adxmon_x', 'instance', 'Pod', 'pod', '__name__', 'namespace');
const valueText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', 'a"b', 'x,y', ' lead', '<&>', 'l1\nl2', 'tab\there', '\u2028\u2029', 'ünï😀', '\\', '\u0001', 'adx'),
);
const label = fc.tuple(nameChars, valueText);
const series = fc.record({
  labels: fc.tuple(fc.constantFrom('up', 'http_requests_total', 'node:cpu:rate5m', 'go_gc', '___', 'a_b_c'), fc.array(label, { maxLength: 6 }), fc.option(fc.constantFrom('DbOne', 'x-y', '--'), { nil: undefined }))
    .map(([name, rest, db]) => [['__name__', name] as [string, string], ...rest, ...(db === undefined ? [] : [['adxmon_database', db] as [string, string]])]),
  samples: fc.array(
    fc.record({
      value: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e21, -3.5e25, 0.1, NaN, Infinity, -Infinity)),
      timestampMs: fc.oneof(fc.integer({ min: -2e12, max: 4e12 }), fc.constant(1714564800120)),
    }),
    { maxLength: 3 },
  ),
});
const argSets = [
  [],
  ['--lift-labels', 'namespace,Pod=PodName'],
  ['--add-labels', 'cluster=c1,job=override', '--drop-labels', 'http_.*=inst.*', '--drop-metrics', 'go_.*'],
  ['--max-labels-per-series', '4', '--max-label-bytes', '8'],
];

t.test('the byte writer produces exactly what the reference builder produces', async (t) => {
  for (const args of argSets) {
    for (const v of [1, 2] as const) {
      fc.assert(
        fc.property(fc.array(series, { minLength: 1, maxLength: 5 }), (s) => {
          const b = JSON.stringify(viaReference(s, args, v));
          for (const [cache, passes] of [[0, 1], [1 << 20, 2], [4096, 3]] as const) {
            const a = JSON.stringify(viaWriter(s, args, v, cache, passes));
            if (a !== b) throw new Error(`differ (cache ${cache}, pass ${passes}) for ${JSON.stringify(s)}:\n${a}\n${b}`);
          }
        }),
        { numRuns: 300 },
      );
    }
  }
  t.pass(`${argSets.length * 2 * 300} random requests agree, with and without the series cache`);
});

t.test('invalid UTF-8 in a label is refused', async (t) => {
  const w = new MetricsCsvWriter(transformConfig(), hasher);
  const buf = Buffer.from('__name__upjob\xff\xfe', 'latin1');
  w.beginSeries();
  w.label(buf, 0, 8, 8, 10);
  w.label(buf, 10, 13, 13, 15);
  t.throws(() => w.sample(1, 0), { code: 'invalid_utf8' });
});

t.test('rows for the golden example', async (t) => {
  const s: EncodeSeries[] = [{ labels: [['__name__', 'http_requests_total'], ['code', '200'], ['job', 'api']], samples: [{ value: 1, timestampMs: 1714564800123 }] }];
  t.same(viaWriter(s, [], 1), { tables: { Metrics_HttpRequestsTotal: '2024-05-01T12:00:00.123Z,7975210535067745600,"{""code"":""200"",""job"":""api""}",1.000000000\n' }, samples: 1, rows: 1, dropped: 0 });
});

t.test('the series cache hits on repeated series and stays bounded', async (t) => {
  const w = new MetricsCsvWriter(transformConfig(), hasher, 8192);
  const series = Array.from({ length: 50 }, (_, i): EncodeSeries => ({ labels: [['__name__', 'm'], ['i', String(i)]], samples: [{ value: i, timestampMs: 1714564800000 }] }));
  const body = encodeWriteRequestV1(series);
  decodeWriteRequestV1(body, w);
  t.equal(w.cache!.misses, 50);
  const first = [...w.tables()].map((x) => x.out.buf.subarray(x.start, x.out.len).toString());
  w.reset();
  decodeWriteRequestV1(body, w);
  t.equal(w.cache!.hits, 50);
  t.same([...w.tables()].map((x) => x.out.buf.subarray(x.start, x.out.len).toString()), first);
  const many = Array.from({ length: 500 }, (_, i): EncodeSeries => ({ labels: [['__name__', 'm'], ['i', String(i)], ['pad', 'x'.repeat(40)]], samples: [{ value: i, timestampMs: 1714564800000 }] }));
  w.reset();
  decodeWriteRequestV1(encodeWriteRequestV1(many), w);
  t.ok(w.cache!.entries < 500, `the cache stays bounded (${w.cache!.entries} entries after 500 series)`);
  t.equal(w.rows, 500);
});

t.test('fast value formatting equals toFixed(9) on its whole range', async (t) => {
  const { ByteOut, writeValue } = await import('../../src/transform/csv-bytes.js');
  const { formatValue } = await import('../../src/transform/csv-format.js');
  const out = new ByteOut(64);
  const check = (v: number) => {
    out.len = 0;
    writeValue(out, v);
    return out.buf.subarray(0, out.len).toString() === formatValue(v);
  };
  fc.assert(fc.property(fc.oneof(fc.double(), fc.integer().map((i) => i / 8), fc.integer({ min: -(2 ** 51), max: 2 ** 51 }).map((k) => k / 1e9), fc.double({ min: -4.5e6, max: 4.5e6 })), check), { numRuns: 20000 });
  for (const v of [2 ** 51 / 1e9, -(2 ** 51) / 1e9, 4503599.627370496, 0.0009765625, 123456.125, -0.5, 1e-9, 5e-10]) t.ok(check(v), String(v));
});

t.test('native histograms agree with the reference, also when the series is cached', async (t) => {
  const h = {
    isFloat: false, count: 5, sum: 12.5, schema: 0, zeroThreshold: 0.001, zeroCount: 1,
    negativeSpans: [], negativeBuckets: [], positiveSpans: [{ offset: 1, length: 2 }], positiveBuckets: [2, 0],
    customValues: [], resetHint: 0, timestampMs: 1714564800000,
  };
  const series: EncodeSeries[] = [
    { labels: [['__name__', 'rpc_seconds'], ['job', 'j'], ['Zone', 'z']], histograms: [h], samples: [{ value: 1, timestampMs: 1714564800000 }] },
    { labels: [['__name__', 'up'], ['job', 'j']], samples: [{ value: 1, timestampMs: 1714564800000 }] },
  ];
  for (const args of [[], ['--add-labels', 'cluster=c', '--lift-labels', 'job']]) {
    const want = viaReference(series, args, 1);
    t.match(want, { rows: 8 }); // rpc_seconds: 1 sample, _count, _sum, 4 buckets; up: 1
    t.same(viaWriter(series, args, 1, 1 << 20, 1), want, `first pass ${args.join(' ')}`);
    t.same(viaWriter(series, args, 1, 1 << 20, 2), want, `cached pass ${args.join(' ')}`);
  }
});
