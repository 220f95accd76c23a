import t from 'tap';
import { bucketDelta, histogramBuckets, parsePromText, PromTextError, sumOrZero, tryQuantile, trySum } from '../../../perf/harness/prom-text.js';

const TEXT = `# HELP prometheus_remote_storage_samples_in_total Samples in.
# TYPE prometheus_remote_storage_samples_in_total counter
prometheus_remote_storage_samples_in_total 12345
up 1 1700000000000
odd_labels{path="a \\"quoted\\" \\\\ value\\nnext",empty=""} -3.5e-2
vmagent_remotewrite_requests_total{url="1:secret-url", status_code="2XX"} 40
vmagent_remotewrite_requests_total{url="1:secret-url", status_code="503"} 2
special{kind="inf"} +Inf
special{kind="nan"} NaN
`;

t.test('parses names, labels (escapes, spaces after commas), values and timestamps', async (t) => {
  const s = parsePromText(TEXT);
  t.equal(s.length, 7);
  t.same(s[0], { name: 'prometheus_remote_storage_samples_in_total', labels: {}, value: 12345 });
  t.same(s[1], { name: 'up', labels: {}, value: 1 }, 'timestamp ignored');
  t.same(s[2]!.labels, { path: 'a "quoted" \\ value\nnext', empty: '' });
  t.equal(s[2]!.value, -0.035);
  t.same(s[3]!.labels, { url: '1:secret-url', status_code: '2XX' });
  t.equal(s[5]!.value, Infinity);
  t.ok(Number.isNaN(s[6]!.value));
  t.ok(Number.isNaN(parsePromText('nodejs_eventloop_lag_mean_seconds Nan')[0]!.value), "prom-client's spelling of NaN (two scrapes within 10 ms)");
  t.throws(() => parsePromText('metric{a="b"} notanumber'), PromTextError);
  t.throws(() => parsePromText('metric{a="b} 1'), PromTextError);
});

t.test('sums over series, with a label filter', async (t) => {
  const s = parsePromText(TEXT);
  t.equal(trySum(s, 'vmagent_remotewrite_requests_total'), 42);
  t.equal(trySum(s, 'vmagent_remotewrite_requests_total', (l) => !l.status_code!.startsWith('2')), 2);
  t.equal(trySum(s, 'absent_metric'), undefined);
  t.equal(sumOrZero(s, 'absent_metric'), 0);
});

const LE = (n: number) => `
lat_bucket{le="0.005"} ${n}
lat_bucket{le="0.01"} ${2 * n}
lat_bucket{le="0.1"} ${4 * n}
lat_bucket{le="+Inf"} ${4 * n}
lat_sum 1
lat_count ${4 * n}
`;

t.test('le buckets become per-bucket counts; quantiles interpolate inside a bucket', async (t) => {
  const b = histogramBuckets(parsePromText(LE(10)), 'lat');
  t.same(b, [
    { lower: 0, upper: 0.005, count: 10 },
    { lower: 0.005, upper: 0.01, count: 10 },
    { lower: 0.01, upper: 0.1, count: 20 },
    { lower: 0.1, upper: Infinity, count: 0 },
  ]);
  const near = (q: number, want: number) => t.ok(Math.abs(tryQuantile(b, q)! - want) < 1e-12, `q${q} = ${tryQuantile(b, q)}, want ${want}`);
  near(0.25, 0.005);
  near(0.5, 0.01);
  near(0.75, 0.055);
  near(1, 0.1);
  const d = bucketDelta(b, histogramBuckets(parsePromText(LE(15)), 'lat'));
  t.same(d.map((x) => x.count), [5, 5, 10, 0], 'delta between two readings');
  t.equal(tryQuantile(bucketDelta(b, b), 0.5), undefined, 'no observations, no quantile');
});

t.test('vmrange buckets (VictoriaMetrics histograms), summed over label sets', async (t) => {
  const text = `
d_bucket{url="1",vmrange="1.000e-03...1.136e-03"} 3
d_bucket{url="1",vmrange="2.448e-04...2.783e-04"} 1
d_bucket{url="2",vmrange="1.000e-03...1.136e-03"} 1
d_sum{url="1"} 0.004
`;
  const b = histogramBuckets(parsePromText(text), 'd');
  t.same(b, [
    { lower: 2.448e-4, upper: 2.783e-4, count: 1 },
    { lower: 1e-3, upper: 1.136e-3, count: 4 },
  ]);
  t.ok(Math.abs(tryQuantile(b, 0.2)! - 2.783e-4) < 1e-12, 'the first fifth ends at the first bucket');
  t.ok(tryQuantile(b, 0.99)! > 1e-3 && tryQuantile(b, 0.99)! <= 1.136e-3);
});

t.test('a label match keeps one handler of a histogram (Prometheus: remote write, not /metrics)', async (t) => {
  const text = `
h_bucket{handler="/api/v1/write",le="0.1"} 4
h_bucket{handler="/api/v1/write",le="+Inf"} 5
h_bucket{handler="/metrics",le="0.1"} 100
h_bucket{handler="/metrics",le="+Inf"} 100
`;
  const write = histogramBuckets(parsePromText(text), 'h', (l) => l.handler === '/api/v1/write');
  t.same(write.map((b) => b.count), [4, 1], 'only the write handler');
  t.same(histogramBuckets(parsePromText(text), 'h').map((b) => b.count), [104, 1], 'all handlers without a match');
});

t.test('an open-ended bucket yields its lower bound', async (t) => {
  t.equal(tryQuantile([{ lower: 0, upper: 1, count: 1 }, { lower: 1, upper: Infinity, count: 9 }], 0.99), 1);
});
