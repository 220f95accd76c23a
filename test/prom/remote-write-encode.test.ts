import t from 'tap';
import fc from 'fast-check';
import { decodeWriteRequestV1 } from '../../src/prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { type EncodeSeries, encodeWriteRequestV1, encodeWriteRequestV2 } from '../../src/prom/remote-write-encode.js';
import {
  expectedCalls, fromBits, hex, normalize, protobufjsDecodeV1, protobufjsDecodeV2, RecordingSink, request,
  RequestV2, STALE_NAN_BITS, TO_OBJECT,
} from '../fixtures/prom/helpers.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

t.test('golden bytes, 1.0', async (t) => {
  const series: EncodeSeries[] = [
    { labels: [['__name__', 'up'], ['job', 'api']], samples: [{ value: 1, timestampMs: 1700000000000 }, { value: fromBits(STALE_NAN_BITS), timestampMs: -1 }] },
    { labels: [['__name__', 'b']], samples: [{ value: -Infinity, timestampMs: 0 }] },
  ];
  // test/fixtures/prom/v1-golden.hex without its exemplar and metadata.
  const want = hex(`
    0a 44
      0a 0e 0a 08 5f5f6e616d655f5f 12 02 7570
      0a 0a 0a 03 6a6f62 12 03 617069
      12 10 09 000000000000f03f 10 80d095ffbc31
      12 14 09 020000000000f07f 10 ffffffffffffffffff01
    0a 1a
      0a 0d 0a 08 5f5f6e616d655f5f 12 01 62
      12 09 09 000000000000f0ff`);
  t.equal(toHex(encodeWriteRequestV1(series)), toHex(want));
});

t.test('golden bytes, 2.0', async (t) => {
  const series: EncodeSeries[] = [
    { labels: [['__name__', 'up'], ['job', 'api']], samples: [{ value: 1, timestampMs: 1700000000000 }] },
    { labels: [['__name__', 'api']], samples: [{ value: 2.5, timestampMs: -1000 }] },
  ];
  const want = hex(`
    22 00  22 08 5f5f6e616d655f5f  22 02 7570  22 03 6a6f62  22 03 617069
    2a 18
      0a 04 01 02 03 04
      12 10 09 000000000000f03f 10 80d095ffbc31
    2a 1a
      0a 02 01 04
      12 14 09 0000000000000440 10 98f8ffffffffffffff01`);
  t.equal(toHex(encodeWriteRequestV2(series)), toHex(want));
  t.equal(toHex(encodeWriteRequestV2([])), '2200', 'symbols[0] is always present');
});

t.test('proto3 defaults: 0 and "" omitted, -0 kept; histogram oneofs always written', async (t) => {
  t.equal(toHex(encodeWriteRequestV1([{ labels: [['', '']], samples: [{ value: 0, timestampMs: 0 }] }])), '0a04' + '0a00' + '1200');
  t.equal(toHex(encodeWriteRequestV1([{ labels: [], samples: [{ value: -0, timestampMs: 0 }] }])), '0a0b' + '1209' + '090000000000000080');
  const h = { isFloat: false, count: 0, sum: 0, schema: 0, zeroThreshold: 0, zeroCount: 0, negativeSpans: [], negativeBuckets: [], positiveSpans: [], positiveBuckets: [], customValues: [], resetHint: 0, timestampMs: 0 };
  t.equal(toHex(encodeWriteRequestV1([{ labels: [], histograms: [h] }])), '0a06' + '2204' + '0800' + '3000');
  t.equal(toHex(encodeWriteRequestV1([{ labels: [], histograms: [{ ...h, isFloat: true }] }])), '0a14' + '2212' + '110000000000000000' + '390000000000000000');
});

t.test('long strings, multi-byte lengths and buffer growth', async (t) => {
  for (const n of [127, 128, 16383, 16384, 70000]) {
    const series: EncodeSeries[] = [{ labels: [['k', 'v'.repeat(n)], ['é', '🎉'.repeat(n >> 4)]], samples: [{ value: 1, timestampMs: 1 }] }];
    for (const [enc, dec, v] of [[encodeWriteRequestV1, decodeWriteRequestV1, 1], [encodeWriteRequestV2, decodeWriteRequestV2, 2]] as const) {
      const sink = new RecordingSink();
      dec(enc(series), sink);
      t.same(sink.calls, expectedCalls(series, v), `${n} bytes, v${v}`);
    }
  }
  const many: EncodeSeries[] = Array.from({ length: 3000 }, (_, i) => ({ labels: [['__name__', `m${i}`]], samples: [{ value: i, timestampMs: i }] }));
  t.same(protobufjsDecodeV1(encodeWriteRequestV1(many)).length, 3000);
  t.same(protobufjsDecodeV2(encodeWriteRequestV2(many)).length, 3000);
});

t.test('lone surrogates are written as U+FFFD', async (t) => {
  const sink = new RecordingSink();
  decodeWriteRequestV1(encodeWriteRequestV1([{ labels: [['a\ud800', 'b']] }]), sink);
  t.same(sink.calls[1], ['label', 'a\ufffd', 'b']);
});

t.test('2.0 symbol table: "" first, each string once, in first-use order', async (t) => {
  const buf = encodeWriteRequestV2([
    { labels: [['__name__', 'a'], ['job', 'x']] },
    { labels: [['__name__', 'b'], ['job', 'x'], ['empty', '']] },
  ]);
  const o = RequestV2.toObject(RequestV2.decode(buf), TO_OBJECT);
  t.same(o.symbols, ['', '__name__', 'a', 'job', 'x', 'b', 'empty']);
  t.same(o.timeseries[1].labelsRefs, [1, 5, 3, 4, 6, 0]);
});

t.test('protobufjs decodes what we encode (1.0)', async () => {
  fc.assert(
    fc.property(request, (series) => {
      const got = JSON.stringify(normalize(protobufjsDecodeV1(encodeWriteRequestV1(series))));
      const want = JSON.stringify(normalize(series));
      if (got !== want) throw new Error(`mismatch\n${got}\n${want}`);
    }),
    { numRuns: 300 },
  );
});

t.test('protobufjs decodes what we encode (2.0)', async () => {
  fc.assert(
    fc.property(request, (series) => {
      const got = JSON.stringify(normalize(protobufjsDecodeV2(encodeWriteRequestV2(series))));
      const want = JSON.stringify(normalize(series));
      if (got !== want) throw new Error(`mismatch\n${got}\n${want}`);
    }),
    { numRuns: 300 },
  );
});
