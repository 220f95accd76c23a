import fc from 'fast-check';
import t from 'tap';
import type { IngestError } from '../../src/errors.js';
import { encodeWriteRequestV1, encodeWriteRequestV2, type EncodeSeries } from '../../src/prom/remote-write-encode.js';
import { decodeWriteRequestV1 } from '../../src/prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { formatValue } from '../../src/transform/csv-format.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { checkNativeApi, loadNativeHotPath, NATIVE_API_VERSION, type NativeHotPath } from '../../src/transform/native-hot-path.js';
import { crc32 } from '../../src/wal/format.js';
import { decompressBlock } from '../../src/wal/s2.js';
import { hasher, transformConfig } from '../helpers/rows.js';
import { histogram, ld, mutate, mutation, RecordingSink, request as anyRequest } from '../fixtures/prom/helpers.js';

type Outcome = { tables: Record<string, string>; samples: number; rows: number; dropped: number; exemplars: number } | { error: string };

/**
 * Decodes `body` `passes` times into one writer; returns the last outcome, how often C took the
 * request, and how many new series C prepared itself.
 */
function via(body: Uint8Array, args: string[], cacheBytes: number, passes: number, native: NativeHotPath | undefined, protocol: 1 | 2 = 1): { outcome: Outcome; nativeTook: number; preparedInC: number } {
  const w = new MetricsCsvWriter(transformConfig(args), hasher, cacheBytes, undefined, native);
  let nativeTook = 0;
  let outcome: Outcome | undefined;
  for (let i = 0; i < passes; i++) {
    w.reset();
    try {
      if (protocol === 1 ? w.encodeV1(body) : w.encodeV2(body)) nativeTook++;
      else if (protocol === 1) decodeWriteRequestV1(body, w);
      else decodeWriteRequestV2(body, w);
    } catch (e) {
      outcome = { error: (e as IngestError).code ?? String(e) };
      continue;
    }
    const tables: Record<string, string> = {};
    for (const x of w.tables()) tables[x.prefix] = x.out.buf.subarray(x.start, x.out.len).toString('utf8');
    outcome = { tables, samples: w.samples, rows: w.rows, dropped: w.droppedSeries, exemplars: w.exemplars };
  }
  return { outcome: outcome!, nativeTook, preparedInC: w.cacheStats().preparedInC };
}

const nameChars = fc.constantFrom('a', 'b', 'Z', '_', 'job', 'le', 'adxmon_x', 'instance', 'Pod', 'pod', '__name__', 'namespace');
const valueText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', 'a"b', 'x,y', ' lead', '<&>', 'l1\nl2', 'tab\there', '\u2028\u2029', 'ünï😀', '\\', '\u0001', 'adx'),
);
/** Values of every kind: exact ties at the 10th decimal, huge, tiny, subnormal, NaN, ±Inf, -0. */
const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((k) => k / 1024),
  fc.double({ min: -1e7, max: 1e7 }),
  fc.constantFrom(0, -0, 2 ** -10, -(2 ** -10), 0.9999999995, 1e21, -3.5e25, 9.99e20, 5e-324, 0.1, NaN, Infinity, -Infinity, 2 ** 53 + 2),
);
/** Mostly inside the native range (1970–9999), some outside (the TypeScript path takes those). */
const timestamp = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 253402300799999 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1714564800120, 1714564800000, 1714564800007, 253402300799999) },
  { weight: 1, arbitrary: fc.integer({ min: -2e12, max: 4e12 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 253402300800000, 8.64e15, 8.64e15 + 1) },
);
const inRangeValue = value.filter((v) => !(Math.abs(v) >= 1e21));
const inRangeTimestamp = fc.oneof(fc.integer({ min: 0, max: 253402300799999 }), fc.constantFrom(1714564800120, 1714564800000, 1714564800007));
const seriesOf = (value: fc.Arbitrary<number>, timestamp: fc.Arbitrary<number>) => fc.record({
  labels: fc
    .tuple(
      fc.constantFrom('up', 'http_requests_total', 'node:cpu:rate5m', 'go_gc', '___', 'a_b_c'),
      fc.array(fc.tuple(nameChars, valueText), { maxLength: 6 }),
      fc.option(fc.constantFrom('DbOne', 'x-y', '--'), { nil: undefined }),
    )
    .map(([name, rest, db]) => [['__name__', name] as [string, string], ...rest, ...(db === undefined ? [] : [['adxmon_database', db] as [string, string]])]),
  samples: fc.array(fc.record({ value, timestampMs: timestamp }), { maxLength: 3 }),
  exemplars: fc.nat(2),
});
/** Anything, including what makes the native path fall back. */
const anySeries = seriesOf(value, timestamp);
/** Within the native subset, with valid labels: C takes requests made only of these. */
const nativeSeries = fc.record({
  labels: fc
    .tuple(
      fc.constantFrom('up', 'http_requests_total', 'node:cpu:rate5m', 'go_gc', 'a_b_c'),
      fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'job', 'le', 'adxmon_x', 'instance', 'Pod', 'pod', 'namespace'), fc.string({ minLength: 1, maxLength: 8 })), { maxLength: 4, selector: ([n]) => n }),
    )
    .map(([name, rest]) => [['__name__', name] as [string, string], ...rest]),
  samples: fc.array(fc.record({ value: inRangeValue, timestampMs: inRangeTimestamp }), { maxLength: 3 }),
  exemplars: fc.nat(2),
});

