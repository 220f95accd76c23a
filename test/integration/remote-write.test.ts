import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { encodeWriteRequestV1, encodeWriteRequestV2 } from '../../src/prom/remote-write-encode.js';
import { metricValue, readWal, remoteWrite, scrape, startServer } from '../helpers/server.js';

const now = Date.now();

t.test('remote write 1.0 and 2.0 land in the WAL as adx-mon rows', async (t) => {
  const s = await startServer(['--workers', '2']);
  t.teardown(() => s.stop());
  const v1 = encodeWriteRequestV1([
    { labels: [['__name__', 'http_requests_total'], ['job', 'api'], ['code', '200']], samples: [{ value: 1, timestampMs: now }, { value: 2, timestampMs: now + 1000 }] },
    { labels: [['__name__', 'up'], ['job', 'api'], ['adxmon_database', 'Other']], samples: [{ value: 1, timestampMs: now }] },
  ]);
  const r1 = await remoteWrite(s.url, v1, 1);
  t.equal(r1.status, 204, r1.body);
  const v2 = encodeWriteRequestV2([{ labels: [['__name__', 'http_requests_total'], ['job', 'web']], samples: [{ value: 7.5, timestampMs: now }], exemplars: 2 }]);
  const r2 = await remoteWrite(s.url.replace('/api/v1/write', '/receive'), v2, 2);
  t.equal(r2.status, 204, r2.body);
  t.equal(r2.headers['x-prometheus-remote-write-samples-written'], '1');
  t.equal(r2.headers['x-prometheus-remote-write-histograms-written'], '0');
  t.equal(r2.headers['x-prometheus-remote-write-exemplars-written'], '0');
  const rows = readWal(s.dir);
  t.equal(rows.length, 4);
  const web = rows.find((r) => r.labels.job === 'web')!;
  t.match(web, { database: 'Metrics', table: 'HttpRequestsTotal', value: '7.500000000', labels: { job: 'web' } });
  t.equal(web.timestamp, new Date(now).toISOString().replace(/\.?0+Z$/, 'Z').replace(/\.(\d*?)0*Z$/, '.$1Z'));
  t.match(rows.find((r) => r.table === 'Up'), { database: 'Other', labels: { job: 'api' } });
  const m = (await scrape(s.metricsPort)).body;
  t.equal(metricValue(m, 'adxmon_ingestor_samples_stored_total'), 4);
  t.equal(metricValue(m, 'adxmon_ingestor_requests_received_total', { path: '/api/v1/write', code: '204' }), 1);
  t.equal(metricValue(m, 'adxmon_ingestor_requests_received_total', { path: '/receive', code: '204' }), 1);
  t.equal(metricValue(m, 'adxmon_ingestor_wal_flush_requests_sum'), 2, 'every acknowledged request was in exactly one group commit');
  t.ok(metricValue(m, 'adxmon_ingestor_wal_flush_duration_seconds_count') >= 1, 'flush durations are observed');
  t.equal(metricValue(m, 'adxmon_ingestor_wal_flush_wait_seconds_count'), metricValue(m, 'adxmon_ingestor_wal_flush_duration_seconds_count'), 'each flush reports how long it waited');
  t.equal(metricValue(m, 'adxmon_ingestor_wal_segments_count', { database: 'Metrics', table: 'HttpRequestsTotal' }) >= 1, true);
  const onDisk = fs.readdirSync(s.dir).filter((f) => f.startsWith('Metrics_HttpRequestsTotal_')).reduce((n, f) => n + fs.statSync(path.join(s.dir, f)).size, 0);
  t.equal(metricValue(m, 'adxmon_ingestor_wal_segments_size_bytes', { database: 'Metrics', table: 'HttpRequestsTotal' }), onDisk, 'per-table size matches the files');
  const all = fs.readdirSync(s.dir).reduce((n, f) => n + fs.statSync(path.join(s.dir, f)).size, 0);
  t.equal(metricValue(m, 'adxmon_ingestor_wal_disk_usage_bytes'), all, 'accounted disk usage matches the directory');
  t.equal((await scrape(s.metricsPort, '/readyz')).status, 200);
  t.equal((await scrape(s.metricsPort, '/healthz')).status, 200);
});

