import t from 'tap';
import fc from 'fast-check';
import { IngestError } from '../../src/errors.js';
import { decodeWriteRequestV1 } from '../../src/prom/remote-write-v1.js';
import { encodeWriteRequestV1 } from '../../src/prom/remote-write-encode.js';
import {
  type Call, codeOf, expectedCalls, fromBits, hex, ld, mutate, mutation, protobufjsEncodeV1, readHexFixture,
  RecordingSink, request, STALE_NAN_BITS, TO_OBJECT, WriteRequestV1,
} from '../fixtures/prom/helpers.js';

function decode(buf: Uint8Array): Call[] {
  const sink = new RecordingSink();
  decodeWriteRequestV1(buf, sink);
  return sink.calls;
}

const STALE = `NaN:${STALE_NAN_BITS.toString(16)}`;

t.test('golden fixture decodes to the exact call sequence', async (t) => {
  const buf = readHexFixture('v1-golden.hex');
  t.same(decode(buf), [
    ['begin'], ['label', '__name__', 'up'], ['label', 'job', 'api'],
    ['sample', 1, 1700000000000], ['sample', STALE, -1], ['exemplar'], ['end'],
    ['begin'], ['label', '__name__', 'b'], ['sample', -Infinity, 0], ['end'],
  ]);
  // The fixture is a valid WriteRequest for protobufjs too (it checks the hand-assembled lengths).
  const o = WriteRequestV1.toObject(WriteRequestV1.decode(buf), TO_OBJECT);
  t.equal(o.timeseries.length, 2);
  t.same(o.timeseries[0].labels, [{ name: '__name__', value: 'up' }, { name: 'job', value: 'api' }]);
  t.equal(o.timeseries[0].samples[1].timestamp, -1);
  t.equal(o.metadata[0].metricFamilyName, 'up');
});

t.test('empty request and empty series', async (t) => {
  t.same(decode(new Uint8Array(0)), []);
  t.same(decode(hex('0a00 0a00')), [['begin'], ['end'], ['begin'], ['end']]);
  // An empty Label and an empty Sample are all defaults.
  t.same(decode(hex('0a04 0a00 1200')), [['begin'], ['label', '', ''], ['sample', 0, 0], ['end']]);
});

t.test('unknown fields are skipped at every level, for every wire type', async (t) => {
  const unknown = 'b006 07  b906 0102030405060708  c206 02 aabb  cd06 01020304'; // fields 102..105
  const buf = hex(unknown + ld('0a', unknown, ld('0a', unknown, '0a 01 61 12 01 62'), ld('12', unknown, '09 000000000000f03f 10 02')) + '1a 02 0801');
  t.same(decode(buf), [['begin'], ['label', 'a', 'b'], ['sample', 1, 2], ['end']]);
});

t.test('out-of-order fields: the sink still sees labels first', async (t) => {
  // Sample, exemplar and histogram before the labels; value before name; timestamp before value.
  const buf = hex(ld('0a',
    ld('12', '10 05 09 0000000000000040'),
    '1a 00',
    ld('22', '08 03'),
    ld('0a', '12 01 62 0a 01 61'),
    ld('0a', '0a 01 63 12 01 64')));
  const calls = decode(buf);
  t.same(calls.slice(0, 3), [['begin'], ['label', 'a', 'b'], ['label', 'c', 'd']]);
  t.same(calls[3], ['sample', 2, 5]);
  t.same(calls[4], ['exemplar']);
  t.equal(calls[5]![0], 'histogram');
  t.same(calls[6], ['end']);
  // Labels interleaved with samples.
  const mixed = hex(ld('0a', ld('0a', '0a 01 61'), ld('12', '10 01'), ld('0a', '0a 01 62'), ld('12', '10 02')));
  t.same(decode(mixed), [['begin'], ['label', 'a', ''], ['label', 'b', ''], ['sample', 0, 1], ['sample', 0, 2], ['end']]);
});

t.test('repeated scalar fields: last one wins', async (t) => {
  const buf = hex(ld('0a', ld('12', '09 000000000000f03f 10 01 09 0000000000000040 10 02')));
  t.same(decode(buf), [['begin'], ['sample', 2, 2], ['end']]);
});

t.test('a field with an unexpected wire type is skipped as unknown', async (t) => {
  // TimeSeries.labels (1) sent as a varint, Sample.value (1) sent as fixed32.
  const buf = hex(ld('0a', '08 07', ld('12', '0d 00000000 10 09')));
  t.same(decode(buf), [['begin'], ['sample', 0, 9], ['end']]);
});

