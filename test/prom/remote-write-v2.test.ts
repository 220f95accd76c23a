import t from 'tap';
import fc from 'fast-check';
import { IngestError } from '../../src/errors.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { encodeWriteRequestV2 } from '../../src/prom/remote-write-encode.js';
import {
  type Call, codeOf, expectedCalls, fromBits, hex, ld, mutate, mutation, protobufjsEncodeV2, readHexFixture,
  RecordingSink, request, RequestV2, STALE_NAN_BITS, TO_OBJECT,
} from '../fixtures/prom/helpers.js';

function decode(buf: Uint8Array): Call[] {
  const sink = new RecordingSink();
  decodeWriteRequestV2(buf, sink);
  return sink.calls;
}

/** A symbols field (4) holding the hex of `s`'s UTF-8 bytes. */
const sym = (s: string) => ld('22', Buffer.from(s).toString('hex'));
const SYMBOLS = ['', '__name__', 'up', 'job', 'api'].map(sym).join('');

t.test('golden fixture decodes to the exact call sequence', async (t) => {
  const buf = readHexFixture('v2-golden.hex');
  t.same(decode(buf), [
    ['begin'], ['label', '__name__', 'up'], ['label', 'job', 'api'], ['sample', 1, 1700000000000], ['exemplar'], ['end'],
    ['begin'], ['label', '__name__', 'api'], ['sample', 2.5, -1000], ['end'],
  ]);
  // The fixture is a valid Request for protobufjs too (it checks the hand-assembled lengths).
  const o = RequestV2.toObject(RequestV2.decode(buf), TO_OBJECT);
  t.same(o.symbols, ['', '__name__', 'up', 'job', 'api']);
  t.same(o.timeseries.map((s: { labelsRefs: number[] }) => s.labelsRefs), [[1, 2, 3, 4], [1, 4]]);
  t.equal(o.timeseries[0].createdTimestamp, 1700000000000);
  t.equal(o.timeseries[1].samples[0].timestamp, -1000);
});

t.test('empty requests', async (t) => {
  t.same(decode(new Uint8Array(0)), []);
  t.same(decode(hex(sym(''))), []);
  t.same(decode(hex('2a00')), [['begin'], ['end']], 'no symbols and no labels is fine');
  t.same(decode(hex(sym('') + '2a00 2a00')), [['begin'], ['end'], ['begin'], ['end']]);
});

t.test('symbols may come after, or between, the series', async (t) => {
  const series = ld('2a', ld('0a', '01 02 03 04'), ld('12', '10 07'));
  const want = [['begin'], ['label', '__name__', 'up'], ['label', 'job', 'api'], ['sample', 0, 7], ['end']];
  t.same(decode(hex(series + SYMBOLS)), want);
  t.same(decode(hex(sym('') + sym('__name__') + series + sym('up') + sym('job') + sym('api'))), want);
});

t.test('labels_refs: packed, unpacked, and split across runs', async (t) => {
  const want = [['begin'], ['label', '__name__', 'up'], ['label', 'job', 'api'], ['end']];
  t.same(decode(hex(SYMBOLS + ld('2a', '08 01 08 02 08 03 08 04'))), want, 'unpacked');
  t.same(decode(hex(SYMBOLS + ld('2a', ld('0a', '01'), '08 02', ld('0a', '03 04')))), want, 'mixed runs');
  t.same(decode(hex(SYMBOLS + ld('2a', ld('0a', '01'), ld('0a', ''), ld('0a', '02 03'), '08 04'))), want, 'empty run');
  // Refs are uint32: a 10-byte varint is truncated to its low 32 bits.
  t.same(decode(hex(SYMBOLS + ld('2a', '08 8180808080808080 8000', '08 02'))), [['begin'], ['label', '__name__', 'up'], ['end']]);
});

t.test('labels come before samples whatever the wire order', async (t) => {
  const buf = hex(SYMBOLS + ld('2a', ld('12', '09 000000000000f03f'), ld('22', ''), ld('1a', '08 03'), ld('0a', '01 02'), ld('0a', '03 04')));
  const calls = decode(buf);
  t.same(calls.slice(0, 3), [['begin'], ['label', '__name__', 'up'], ['label', 'job', 'api']]);
  t.same(calls.slice(3).map((c) => c[0]), ['sample', 'exemplar', 'histogram', 'end']);
});

