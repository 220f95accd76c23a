import t from 'tap';
import { IngestError } from '../../src/errors.js';
import type { NativeHistogram } from '../../src/prom/histogram.js';
import { MetricsRowBuilder } from '../../src/transform/metrics-rows.js';
import { buildRows, hasher, seriesId, transformConfig } from '../helpers/rows.js';

const TS = 1714564800123;

t.test('one series becomes adx-mon rows', async (t) => {
  const { tables, builder } = buildRows([
    { labels: [['__name__', 'http_requests_total'], ['job', 'api'], ['code', '200']], samples: [[1, TS], [2.5, TS + 1000]] },
  ]);
  const id = seriesId([['__name__', 'http_requests_total'], ['code', '200'], ['job', 'api']]);
  t.same(tables, {
    Metrics_HttpRequestsTotal:
      `2024-05-01T12:00:00.123Z,${id},"{""code"":""200"",""job"":""api""}",1.000000000\n` +
      `2024-05-01T12:00:01.123Z,${id},"{""code"":""200"",""job"":""api""}",2.500000000\n`,
  });
  t.equal(builder.samples, 2);
  t.equal(builder.rows, 2);
  t.equal(builder.schema.headerLine, 'Timestamp:datetime,SeriesId:long,Labels:dynamic,Value:real\n');
  t.equal(builder.schema.hash, undefined);
});

t.test('SeriesId covers every label (sorted case-insensitively), Labels drops __name__ and adxmon_*', async (t) => {
  const labels: [string, string][] = [['__name__', 'up'], ['adxmon_database', 'Other-DB'], ['Zone', 'z'], ['app', 'a'], ['adxmon_x', 'y']];
  const { tables } = buildRows([{ labels, samples: [[1, TS]] }]);
  const sorted: [string, string][] = [['__name__', 'up'], ['adxmon_database', 'Other-DB'], ['adxmon_x', 'y'], ['app', 'a'], ['Zone', 'z']];
  t.same(Object.keys(tables), ['OtherDB_Up'], 'database from adxmon_database, normalised');
  t.equal(tables['OtherDB_Up'], `2024-05-01T12:00:00.123Z,${seriesId(sorted)},"{""app"":""a"",""Zone"":""z""}",1.000000000\n`);
  const reordered = buildRows([{ labels: [...labels].reverse(), samples: [[1, TS]] }]).tables;
  t.same(reordered, tables, 'wire order does not matter');
});

t.test('label values are JSON- and CSV-escaped', async (t) => {
  const { tables } = buildRows([{ labels: [['__name__', 'm'], ['path', '/a,"b"\n<c>']], samples: [[NaN, TS]] }]);
  const row = tables['Metrics_M']!;
  t.match(row, /,"\{""path"":""\/a,\\""b\\""\\n\\u003cc\\u003e""\}",NaN\n$/);
});

t.test('drop, add and lift labels', async (t) => {
  const args = ['--drop-metrics', 'go_.*', '--drop-labels', 'http_.*=inst.*', '--add-labels', 'cluster=prod', '--lift-labels', 'namespace,Pod=PodName'];
  const { tables, builder } = buildRows(
    [
      { labels: [['__name__', 'go_goroutines'], ['job', 'x']], samples: [[1, TS]] },
      { labels: [['__name__', 'http_requests_total'], ['instance', 'i:1'], ['namespace', 'ns'], ['pod', 'p,1'], ['cluster', 'dev']], samples: [[3, TS]] },
      { labels: [['__name__', 'other'], ['instance', 'i:1']], samples: [[4, TS]] },
    ],
    args,
  );
  t.equal(builder.droppedSeries, 1);
  t.equal(builder.samples, 3, 'dropped series samples are still counted as received');
  t.equal(builder.schema.headerLine, 'Timestamp:datetime,SeriesId:long,namespace:string,PodName:string,Labels:dynamic,Value:real\n');
  const hash = builder.schema.hash!;
  t.match(hash, /^[0-9a-f]{16}$/);
  const id1 = seriesId([['__name__', 'http_requests_total'], ['cluster', 'prod'], ['namespace', 'ns'], ['pod', 'p,1']]);
  const id2 = seriesId([['__name__', 'other'], ['cluster', 'prod'], ['instance', 'i:1']]);
  t.same(tables, {
    [`Metrics_HttpRequestsTotal_${hash}`]: `2024-05-01T12:00:00.123Z,${id1},ns,"p,1","{""cluster"":""prod""}",3.000000000\n`,
    [`Metrics_Other_${hash}`]: `2024-05-01T12:00:00.123Z,${id2},,,"{""cluster"":""prod"",""instance"":""i:1""}",4.000000000\n`,
  });
});

