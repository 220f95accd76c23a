/**
 * Prometheus 2.42 (server mode) scrapes a local target every second and remote-writes to the
 * ingestor. Ground truth is Prometheus's own TSDB, dumped raw with `promtool tsdb dump` after
 * Prometheus has stopped (stale markers included, which the query API would hide): every sample
 * in it must be in the WAL exactly once with the right database, table, SeriesId, labels,
 * timestamp and value, and the WAL must hold nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { metricValue, readWal, scrape, startServer, tempDir } from '../helpers/server.js';
import {
  describeDiff,
  diffRows,
  expectedRow,
  expectedTable,
  exposition,
  httpGet,
  needBinaries,
  prometheusConfig,
  ODD_LABEL_VALUE,
  parsePromtoolDump,
  rowKey,
  runToCompletion,
  sleep,
  startOnFreePort,
  startScrapeTarget,
  trackChild,
  sumMetric,
  waitFor,
  writeFile,
} from '../helpers/senders.js';

const JOB = 'adxi-prometheus';
const SCRAPES = 10;
const bins = needBinaries('prometheus', 'promtool');

t.test('every sample Prometheus remote-writes lands in the WAL, and nothing else', { skip: bins.skip, timeout: 90_000 }, async (t) => {
  if (bins.missing.length > 0) {
    t.fail(`CI is set but ${bins.missing.join(', ')} is not installed (scripts/install-test-deps.sh installs it)`);
    return;
  }
  const server = await startServer();
  trackChild(server.proc);
  t.teardown(() => server.stop());
  t.teardown(() => fs.rmSync(server.dir, { recursive: true, force: true }));
  const target = await startScrapeTarget((n, now) => exposition(n, now));
  t.teardown(() => target.close());

  const dir = tempDir('adxi-prom-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tsdb = path.join(dir, 'tsdb');
  const configFile = writeFile(dir, 'prometheus.yml', prometheusConfig(JOB, target.address, server.url));

  const started = await startOnFreePort(
    t,
    'prometheus',
    bins.paths.prometheus!,
    (port) => [`--config.file=${configFile}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1d', '--log.level=info'],
    (base) => httpGet(`${base}/-/ready`),
  );
  const prom = started.proc;
  const web = started.base;
  const logsOnFailure = () => `prometheus log tail:\n${prom.logs().slice(-3000)}\ningestor log tail:\n${server.logs().slice(-3000)}`;

  // Scrape, stop scraping, let remote write drain; then the ground truth and the WAL.
  const run = async () => {
    await waitFor(`${SCRAPES} scrapes`, () => target.scrapes() >= SCRAPES, 30_000);

    // Remove the target: Prometheus ends the scrape loop and, two intervals later, writes stale
    // markers for every series it had (it does not when the whole job goes, hence an empty target
    // list). After that nothing new is appended.
    fs.writeFileSync(configFile, prometheusConfig(JOB, undefined, server.url));
    const reloadsBefore = metricValue(await httpGet(`${web}/metrics`), 'prometheus_config_last_reload_success_timestamp_seconds');
    prom.signal('SIGHUP');
    await waitFor('config reload', async () => metricValue(await httpGet(`${web}/metrics`), 'prometheus_config_last_reload_success_timestamp_seconds') > reloadsBefore, 10_000);
    // The target list reaches the scrape manager through discovery, which batches updates (5 s).
    await waitFor('the target to be dropped', async () => JSON.parse(await httpGet(`${web}/api/v1/targets?state=active`)).data.activeTargets.length === 0, 20_000, 500);
    const scrapesAtReload = target.scrapes();
    await sleep(3_500); // end-of-run staleness fires two scrape intervals after the loop stopped

    // Remote write caught up: nothing pending, every sample that went into storage went out, and
    // that stays so for a second (so the stale markers are included).
    let last = '';
    await waitFor(
      'remote write to catch up',
      async () => {
        const m = await httpGet(`${web}/metrics`);
        const pending = sumMetric(m, 'prometheus_remote_storage_samples_pending');
        const inTotal = sumMetric(m, 'prometheus_remote_storage_samples_in_total');
        const sent = sumMetric(m, 'prometheus_remote_storage_samples_total');
        const now = `${pending}/${inTotal}/${sent}`;
        const done = pending === 0 && inTotal > 0 && sent >= inTotal && now === last;
        last = now;
        return done;
      },
      20_000,
      1_000,
    );
    const promMetrics = await httpGet(`${web}/metrics`);
    const scrapedAfterReload = target.scrapes() - scrapesAtReload;
    await prom.stop(15_000);

    const truth = parsePromtoolDump(await runToCompletion(bins.paths.promtool!, ['tsdb', 'dump', tsdb], 60_000));
    const ingestorMetrics = (await scrape(server.metricsPort)).body;
    const serverExit = await server.stop();
    return { promMetrics, scrapedAfterReload, truth, ingestorMetrics, serverExit, wal: readWal(server.dir) };
  };
  const { promMetrics, scrapedAfterReload, truth, ingestorMetrics, serverExit, wal } = await run().catch((e: unknown) => {
    t.comment(logsOnFailure());
    throw e;
  });
  t.equal(scrapedAfterReload, 0, 'no scrapes after the target was removed');
  t.equal(serverExit, 0, 'ingestor exits cleanly');

  // The ground truth covers what the test meant to produce.
  const names = new Set(truth.map((s) => s.labels.__name__));
  for (const n of ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'adxi_requests_total', 'adxi_temperature_celsius', 'adxi:weird__name_2xx:ratio', 'adxi_label_escapes', 'adxi_latency_seconds_bucket', 'adxi_latency_seconds_sum', 'adxi_latency_seconds_count', 'adxi_flapping', 'adxi_special', 'adxi_explicit_timestamp', 'adxi_routed']) {
    t.ok(names.has(n), `Prometheus stored ${n}`);
  }
  t.ok(truth.every((s) => s.labels.job === JOB), 'every stored series is from the test job');
  t.ok(truth.filter((s) => s.labels.__name__ === 'up').length >= SCRAPES, `at least ${SCRAPES} scrapes stored`);
  const staleMarkers = truth.filter((s) => Number.isNaN(s.value) && s.labels.kind !== 'nan');
  t.ok(staleMarkers.some((s) => s.labels.__name__ === 'adxi_flapping'), 'a stale marker for the series that disappeared mid-run');
  t.ok(staleMarkers.some((s) => s.labels.__name__ === 'up'), 'end-of-run stale markers');

  // The oracle itself, pinned on a few hand-checked rows.
  t.equal(expectedTable('adxi:weird__name_2xx:ratio'), 'AdxiWeirdName2xxRatio');
  t.equal(expectedTable('scrape_duration_seconds'), 'ScrapeDurationSeconds');
  t.ok(wal.some((r) => r.table === 'AdxiLabelEscapes' && r.labels.path === ODD_LABEL_VALUE && r.value === '7.000000000'), 'the odd label value survives');
  t.ok(wal.some((r) => r.table === 'AdxiSpecial' && r.labels.kind === 'big' && r.value === '15000000000000000000000.000000000'), 'values over 1e21 are printed in full');
  t.ok(wal.some((r) => r.table === 'AdxiSpecial' && r.labels.kind === 'negzero' && r.value === '0.000000000'), '-0 arrives as 0: proto3 drops a zero double on the wire');
  t.ok(wal.some((r) => r.table === 'AdxiTemperatureCelsius' && JSON.stringify(Object.keys(r.labels)) === '["alpha","floor","instance","job","room","zeta","Zone"]'), 'label keys sorted case-insensitively');

  // The proof: WAL rows == TSDB samples, as multisets of full rows.
  const expected = truth.map((s) => rowKey(expectedRow(s)));
  const actual = wal.map((r) => rowKey(r));
  const d = diffRows(expected, actual);
  t.equal(d.missing.length + d.extra.length, 0, `WAL rows match Prometheus's TSDB exactly\n${describeDiff(d)}`, { diagnostic: d.missing.length + d.extra.length > 0 });
  if (d.missing.length + d.extra.length > 0) t.comment(logsOnFailure());
  t.equal(wal.length, truth.length, `${truth.length} samples, ${wal.length} rows`);
  t.ok(wal.every((r) => r.database === (r.table === 'AdxiRouted' ? 'OtherDB' : 'Metrics') && r.lifted.length === 0), 'adxmon_database routes, others in the default database, no lifted columns');
  t.ok(wal.some((r) => r.table === 'AdxiRouted' && r.labels.adxmon_database === undefined), 'adxmon_ labels are not in Labels');

  // Both sides agree on the counts, and nothing was retried, dropped or refused.
  t.equal(metricValue(ingestorMetrics, 'adxmon_ingestor_samples_stored_total'), wal.length, 'ingestor counted every row');
  for (const m of ['prometheus_remote_storage_samples_failed_total', 'prometheus_remote_storage_samples_retried_total', 'prometheus_remote_storage_samples_dropped_total', 'prometheus_remote_storage_metadata_failed_total']) {
    t.equal(sumMetric(promMetrics, m), 0, m);
  }
  t.ok(sumMetric(promMetrics, 'prometheus_remote_storage_metadata_total') > 0, 'metadata-only requests were sent and accepted');
  t.equal(sumMetric(promMetrics, 'prometheus_remote_storage_samples_total'), wal.length, 'Prometheus sent as many samples as the WAL holds');
  const answers = ingestorMetrics.split('\n').filter((l) => l.startsWith('adxmon_ingestor_requests_received_total{'));
  t.ok(answers.length > 0 && answers.every((l) => l.includes('code="204"')), `every request answered 204: ${answers.join('; ')}`);
});
