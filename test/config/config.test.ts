import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError, parseDurationMs, parseSize } from '../../src/config/units.js';

t.test('units', async (t) => {
  t.equal(parseSize('x', '10GiB'), 10 * 1024 ** 3);
  t.equal(parseSize('x', '100MB'), 100e6);
  t.equal(parseSize('x', '512KiB'), 512 * 1024);
  t.equal(parseSize('x', '1024'), 1024);
  t.equal(parseSize('x', '1.5KiB'), 1536);
  t.throws(() => parseSize('max-disk-usage', '10 gigs'), /--max-disk-usage: "10 gigs" is not a size/);
  t.throws(() => parseSize('x', '-1'), ConfigError);
  t.equal(parseDurationMs('x', '90s'), 90_000);
  t.equal(parseDurationMs('x', '5m'), 300_000);
  t.equal(parseDurationMs('x', '250ms'), 250);
  t.equal(parseDurationMs('x', '1h30m'), 5_400_000);
  t.throws(() => parseDurationMs('max-segment-age', '5'), /--max-segment-age: "5" is not a duration/);
  t.throws(() => parseDurationMs('x', ''), ConfigError);
});

t.test('defaults are the documented ones', async (t) => {
  const c = loadConfig([], {});
  t.equal(c.server.listenHost, '0.0.0.0');
  t.equal(c.server.listenPort, 9090);
  t.equal(c.server.metricsPort, 9091);
  t.match(c.wal.storageDir, /\/data$/);
  t.equal(c.transform.defaultDatabase, 'Metrics');
  t.equal(c.wal.maxSegmentBytes, 1024 ** 3);
  t.equal(c.wal.maxSegmentAgeMs, 300_000);
  t.equal(c.wal.maxDiskUsageBytes, 10 * 1024 ** 3);
  t.equal(c.wal.maxSegmentCount, 10000);
  t.equal(c.wal.fsync, 'rotate');
  t.equal(c.server.maxRequestBytes, 64 * 1024 ** 2);
  t.equal(c.server.backpressureStatus, 503);
  t.ok(c.workers >= 1);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.wal) && Object.isFrozen(c.transform.liftLabels));
});

t.test('flags, environment and precedence', async (t) => {
  const env = { ADX_INGESTOR_MAX_DISK_USAGE: '1GiB', ADX_INGESTOR_WAL_FSYNC: 'always', ADX_INGESTOR_DROP_METRICS: 'go_.*;process_.*' };
  const c = loadConfig(['--wal-fsync', 'never', '--listen=127.0.0.1:0', '--add-labels', 'cluster=a,region=b', '--add-labels', 'zone=c'], env);
  t.equal(c.wal.maxDiskUsageBytes, 1024 ** 3, 'env applies');
  t.equal(c.wal.fsync, 'never', 'flag beats env');
  t.equal(c.server.listenHost, '127.0.0.1');
  t.equal(c.server.listenPort, 0);
  t.same(c.transform.addLabels, [['cluster', 'a'], ['region', 'b'], ['zone', 'c']]);
  t.same(c.transform.dropMetrics, ['go_.*', 'process_.*']);
});

t.test('lift labels are sorted case-insensitively and may rename', async (t) => {
  const c = loadConfig(['--lift-labels', 'namespace,Pod=PodName,app'], {});
  t.same(c.transform.liftLabels, [{ name: 'app', column: 'app' }, { name: 'namespace', column: 'namespace' }, { name: 'Pod', column: 'PodName' }]);
});

t.test('bad input is refused with the flag named', async (t) => {
  t.throws(() => loadConfig(['--nope', '1'], {}), /unknown flag --nope/);
  t.throws(() => loadConfig(['--wal-fsync', 'sometimes'], {}), /--wal-fsync: "sometimes" is not one of never, rotate, always/);
  t.throws(() => loadConfig(['--workers', '0'], {}), /--workers/);
  t.throws(() => loadConfig(['--listen', 'nonsense'], {}), /--listen/);
  t.throws(() => loadConfig(['--drop-metrics', '(unclosed'], {}), /--drop-metrics: "\(unclosed" is not a valid regex/);
  t.throws(() => loadConfig(['--drop-labels', 'nolabel'], {}), /NAME=VALUE/);
  t.throws(() => loadConfig(['--default-database', 'my-db'], {}), /letters and digits/);
  t.throws(() => loadConfig(['--ingest-buffer-size', '64KiB'], {}), /at least 1MiB/);
  t.throws(() => loadConfig(['--add-labels', 'a='], {}), /empty value/);
  t.throws(() => loadConfig(['--storage-dir'], {}), /needs a value/);
});