t.test('invalid series are refused with typed errors', async (t) => {
  const cases: [string, [string, string][], string, string[]?][] = [
    ['no name', [['job', 'x']], 'invalid_labels'],
    ['empty label name', [['__name__', 'm'], ['', 'x']], 'invalid_labels'],
    ['duplicate label', [['__name__', 'm'], ['a', '1'], ['a', '2']], 'invalid_labels'],
    ['unusable metric name', [['__name__', '日本']], 'invalid_labels'],
    ['unusable database', [['__name__', 'm'], ['adxmon_database', '--']], 'invalid_labels'],
    ['too many labels', [['__name__', 'm'], ['a', '1'], ['b', '2']], 'too_many_labels', ['--max-labels-per-series', '2']],
    ['label too long', [['__name__', 'm'], ['a', 'x'.repeat(20)]], 'label_too_long', ['--max-label-bytes', '16']],
  ];
  for (const [what, labels, code, args] of cases) {
    try {
      buildRows([{ labels, samples: [[1, TS]] }], args);
      t.fail(`${what}: accepted`);
    } catch (e) {
      t.ok(e instanceof IngestError, what);
      t.equal((e as IngestError).code, code, what);
    }
  }
  t.throws(() => buildRows([{ labels: [['__name__', 'm']], samples: [[1, 1e17]] }]), { code: 'invalid_request' }, 'timestamp out of range');
});

t.test('empty label values are the same as no label', async (t) => {
  const a = buildRows([{ labels: [['__name__', 'm'], ['a', ''], ['b', '1']], samples: [[1, TS]] }]).tables;
  const b = buildRows([{ labels: [['__name__', 'm'], ['b', '1']], samples: [[1, TS]] }]).tables;
  t.same(a, b);
});

t.test('native histograms become _count, _sum and cumulative _bucket rows', async (t) => {
  const b = new MetricsRowBuilder(transformConfig(), hasher);
  const h: NativeHistogram = {
    isFloat: false, count: 5, sum: 12.5, schema: 0, zeroThreshold: 0.001, zeroCount: 1,
    negativeSpans: [], negativeBuckets: [], positiveSpans: [{ offset: 1, length: 2 }], positiveBuckets: [2, 0],
    customValues: [], resetHint: 0, timestampMs: TS,
  };
  b.beginSeries();
  b.labelString('__name__', 'rpc_seconds');
  b.labelString('job', 'j');
  b.histogram(h);
  b.endSeries();
  const tables = Object.fromEntries([...b.tables()].map((x) => [x.prefix, x.csv]));
  t.same(Object.keys(tables).sort(), ['Metrics_RpcSecondsBucket', 'Metrics_RpcSecondsCount', 'Metrics_RpcSecondsSum']);
  t.equal(b.histograms, 1);
  const countId = seriesId([['__name__', 'rpc_seconds_count'], ['job', 'j']]);
  t.equal(tables['Metrics_RpcSecondsCount'], `2024-05-01T12:00:00.123Z,${countId},"{""job"":""j""}",5.000000000\n`);
  t.match(tables['Metrics_RpcSecondsSum'], /,12\.500000000\n$/);
  // zero bucket le=0.001 → 1; bucket 1 (1,2] → +2 = 3; bucket 2 (2,4] → +2 = 5; +Inf → 5
  const rows = tables['Metrics_RpcSecondsBucket']!.trim().split('\n');
  const got = rows.map((r) => [/""le"":""([^"]+)""/.exec(r)?.[1], r.slice(r.lastIndexOf(',') + 1)]);
  t.same(got, [['0.001', '1.000000000'], ['2', '3.000000000'], ['4', '5.000000000'], ['+Inf', '5.000000000']]);
  const leId = seriesId([['__name__', 'rpc_seconds_bucket'], ['job', 'j'], ['le', '2']]);
  t.ok(rows[1]!.includes(`,${leId},`), 'le is part of the SeriesId, in sorted position');
});

t.test('golden row (the example in docs/data-model.md)', async (t) => {
  const { tables } = buildRows([{ labels: [['__name__', 'http_requests_total'], ['code', '200'], ['job', 'api']], samples: [[1, TS]] }]);
  t.equal(tables['Metrics_HttpRequestsTotal'], '2024-05-01T12:00:00.123Z,7975210535067745600,"{""code"":""200"",""job"":""api""}",1.000000000\n');
});