t.test('special values survive: NaN payloads, stale marker, -0, infinities, negative timestamps', async (t) => {
  // (Not via a number[]: V8 quiets signaling NaNs stored in double arrays, see numInArray.)
  const samples = [NaN, -0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE].map((value, i) => ({ value, timestampMs: -i * 1e12 - 1 }));
  samples.push({ value: fromBits(STALE_NAN_BITS), timestampMs: Number.MIN_SAFE_INTEGER });
  const series = [{ labels: [['__name__', 'x']] as [string, string][], samples }];
  t.same(decode(encodeWriteRequestV1(series)), expectedCalls(series, 1));
  t.same(decode(protobufjsEncodeV1(series)), expectedCalls(series, 1));
  t.ok(JSON.stringify(decode(encodeWriteRequestV1(series))).includes(STALE));
});

t.test('strings: UTF-8 decoded, invalid UTF-8 rejected', async (t) => {
  const series = [{ labels: [['名前', 'värde 🎉'], ['\u{feff}bom', '']] as [string, string][] }];
  t.same(decode(encodeWriteRequestV1(series)), expectedCalls(series, 1));
  const label = (bytes: string) => hex(ld('0a', ld('0a', ld('0a', bytes))));
  t.equal(codeOf(() => decode(label('61ff62'))), 'invalid_utf8');
  t.equal(codeOf(() => decode(label('eda080'))), 'invalid_utf8', 'surrogate');
  t.equal(codeOf(() => decode(label('c0af'))), 'invalid_utf8', 'overlong');
  t.equal(codeOf(() => decode(label('e282'))), 'invalid_utf8', 'truncated sequence');
  t.same(decode(label('e282ac')), [['begin'], ['label', '€', ''], ['end']]);
});

t.test('malformed input is bad_protobuf', async (t) => {
  t.equal(codeOf(() => decode(hex('0a 05 0a 01'))), 'bad_protobuf', 'series past end');
  t.equal(codeOf(() => decode(hex('0a 03 0a 05 0a'))), 'bad_protobuf', 'label past its series');
  t.equal(codeOf(() => decode(hex('0a 04 12 02 09 00'))), 'bad_protobuf', 'truncated double');
  t.equal(codeOf(() => decode(hex('0b'))), 'bad_protobuf', 'group');
  t.equal(codeOf(() => decode(hex('0a 02 0f 00'))), 'bad_protobuf', 'wire type 7');
});

t.test('label and string caches stay exact with more distinct labels than cache slots', async (t) => {
  // 30000 distinct pairs (more than the 8192 cached Labels), alike except in the middle.
  const series = Array.from({ length: 3000 }, (_, i) => ({
    labels: Array.from({ length: 10 }, (_, k) => [`name_${k}`, `pod-${i}-${k}-suffix`] as [string, string]),
  }));
  const buf = encodeWriteRequestV1(series);
  const want = JSON.stringify(expectedCalls(series, 1));
  for (let pass = 0; pass < 3; pass++) t.ok(JSON.stringify(decode(buf)) === want, `pass ${pass}`);
});

t.test('protobufjs-encoded requests decode to the same calls', async () => {
  fc.assert(
    fc.property(request, (series) => {
      const got = decode(protobufjsEncodeV1(series));
      const want = expectedCalls(series, 1);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`mismatch\n${JSON.stringify(got)}\n${JSON.stringify(want)}`);
    }),
    { numRuns: 300 },
  );
});

t.test('round trip: encodeWriteRequestV1 → decodeWriteRequestV1', async () => {
  fc.assert(
    fc.property(request, (series) => {
      const got = decode(encodeWriteRequestV1(series));
      const want = expectedCalls(series, 1);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`mismatch\n${JSON.stringify(got)}\n${JSON.stringify(want)}`);
    }),
    { numRuns: 300 },
  );
});

t.test('mutated and truncated requests only ever throw IngestError', async () => {
  fc.assert(
    fc.property(request, fc.array(mutation, { minLength: 1, maxLength: 4 }), (series, mutations) => {
      let buf = encodeWriteRequestV1(series);
      for (const m of mutations) buf = mutate(buf, m);
      try {
        decodeWriteRequestV1(buf, new RecordingSink());
      } catch (e) {
        if (!(e instanceof IngestError)) throw e;
      }
    }),
    { numRuns: 1500 },
  );
});