t.test('SIGTERM stops promptly even with idle keep-alive connections open', async (t) => {
  const http = await import('node:http');
  const s = await startServer();
  const agent = new http.Agent({ keepAlive: true });
  const body = (await import('snappy')).default.compressSync(Buffer.from(encodeWriteRequestV1([{ labels: [['__name__', 'k'], ['a', 'b']], samples: [{ value: 1, timestampMs: now }] }])));
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(s.url, { method: 'POST', agent, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
  t.equal(status, 204);
  const started = Date.now();
  const code = await s.stop();
  t.equal(code, 0, 'exits cleanly');
  t.ok(Date.now() - started < 5000, `exited ${Date.now() - started} ms after SIGTERM (the idle timeout would be ~10 s)`);
  agent.destroy();
  t.equal(readWal(s.dir).length, 1, 'the acknowledged row is there after shutdown');
});

t.test('bodies larger than a quarter of the ring take their own buffer', async (t) => {
  const s = await startServer(['--ingest-buffer-size', '1MiB']);
  t.teardown(() => s.stop());
  const rand = () => Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const series = Array.from({ length: 4000 }, (_, i) => ({ labels: [['__name__', 'big'], ['id', String(i)], ['noise', rand() + rand() + rand()]] as [string, string][], samples: [{ value: i, timestampMs: now }] }));
  const proto = encodeWriteRequestV1(series);
  const r = await remoteWrite(s.url, proto);
  t.equal(r.status, 204, r.body);
  t.equal(readWal(s.dir).length, 4000);
  const m = (await scrape(s.metricsPort)).body;
  t.ok(metricValue(m, 'adxmon_ingestor_request_bytes_total') > 256 * 1024, 'the body was over 256KiB');
  t.equal(metricValue(m, 'adxmon_ingestor_ingest_buffer_used_bytes'), 0, 'released afterwards');
});

t.test('remote write 2.0 native histograms are stored as classic rows, never dropped', async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const h = {
    isFloat: true, count: 10, sum: 3.5, schema: 1, zeroThreshold: 0.001, zeroCount: 2,
    negativeSpans: [], negativeBuckets: [], positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [3, 5],
    customValues: [], resetHint: 0, timestampMs: now,
  };
  const proto = encodeWriteRequestV2([{ labels: [['__name__', 'rpc_duration_seconds'], ['job', 'api']], histograms: [h] }]);
  const r = await remoteWrite(s.url, proto, 2);
  t.equal(r.status, 204, r.body);
  t.equal(r.headers['x-prometheus-remote-write-histograms-written'], '1');
  t.equal(r.headers['x-prometheus-remote-write-samples-written'], '0');
  const rows = readWal(s.dir);
  t.same(rows.filter((x) => x.table === 'RpcDurationSecondsCount').map((x) => x.value), ['10.000000000']);
  t.same(rows.filter((x) => x.table === 'RpcDurationSecondsSum').map((x) => x.value), ['3.500000000']);
  // schema 1: base √2; bucket 0 = (1/√2, 1], bucket 1 = (1, √2]; zero bucket le=0.001
  const buckets = rows.filter((x) => x.table === 'RpcDurationSecondsBucket').map((x) => [x.labels.le, x.value]);
  t.same(buckets, [['0.001', '2.000000000'], ['1', '5.000000000'], ['1.4142135623730951', '10.000000000'], ['+Inf', '10.000000000']]);
  const m = (await scrape(s.metricsPort)).body;
  t.equal(metricValue(m, 'adxmon_ingestor_histograms_stored_total'), 1);
});

t.test('group commit waits only when other requests could share the flush; --wal-writeback and --wal-drop-cache are counted', async (t) => {
  // A 3 s delay: requests that cannot have company are written at once; several sent together
  // share a flush and are all answered, within the delay.
  const s = await startServer(['--group-commit-delay', '3s', '--workers', '1', '--wal-writeback', '1KiB']);
  t.teardown(() => s.stop());
  const noise = (n: number) => Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 36)]).join('');
  const one = (i: number) => encodeWriteRequestV1([{ labels: [['__name__', 'gc'], ['i', String(i)], ['pad', noise(2000)]], samples: [{ value: i, timestampMs: now }] }]);
  // One request after the other, as a Prometheus shard sends: never more than one in flight, so
  // none can share a flush and none waits (10 × 3 s if they did).
  const started = performance.now();
  for (let i = 0; i < 10; i++) t.equal((await remoteWrite(s.url, one(i))).status, 204);
  const sequential = performance.now() - started;
  t.ok(sequential < 2500, `10 sequential requests did not wait out the 3 s delay (${Math.round(sequential)} ms in all)`);
  const together = await Promise.all(Array.from({ length: 6 }, (_, i) => remoteWrite(s.url, one(10 + i))));
  t.same(together.map((r) => r.status), [204, 204, 204, 204, 204, 204], 'requests sent together are all answered');
  t.equal(readWal(s.dir).length, 16);
  const m = (await scrape(s.metricsPort)).body;
  if (process.env.ADX_INGESTOR_TEST_WITHOUT_NATIVE !== '1') {
    const started = metricValue(m, 'adxmon_ingestor_wal_writeback_started_bytes_total');
    const dropped = metricValue(m, 'adxmon_ingestor_wal_cache_dropped_bytes_total');
    t.ok(started > 1024, 'writeback was started and counted');
    t.ok(dropped > 0 && dropped < started, `pages written back were dropped from the page cache (${dropped} of ${started} bytes); the newest range was not`);
  }
});