/** CSV text as rows: newlines inside quoted fields (label values may hold them) stay in their row. */
function csvRows(csv: string): string[] {
  const rows: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    if (csv[i] === '"') quoted = !quoted;
    else if (csv[i] === '\n' && !quoted) {
      rows.push(csv.slice(start, i));
      start = i + 1;
    }
  }
  if (start < csv.length) rows.push(csv.slice(start));
  return rows;
}

const argSets = [
  [],
  ['--lift-labels', 'namespace,Pod=PodName'],
  ['--add-labels', 'cluster=c1,job=override', '--drop-labels', 'http_.*=inst.*', '--drop-metrics', 'go_.*'],
  ['--max-labels-per-series', '4', '--max-label-bytes', '8'],
  ['--add-labels', 'cluster=c1,job=override,Pod=fixed,adxmon_database=Added', '--lift-labels', 'pod', '--max-labels-per-series', '6'],
];

function run(native: NativeHotPath): void {
  t.test('the native hot path writes exactly what the TypeScript writer writes', async (t) => {
    let tookTotal = 0;
    let runs = 0;
    const preparedInC: number[] = [];
    for (const args of argSets) {
      let prepared = 0;
      fc.assert(
        fc.property(fc.array(fc.oneof(anySeries, nativeSeries, nativeSeries), { minLength: 1, maxLength: 6 }), (s) => {
          const body = encodeWriteRequestV1(s);
          const expected = JSON.stringify(via(body, args, 0, 1, undefined).outcome);
          // Cache sizes: none to speak of (4 KiB: clears and saturation), roomy (1 MiB); passes
          // after the first hit the cache.
          for (const [cache, passes] of [[0, 1], [1 << 20, 3], [4096, 3]] as const) {
            const { outcome, nativeTook, preparedInC } = via(body, args, cache, passes, native);
            prepared += preparedInC;
            const got = JSON.stringify(outcome);
            if (got !== expected) throw new Error(`differ (cache ${cache}, passes ${passes}) for ${JSON.stringify(s)}:\n${got}\n${expected}`);
            if (cache === 0 && nativeTook > 0) throw new Error('--series-cache-size 0 must turn the native path off');
            tookTotal += nativeTook;
            if (cache > 0) runs += passes;
          }
        }),
        { numRuns: 400 },
      );
      preparedInC.push(prepared);
    }
    t.ok(tookTotal > runs / 4, `C took ${tookTotal} of ${runs} decodes with a cache (the rest fell back to TypeScript), none without; all byte-identical`);
    // argSets[2] drops and adds labels: those rules live only in TypeScript.
    t.ok(preparedInC[0]! > 50 && preparedInC[1]! > 50 && preparedInC[3]! > 0 && preparedInC[4]! > 5, `C prepared new series itself under the default, lifted, limit and add-labels rules (${preparedInC.join(', ')})`);
    t.equal(preparedInC[2], 0, 'and never under rules that drop labels or metrics');
  });

  t.test('kept rows (keepRowsInNative): many requests framed at once hold exactly their rows, and unfinished requests take theirs back', async (t) => {
    let framesSeen = 0;
    let keptRequests = 0;
    for (const args of [argSets[0]!, argSets[1]!, argSets[3]!]) {
      fc.assert(
        fc.property(fc.array(fc.array(fc.oneof(anySeries, nativeSeries, nativeSeries), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }), fc.constantFrom(4096, 1 << 20), (requests, cache) => {
          const reference = new MetricsCsvWriter(transformConfig(args), hasher, 0);
          const kept = new MetricsCsvWriter(transformConfig(args), hasher, cache, undefined, native);
          if (!kept.keepRowsInNative()) throw new Error('keepRowsInNative refused with the addon loaded');
          const want = new Map<string, string[]>();
          const got = new Map<string, string[]>();
          const add = (to: Map<string, string[]>, prefix: string, csv: string) => {
            const lines = csvRows(csv);
            to.set(prefix, [...(to.get(prefix) ?? []), ...lines]);
          };
          for (const series of requests) {
            const body = encodeWriteRequestV1(series);
            reference.reset();
            let referenceFailed = false;
            try {
              decodeWriteRequestV1(body, reference);
            } catch {
              referenceFailed = true;
            }
            kept.reset();
            let keptFailed = false;
            try {
              if (kept.encodeV1(body)) keptRequests++;
              else decodeWriteRequestV1(body, kept);
            } catch {
              keptFailed = true;
            }
            if (keptFailed !== referenceFailed) throw new Error(`one failed, the other did not: ${JSON.stringify(series)}`);
            if (referenceFailed) continue;
            for (const x of reference.tables()) add(want, x.prefix, x.out.buf.subarray(x.start, x.out.len).toString('utf8'));
            // Rows of requests the TypeScript path took still come out per request.
            for (const x of kept.tables()) add(got, x.prefix, x.out.buf.subarray(x.start, x.out.len).toString('utf8'));
          }
          const info = new Int32Array(4 * Math.max(1, kept.tableIds));
          const need = kept.heldBytes > 0 ? -kept.frameHeld(new Uint8Array(0), info) : 0;
          const out = new Uint8Array(need);
          const n = kept.frameHeld(out, info);
          for (let i = 0; i < n; i++) {
            const at = info[4 * i + 1]!;
            const frame = Buffer.from(out.buffer, at, info[4 * i + 2]!);
            if (frame.readUInt32BE(0) !== frame.length - 8 || frame.readUInt32BE(4) !== crc32(frame.subarray(8))) throw new Error("frame header: payload length, the payload's CRC-32");
            const payload = decompressBlock(frame.subarray(8));
            if (payload.readUInt16BE(0) !== 0xaaaa || payload[2] !== 1 || payload[3] !== 1) throw new Error('block header');
            const csv = payload.subarray(8).toString('utf8');
            if (!csv.startsWith(kept.schema.headerLine)) throw new Error('CSV header line first');
            const rows = csv.slice(kept.schema.headerLine.length);
            const count = csvRows(rows).length;
            if (payload.readUInt32BE(4) !== count || info[4 * i + 3] !== count) throw new Error(`row count ${payload.readUInt32BE(4)} / ${info[4 * i + 3]} for ${count} rows`);
            add(got, kept.prefixOf(info[4 * i]!), rows);
            framesSeen++;
          }
          if (kept.heldBytes !== 0 || kept.frameHeld(new Uint8Array(1 << 16), info) !== 0) throw new Error('framing lets the rows go');
          const sorted = (m: Map<string, string[]>) => JSON.stringify([...m].filter(([, l]) => l.length > 0).map(([k, l]) => [k, [...l].sort()]).sort());
          if (sorted(got) !== sorted(want)) throw new Error(`differ for ${JSON.stringify(requests)}:\n${sorted(got)}\n${sorted(want)}`);
        }),
        { numRuns: 150 },
      );
    }
    t.ok(keptRequests > 100 && framesSeen > 100, `C kept ${keptRequests} requests' rows, framed as ${framesSeen} blocks; every row as the TypeScript writer writes it, none of a refused request`);
  });

  t.test('kept rows: a request that throws or falls back takes back what C wrote of it', async (t) => {
    const w = new MetricsCsvWriter(transformConfig(['--max-labels-per-series', '2']), hasher, 1 << 20, undefined, native);
    t.equal(w.keepRowsInNative(), true);
    const up = (job: string, value = 1): EncodeSeries => ({ labels: [['__name__', 'up'], ['job', job]], samples: [{ value, timestampMs: 1714564800000 }] });
    const other = (job: string): EncodeSeries => ({ labels: [['__name__', 'other'], ['job', job]], samples: [{ value: 2, timestampMs: 1714564800000 }] });
    const bad: EncodeSeries = { labels: [['__name__', 'up'], ['job', 'a'], ['x', 'y']], samples: [{ value: 1, timestampMs: 1714564800000 }] };
    t.equal(w.encodeV1(encodeWriteRequestV1([up('a'), up('b')])), true, 'first request kept');
    const held = w.heldBytes;
    t.ok(held > 0, `held ${held} bytes`);
    w.reset();
    t.throws(() => w.encodeV1(encodeWriteRequestV1([up('a', 5), other('c'), bad])), { code: 'too_many_labels' }, 'a bad series refuses the request');
    t.equal(w.heldBytes, held, 'what it wrote before the bad series is taken back');
    w.reset();
    const old: EncodeSeries = { labels: [['__name__', 'other'], ['job', 'd']], samples: [{ value: 1, timestampMs: -1000 }] };
    t.equal(w.encodeV1(encodeWriteRequestV1([up('b', 7), other('c'), old])), false, 'a timestamp before 1970 falls back');
    t.equal(w.heldBytes, held, 'and takes back its rows too');
    const info = new Int32Array(4 * w.tableIds);
    const need = -w.frameHeld(new Uint8Array(8), info);
    t.ok(need > 8, `too small an out: −${need}, nothing framed`);
    t.equal(w.heldBytes, held, 'still held');
    const out = new Uint8Array(need);
    t.equal(w.frameHeld(out, info), 1, 'one table held');
    const payload = decompressBlock(out.subarray(8, info[2]!));
    t.equal(payload.readUInt32BE(4), 2);
    t.match(payload.subarray(8).toString(), /^Timestamp:datetime,SeriesId:long,Labels:dynamic,Value:real\n2024-05-01T12:00:00Z,-?\d+,"{""job"":""a""}",1\.000000000\n2024-05-01T12:00:00Z,-?\d+,"{""job"":""b""}",1\.000000000\n$/);
    t.equal(w.frameHeld(out, info), 0, 'then nothing is held');
    t.throws(() => native.frameTables(native.create(4096), out, info), /without keepRows/);
    const busy = native.create(4096);
    native.keepRows(busy, new Uint8Array(8));
    t.throws(() => native.keepRows(busy, new Uint8Array(4)), TypeError, 'head must hold the block header');
  });

  t.test('values format as toFixed(9), exactly, over every kind of double', async (t) => {
    const out = Buffer.alloc(64);
    const f = new Float64Array(1);
    const bits = new Uint32Array(f.buffer);
    let checked = 0;
    const check = (v: number) => {
      const n = native.formatValue(v, out);
      if (n < 0) {
        if (Math.abs(v) < 1e21) throw new Error(`no native text for ${v}`);
        return;
      }
      const got = out.toString('latin1', 0, n);
      if (got !== formatValue(v)) throw new Error(`${v}: native ${got}, TypeScript ${formatValue(v)}`);
      checked++;
    };
    for (const v of [0, -0, 2 ** -10, -(2 ** -10), 0.0009765625, 1.5e-9, 0.9999999995, 2 ** 52 + 0.5, 1e21 - 65536, 5e-324, NaN, -NaN, Infinity, -Infinity]) check(v);
    for (let i = 0; i < 200_000; i++) {
      bits[0] = (Math.random() * 2 ** 32) >>> 0;
      bits[1] = (Math.random() * 2 ** 32) >>> 0;
      check(f[0]!); // any bit pattern
      check((Math.random() - 0.5) * 2 ** (Math.floor(Math.random() * 100) - 50));
      check(Math.floor(Math.random() * 2 ** 40) * 2 ** -Math.floor(Math.random() * 45)); // exact binary fractions: ties
    }
    t.ok(checked > 500_000, `${checked} values agree`);
  });

  t.test('requests outside the native subset fall back and still come out right', async (t) => {
    const cfg = transformConfig();
    const w = new MetricsCsvWriter(cfg, hasher, 1 << 20, undefined, native);
    const plain: EncodeSeries[] = [{ labels: [['__name__', 'up'], ['job', 'a']], samples: [{ value: 1, timestampMs: 1714564800000 }] }];
    t.equal(w.encodeV1(encodeWriteRequestV1(plain)), true, 'a plain request is taken');
    t.equal(w.samples, 1);
    w.reset();
    const old: EncodeSeries[] = [{ labels: [['__name__', 'up'], ['job', 'a']], samples: [{ value: 1, timestampMs: -1000 }] }];
    t.equal(w.encodeV1(encodeWriteRequestV1(old)), false, 'a timestamp before 1970 falls back');
    t.equal(w.samples, 0, 'and leaves nothing behind');
    t.equal([...w.tables()].length, 0);
    const h = {
      isFloat: false, count: 5, sum: 12.5, schema: 0, zeroThreshold: 0.001, zeroCount: 1,
      negativeSpans: [], negativeBuckets: [], positiveSpans: [{ offset: 1, length: 2 }], positiveBuckets: [2, 0],
      customValues: [], resetHint: 0, timestampMs: 1714564800000,
    };
    const hist: EncodeSeries[] = [...plain, { labels: [['__name__', 'h']], histograms: [h as never] }];
    w.reset();
    t.equal(w.encodeV1(encodeWriteRequestV1(hist)), false, 'native histograms fall back');
    w.reset();
    t.equal(w.encodeV1(Buffer.from([0x0a, 0x05, 0x0a])), false, 'truncated protobuf falls back (the TypeScript decoder words the error)');
  });

  t.test('new series are prepared in C once their table is known; the rest by TypeScript', async (t) => {
    const series = (metric: string, n: number, extra: [string, string][] = []): EncodeSeries[] =>
      Array.from({ length: n }, (_, i) => ({ labels: [['__name__', metric], ['pod', `p-${i}`], ['job', 'api'], ...extra], samples: [{ value: i, timestampMs: 1714564800000 + i }] }));
    const check = (args: string[], body: EncodeSeries[], want: number, why: string) => {
      const bytes = encodeWriteRequestV1(body);
      const got = via(bytes, args, 1 << 20, 1, native);
      t.same(got.outcome, via(bytes, args, 0, 1, undefined).outcome, `${why}: the same bytes as TypeScript`);
      t.equal(got.preparedInC, want, `${why}: ${want} of ${body.length} prepared in C`);
    };
    check([], series('up', 500), 499, 'one metric: the first series names the table');
    check([], [...series('up', 100), ...series('up', 100, [['adxmon_database', 'Other']]), ...series('down', 100)], 297, 'three tables: one series each in TypeScript');
    check([], [...series('up', 10), ...series('up', 10, [['name', 'ünï']])], 9, 'non-ASCII labels: TypeScript');
    check([], [...series('up', 10), ...series('up', 10, [['pod', 'again']])], 9, 'a label twice: TypeScript (then its error)');
    check(['--max-labels-per-series', '3'], series('up', 10, [['x', 'y']]), 0, 'over the label limit: TypeScript (then its error)');
    check(['--lift-labels', 'Pod,job'], series('up', 50, [['esc', 'q"\\<&>\n\u0001']]), 49, 'lifted labels and escapes');
    check(['--add-labels', 'cluster=c1,job=web'], series('up', 50), 49, 'labels added or replaced by --add-labels');
    check(['--add-labels', 'x=1,y=2', '--max-labels-per-series', '4'], series('up', 5), 0, 'added labels over the limit: TypeScript (then its error)');
    check(['--drop-labels', 'up=pod'], series('up', 50), 0, 'rules that drop labels: TypeScript');
  });

  t.test('C prepares new series exactly as TypeScript does (random ASCII labels, lifted or not)', async (t) => {
    const ascii = fc.string({ unit: fc.constantFrom('a', 'Z', 'p', 'P', 'o', 'd', '_', ' ', '\t', '"', '\\', ',', '<', '&', '\n', '\u0001', '\u007f', '1'), minLength: 1, maxLength: 6 });
    const names = fc.oneof(ascii, fc.constantFrom('pod', 'Pod', 'POD', 'namespace', 'adxmon_x', 'adxmon_database', 'job'));
    const labelSets = fc.array(fc.uniqueArray(fc.tuple(names, ascii), { maxLength: 6, selector: ([n]) => n }), { minLength: 1, maxLength: 8 });
    let prepared = 0;
    let series = 0;
    for (const args of [[], ['--lift-labels', 'namespace,Pod=PodName'], ['--add-labels', 'pod=x,zone=z1', '--lift-labels', 'zone']]) {
      fc.assert(
        fc.property(labelSets, (sets) => {
          // The first series names the table; the rest are new series of the same metric.
          const body = encodeWriteRequestV1([
            { labels: [['__name__', 'up']], samples: [{ value: 1, timestampMs: 1714564800000 }] },
            ...sets.map((labels, i): EncodeSeries => ({ labels: [['__name__', 'up'], ...labels], samples: [{ value: i, timestampMs: 1714564800000 }] })),
          ]);
          const expected = JSON.stringify(via(body, args, 0, 1, undefined).outcome);
          const got = via(body, args, 1 << 20, 1, native);
          if (JSON.stringify(got.outcome) !== expected) throw new Error(`differ for ${JSON.stringify(sets)}:\n${JSON.stringify(got.outcome)}\n${expected}`);
          prepared += got.preparedInC;
          series += sets.length;
        }),
        { numRuns: 500 },
      );
    }
    t.ok(prepared > series / 4, `${prepared} of ${series} new series prepared in C (the others: adxmon_database, duplicates, or an error), all byte-identical`);
  });

  t.test('mutated requests: C and TypeScript still agree, byte for byte or error for error', async (t) => {
    // Valid requests with a few bytes overwritten: broken lengths, tags and wire types, labels
    // cut or merged, odd bytes in names and values. C must either take the request and write
    // what TypeScript writes, or fall back / hand the series to TypeScript, never crash.
    const mutated = fc.tuple(
      fc.array(nativeSeries, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
    );
    let taken = 0;
    let runs = 0;
    for (const args of [[], ['--add-labels', 'job=x,zone=z1', '--lift-labels', 'pod', '--max-label-bytes', '6']]) {
      fc.assert(
        fc.property(mutated, ([series, edits]) => {
          const body = Buffer.from(encodeWriteRequestV1(series));
          for (const [at, b] of edits) body[at % body.length] = b;
          const expected = JSON.stringify(via(body, args, 0, 1, undefined).outcome);
          const got = via(body, args, 1 << 20, 2, native);
          if (JSON.stringify(got.outcome) !== expected) throw new Error(`differ (${args.join(' ')}) for ${body.toString('hex')}:\n${JSON.stringify(got.outcome)}\n${expected}`);
          taken += got.nativeTook;
          runs++;
        }),
        { numRuns: 3000 },
      );
    }
    t.ok(taken > 0, `C took ${taken} of ${2 * runs} decodes of mutated requests; every outcome matched TypeScript`);
  });

  t.test('remote write 2.0 through C comes out exactly as the TypeScript 2.0 decoder writes it', async (t) => {
    let took = 0;
    let runs = 0;
    let prepared = 0;
    for (const args of argSets) {
      fc.assert(
        fc.property(fc.array(fc.oneof(anySeries, nativeSeries, nativeSeries), { minLength: 1, maxLength: 6 }), (s) => {
          const body = encodeWriteRequestV2(s);
          const expected = JSON.stringify(via(body, args, 0, 1, undefined, 2).outcome);
          for (const [cache, passes] of [[1 << 20, 3], [4096, 2]] as const) {
            const got = via(body, args, cache, passes, native, 2);
            if (JSON.stringify(got.outcome) !== expected) throw new Error(`differ (${args.join(' ')}; cache ${cache}) for ${JSON.stringify(s)}:\n${JSON.stringify(got.outcome)}\n${expected}`);
            took += got.nativeTook;
            prepared += got.preparedInC;
            runs += passes;
          }
        }),
        { numRuns: 250 },
      );
    }
    t.ok(took > runs / 4 && prepared > 100, `C took ${took} of ${runs} 2.0 decodes and prepared ${prepared} new series; all byte-identical`);
  });

  t.test('the 1.0 form of a 2.0 request has the same series, labels, samples and exemplars', async (t) => {
    const ctx = native.create(4096);
    const calls = (decode: (sink: RecordingSink) => void) => {
      const sink = new RecordingSink();
      try {
        decode(sink);
      } catch (e) {
        return [['error', (e as IngestError).code]];
      }
      return sink.calls;
    };
    let rewritten = 0;
    let declined = 0;
    fc.assert(
      fc.property(fc.oneof(anyRequest, fc.array(anySeries, { maxLength: 5 })), (series) => {
        const body = encodeWriteRequestV2(series);
        const out = Buffer.alloc(8 * body.length + 64);
        const n = native.transcodeV2(ctx, body, out);
        const histograms = series.some((s) => (s.histograms?.length ?? 0) > 0);
        const unlabelled = series.some((s) => s.labels.length === 0);
        if (n < 0) {
          if (!histograms && !unlabelled) throw new Error(`declined a plain request: ${JSON.stringify(series)}`);
          declined++;
          return;
        }
        if (histograms) throw new Error('native histograms must stay with TypeScript');
        const want = calls((sink) => decodeWriteRequestV2(body, sink));
        const got = calls((sink) => decodeWriteRequestV1(out.subarray(0, n), sink));
        t.strictSame(got, want);
        rewritten++;
      }),
      { numRuns: 400 },
    );
    t.ok(rewritten > 100 && declined > 10, `${rewritten} rewritten, ${declined} left to TypeScript (histograms, no labels)`);
  });

  t.test('2.0 as the wire allows it: symbols after series, unpacked references, metadata', async (t) => {
    const ctx = native.create(4096);
    const sym = (s: string) => ld('22', Buffer.from(s).toString('hex'));
    const sample = ld('12', '09', '000000000000f03f', '10', '80bc9aa0f331'); // 1.0 at 1714564800000
    // One series: refs 1,2 packed, then 3,4 one by one, metadata (5) and created_timestamp (6)
    // between them, an exemplar (4) and two samples; the symbols come last.
    const series = ld('2a', ld('0a', '0102'), '2a00', sample, '0803', ld('22', '09', '0000000000000000'), '0804', '3001', sample);
    const body = Buffer.from(series + ['', '__name__', 'up', 'job', 'api'].map(sym).join(''), 'hex');
    const out = Buffer.alloc(1024);
    const n = native.transcodeV2(ctx, body, out);
    t.ok(n > 0, 'rewritten');
    const v1 = new RecordingSink();
    decodeWriteRequestV1(out.subarray(0, n), v1);
    const v2 = new RecordingSink();
    decodeWriteRequestV2(body, v2);
    t.strictSame(v1.calls, v2.calls);
    t.strictSame(v1.calls, [['begin'], ['label', '__name__', 'up'], ['label', 'job', 'api'], ['sample', 1, 1714564800000], ['exemplar'], ['sample', 1, 1714564800000], ['end']]);
    t.equal(native.transcodeV2(ctx, body, Buffer.alloc(n - 1)), n, 'too small a buffer: the length it needs');
    const w = new MetricsCsvWriter(transformConfig(), hasher, 1 << 20, undefined, native);
    t.equal(w.encodeV2(body), true, 'the writer takes it natively');
    t.equal(w.samples, 2);
    t.equal(w.exemplars, 1);
  });

  t.test('2.0 requests the TypeScript decoder must judge are left to it', async (t) => {
    const ctx = native.create(4096);
    const sym = (s: string) => ld('22', Buffer.from(s).toString('hex'));
    const symbols = ['', '__name__', 'up'].map(sym).join('');
    const sample = ld('12', '09', '000000000000f03f', '10', '01');
    const w = new MetricsCsvWriter(transformConfig(), hasher, 1 << 20, undefined, native);
    const cases: [string, string, string | undefined][] = [
      ['symbols[0] not empty', sym('x') + ld('2a', ld('0a', '0000'), sample), 'invalid_request'],
      ['a reference out of range', symbols + ld('2a', ld('0a', '0103'), sample), 'invalid_request'],
      ['an odd number of references', symbols + ld('2a', ld('0a', '010201'), sample), 'invalid_request'],
      ['a series without labels', symbols + ld('2a', sample), 'invalid_labels'],
      ['a truncated series', symbols + '2a05' + ld('0a', '01'), 'bad_protobuf'],
      ['a group wire type', symbols + ld('2a', ld('0a', '0102'), '0b', sample), 'bad_protobuf'],
      ['native histograms', symbols + ld('2a', ld('0a', '0102'), ld('1a', '0801')), undefined],
    ];
    for (const [why, hexBody, code] of cases) {
      const body = Buffer.from(hexBody.replace(/ /g, ''), 'hex');
      t.equal(native.transcodeV2(ctx, body, Buffer.alloc(4096)), -1, `${why}: left to TypeScript`);
      w.reset();
      t.equal(w.encodeV2(body), false, `${why}: the writer decodes it in TypeScript`);
      let error: string | undefined;
      try {
        decodeWriteRequestV2(body, w);
      } catch (e) {
        error = (e as IngestError).code;
      }
      if (code !== undefined) t.equal(error, code, `${why}: TypeScript's error is ${code}`);
    }
    // One 64 KiB symbol referenced by 1 000 series: 64 MB as 1.0, refused rather than built.
    const big = ['', '__name__', 'x'.repeat(65536)].map(sym).join('') + ld('2a', ld('0a', '0102'), sample).repeat(1000);
    t.equal(native.transcodeV2(ctx, Buffer.from(big, 'hex'), Buffer.alloc(0)), -1, 'a request that grows past 16x its size as 1.0 is left to TypeScript');
  });

  t.test('mutated 2.0 requests: C and TypeScript still agree, byte for byte or error for error', async (t) => {
    let taken = 0;
    let runs = 0;
    const histogramSeries = fc.record({ labels: fc.constant([['__name__', 'h']] as [string, string][]), histograms: fc.array(histogram, { minLength: 1, maxLength: 1 }) });
    const mutated = fc.tuple(fc.array(fc.oneof(nativeSeries, nativeSeries, nativeSeries, histogramSeries), { minLength: 1, maxLength: 4 }), fc.array(mutation, { minLength: 1, maxLength: 3 }));
    for (const args of [[], ['--add-labels', 'job=x,zone=z1', '--lift-labels', 'pod', '--max-label-bytes', '6']]) {
      fc.assert(
        fc.property(mutated, ([series, edits]) => {
          let body = encodeWriteRequestV2(series);
          for (const m of edits) body = mutate(body, m);
          const expected = JSON.stringify(via(body, args, 0, 1, undefined, 2).outcome);
          const got = via(body, args, 1 << 20, 2, native, 2);
          if (JSON.stringify(got.outcome) !== expected) throw new Error(`differ (${args.join(' ')}) for ${Buffer.from(body).toString('hex')}:\n${JSON.stringify(got.outcome)}\n${expected}`);
          taken += got.nativeTook;
          runs++;
        }),
        { numRuns: 2000 },
      );
    }
    t.ok(taken > 0, `C took ${taken} of ${2 * runs} decodes of mutated 2.0 requests; every outcome matched TypeScript`);
  });

  t.test('create refuses malformed rules', async (t) => {
    const rules = { maxLabelBytes: 10, maxLabelsPerSeries: 10, lifted: [Buffer.from('pod')], addNames: [Buffer.from('a')], addValues: [Buffer.from('1')] };
    t.throws(() => native.create(4096, { ...rules, maxLabelBytes: 0 }), TypeError);
    t.throws(() => native.create(4096, { ...rules, lifted: 'pod' as never }), TypeError);
    t.throws(() => native.create(4096, { ...rules, lifted: ['pod' as never] }), TypeError);
    t.throws(() => native.create(4096, { ...rules, addValues: [] }), TypeError, 'names and values pair up');
    t.throws(() => native.create(4096, { maxLabelBytes: 10, maxLabelsPerSeries: 10, lifted: [] } as never), TypeError, 'addNames is required');
    t.ok(native.create(4096, rules), 'well-formed rules are taken');
  });

  t.test('wrong arguments are TypeErrors, not crashes', async (t) => {
    const ctx = native.create(4096);
    const io = new Int32Array(2);
    const counters = new Float64Array(5);
    t.throws(() => native.encodeV1(ctx, 'not bytes' as never, () => undefined, io, counters), TypeError);
    t.throws(() => native.encodeV1(ctx, new Uint8Array(0), () => undefined, new Int32Array(1), counters), TypeError);
    t.throws(() => native.encodeV1({} as never, new Uint8Array(0), () => undefined, io, counters), TypeError);
    t.throws(() => native.stats(ctx, new Float64Array(2)), TypeError);
    t.equal(native.encodeV1(ctx, new Uint8Array(0), () => undefined, io, counters), 0, 'an empty request is fine');
    t.equal(counters[0], 0);
  });

  t.test('a bad new series refuses the request with the TypeScript error', async (t) => {
    const w = new MetricsCsvWriter(transformConfig(['--max-labels-per-series', '2']), hasher, 1 << 20, undefined, native);
    const good: EncodeSeries = { labels: [['__name__', 'up'], ['job', 'a']], samples: [{ value: 1, timestampMs: 1714564800000 }] };
    const bad: EncodeSeries = { labels: [['__name__', 'up'], ['job', 'a'], ['x', 'y']], samples: [{ value: 1, timestampMs: 1714564800000 }] };
    t.throws(() => w.encodeV1(encodeWriteRequestV1([good, bad])), { code: 'too_many_labels' });
    w.reset();
    t.throws(() => w.encodeV1(encodeWriteRequestV1([{ labels: [['job', 'a']], samples: [{ value: 1, timestampMs: 0 }] }])), { code: 'invalid_labels' });
    w.reset();
    t.equal(w.encodeV1(encodeWriteRequestV1([good])), true, 'the next request is fine');
    t.equal(w.rows, 1);
    const stats = w.cacheStats();
    t.ok(stats.hits >= 1 && stats.entries >= 1, `cache stats count the native cache (${JSON.stringify(stats)})`);
  });
}

// CI builds the addon (gcc is installed by scripts/install-test-deps.sh); a machine without a
// compiler can opt out explicitly, never silently.
t.test('an addon built from other sources is refused when it loads, not at its first call', async (t) => {
  const stale = checkNativeApi({ formatValue: () => 0 } as Partial<NativeHotPath>, '/x/adx_native.node');
  t.ok(stale instanceof Error, 'no apiVersion: refused');
  t.match((stale as Error).message, /\/x\/adx_native\.node has no API version \(an older build\), this build needs \d+.*npm run build/);
  const other = checkNativeApi({ apiVersion: NATIVE_API_VERSION + 1 } as Partial<NativeHotPath>, 'f.node');
  t.match((other as Error).message, new RegExp(`API version ${NATIVE_API_VERSION + 1}, this build needs ${NATIVE_API_VERSION}`));
  const fine = { apiVersion: NATIVE_API_VERSION } as Partial<NativeHotPath>;
  t.equal(checkNativeApi(fine, 'f.node'), fine, 'the same version: the module itself');
  const real = loadNativeHotPath();
  if (!(real instanceof Error)) t.equal(real.apiVersion, NATIVE_API_VERSION, 'the addon built from native/hotpath.c has this version');
});

const loaded = loadNativeHotPath();
if (loaded instanceof Error && process.env.ADX_INGESTOR_TEST_WITHOUT_NATIVE === '1') {
  t.comment(`skipped: ${loaded.message}`);
  t.pass('native hot path not built and ADX_INGESTOR_TEST_WITHOUT_NATIVE=1');
  t.end();
} else {
  if (loaded instanceof Error) throw loaded;
  run(loaded);
}