t.test('ignored and unknown fields', async (t) => {
  const unknown = 'b006 07  b906 0102030405060708  c206 02 aabb  cd06 01020304'; // fields 102..105
  const buf = hex(
    unknown + '08 01' + SYMBOLS + // field 1 is reserved: skipped like any unknown field
    ld('2a',
      unknown,
      ld('0a', '01 02'),
      ld('12', unknown, '09 0000000000000040 10 03 18 05'), // Sample.start_timestamp (3) ignored
      ld('2a', '08 01 18 02 20 00'), // metadata
      '30 01', // created_timestamp
    ),
  );
  t.same(decode(buf), [['begin'], ['label', '__name__', 'up'], ['sample', 2, 3], ['end']]);
});

t.test('invalid requests', async (t) => {
  t.equal(codeOf(() => decode(hex(sym('x') + ld('2a', '')))), 'invalid_request', 'symbols[0] not empty');
  t.equal(codeOf(() => decode(hex(sym('x')))), 'invalid_request', 'symbols[0] not empty, no series');
  t.equal(codeOf(() => decode(hex(SYMBOLS + ld('2a', ld('0a', '01 05'))))), 'invalid_request', 'ref out of range');
  t.equal(codeOf(() => decode(hex(ld('2a', ld('0a', '00 00'))))), 'invalid_request', 'no symbols at all');
  t.equal(codeOf(() => decode(hex(SYMBOLS + ld('2a', ld('0a', '01 02 03'))))), 'invalid_request', 'odd refs');
  t.equal(codeOf(() => decode(hex(SYMBOLS + ld('2a', '08 01')))), 'invalid_request', 'odd unpacked refs');
  t.equal(codeOf(() => decode(hex(SYMBOLS + ld('2a', ld('0a', '01 80'))))), 'bad_protobuf', 'truncated packed ref');
  t.equal(codeOf(() => decode(hex(SYMBOLS + '2a 05 0a'))), 'bad_protobuf', 'series past end');
});

t.test('UTF-8: only referenced symbols are decoded (and checked)', async (t) => {
  const bad = ld('22', 'ff');
  t.same(decode(hex(SYMBOLS + bad + ld('2a', ld('0a', '01 02')))), [['begin'], ['label', '__name__', 'up'], ['end']]);
  t.equal(codeOf(() => decode(hex(SYMBOLS + bad + ld('2a', ld('0a', '01 05'))))), 'invalid_utf8');
  const series = [{ labels: [['名前', 'värde 🎉'], ['a', '\u{feff}']] as [string, string][] }];
  t.same(decode(encodeWriteRequestV2(series)), expectedCalls(series, 2));
});

t.test('a symbol referenced many times decodes to the same string every time', async (t) => {
  const long = 'x'.repeat(200); // longer than the utf8 cache: comes from the request's symbol table
  const series = [{ labels: [['a', long], ['b', long]] as [string, string][] }, { labels: [['a', long]] as [string, string][] }];
  t.same(decode(encodeWriteRequestV2(series)), expectedCalls(series, 2));
});

t.test('special values survive: NaN payloads, stale marker, -0, infinities, negative timestamps', async (t) => {
  const samples = [NaN, -0, Infinity, -Infinity, Number.MIN_VALUE].map((value, i) => ({ value, timestampMs: -i * 1e12 - 1 }));
  samples.push({ value: fromBits(STALE_NAN_BITS), timestampMs: Number.MIN_SAFE_INTEGER });
  const series = [{ labels: [['__name__', 'x']] as [string, string][], samples }];
  t.same(decode(encodeWriteRequestV2(series)), expectedCalls(series, 2));
  t.same(decode(protobufjsEncodeV2(series)), expectedCalls(series, 2));
  t.ok(JSON.stringify(decode(encodeWriteRequestV2(series))).includes(`NaN:${STALE_NAN_BITS.toString(16)}`));
});

function sameCalls(got: Call[], want: Call[]): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`mismatch\n${JSON.stringify(got)}\n${JSON.stringify(want)}`);
}

t.test('protobufjs-encoded requests decode to the same calls', async () => {
  fc.assert(fc.property(request, (series) => sameCalls(decode(protobufjsEncodeV2(series)), expectedCalls(series, 2))), { numRuns: 300 });
});

t.test('round trip: encodeWriteRequestV2 → decodeWriteRequestV2', async () => {
  fc.assert(fc.property(request, (series) => sameCalls(decode(encodeWriteRequestV2(series)), expectedCalls(series, 2))), { numRuns: 300 });
});

t.test('mutated and truncated requests only ever throw IngestError', async () => {
  fc.assert(
    fc.property(request, fc.array(mutation, { minLength: 1, maxLength: 4 }), (series, mutations) => {
      let buf = encodeWriteRequestV2(series);
      for (const m of mutations) buf = mutate(buf, m);
      try {
        decodeWriteRequestV2(buf, new RecordingSink());
      } catch (e) {
        if (!(e instanceof IngestError)) throw e;
      }
    }),
    { numRuns: 1500 },
  );
});