t.test('new series are counted by where they were prepared (C or TypeScript)', async (t) => {
  const series = (n: number, extra: [string, string][] = []) =>
    Array.from({ length: n }, (_, i) => ({ labels: [['__name__', 'queue_depth'], ['pod', `p-${i}`], ...extra] as [string, string][], samples: [{ value: i, timestampMs: now }] }));
  const count = async (port: number) => {
    const m = (await scrape(port)).body;
    return { native: metricValue(m, 'adxmon_ingestor_new_series_total', { prepared_by: 'native' }), typescript: metricValue(m, 'adxmon_ingestor_new_series_total', { prepared_by: 'typescript' }) };
  };
  const s = await startServer(['--workers', '1']);
  t.teardown(() => s.stop());
  const body = encodeWriteRequestV1([...series(50), ...series(1, [['zone', 'zürich']])]);
  t.equal((await remoteWrite(s.url, body, 1)).status, 204);
  t.same(await count(s.metricsPort), { native: 49, typescript: 2 }, 'the first series of the table and the non-ASCII one in TypeScript, the rest in C');
  t.equal((await remoteWrite(s.url, body, 1)).status, 204);
  t.same(await count(s.metricsPort), { native: 49, typescript: 2 }, 'series seen before are not new');
  t.equal(readWal(s.dir).length, 102);
  const v2 = encodeWriteRequestV2(series(60));
  t.equal((await remoteWrite(s.url.replace('/api/v1/write', '/receive'), v2, 2)).status, 204);
  t.same(await count(s.metricsPort), { native: 59, typescript: 2 }, 'remote write 2.0 goes through C too; the 50 series 1.0 sent before are not new');
  const rows = readWal(s.dir);
  t.equal(rows.length, 162);
  t.equal(rows.filter((r) => r.labels.pod === 'p-55').length, 1, 'a 2.0 series is stored once');

  const dropping = await startServer(['--workers', '1', '--drop-labels', 'queue_depth=zone']);
  t.teardown(() => dropping.stop());
  t.equal((await remoteWrite(dropping.url, encodeWriteRequestV1(series(20)), 1)).status, 204);
  t.same(await count(dropping.metricsPort), { native: 0, typescript: 20 }, '--drop-labels (regular expressions) keeps every new series in TypeScript');
});
