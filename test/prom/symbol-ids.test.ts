import fc from 'fast-check';
import t from 'tap';
import { encodeWriteRequestV2, type EncodeSeries } from '../../src/prom/remote-write-encode.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { SymbolIds } from '../../src/prom/symbol-ids.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { MetricsRowBuilder } from '../../src/transform/metrics-rows.js';
import { hasher, transformConfig } from '../helpers/rows.js';

t.test('ids are stable within a generation; a full table starts a new one', async (t) => {
  const ids = new SymbolIds(64, 16);
  const b = Buffer.from('alphabetagammadelta');
  const a1 = ids.idOf(b, 0, 5);
  t.equal(ids.idOf(Buffer.from('xxalpha'), 2, 7), a1, 'same bytes, same id');
  t.not(ids.idOf(b, 5, 9), a1);
  const gen = ids.generation;
  for (let i = 0; i < 40; i++) ids.idOf(Buffer.from(`symbol-${i}`), 0, `symbol-${i}`.length);
  t.ok(ids.generation > gen, 'filled up and started over');
  t.equal(ids.idOf(Buffer.alloc(100), 0, 100), -1, 'a symbol larger than the table gets no id');
});

t.test('cached 2.0 series stay exact across symbol-table generations', async (t) => {
  const label = fc.tuple(fc.constantFrom('job', 'instance', 'a', 'b'), fc.string({ minLength: 1, maxLength: 6 }));
  const series = fc.record({
    labels: fc.array(label, { maxLength: 4 }).map((ls) => [['__name__', 'm'] as [string, string], ...ls]),
    samples: fc.constant([{ value: 1, timestampMs: 1714564800000 }]),
  });
  fc.assert(
    fc.property(fc.array(fc.array(series, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }), (requests: EncodeSeries[][]) => {
      const tiny = new SymbolIds(48, 8); // starts over every few symbols
      const w = new MetricsCsvWriter(transformConfig(), hasher, 1 << 16);
      for (const req of requests) {
        const body = encodeWriteRequestV2(req);
        const ref = new MetricsRowBuilder(transformConfig(), hasher);
        let want = '';
        let got = '';
        try {
          decodeWriteRequestV2(body, ref);
          for (const x of ref.tables()) want += x.prefix + x.csv;
        } catch (e) {
          want = String((e as { code?: string }).code);
        }
        w.reset();
        try {
          decodeWriteRequestV2(body, w, tiny);
          for (const x of w.tables()) got += x.prefix + x.out.buf.subarray(x.start, x.out.len).toString();
        } catch (e) {
          got = String((e as { code?: string }).code);
        }
        if (got !== want) throw new Error(`differ:\n${got}\n${want}`);
      }
    }),
    { numRuns: 300 },
  );
  t.pass('300 random request sequences agree with the reference');
});
