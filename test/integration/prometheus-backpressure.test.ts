/**
 * Prometheus 2.42 remote-writes to an ingestor whose --max-disk-usage is tiny: after a few
 * requests the WAL is over the limit and every request is answered 503 with Retry-After, which
 * Prometheus retries. The ingestor is then stopped gracefully (Prometheus keeps retrying against a
 * closed port) and restarted on the same storage directory and the same port with a large limit.
 * Ground truth is Prometheus's own TSDB (`promtool tsdb dump` after it stopped): every sample in it
 * must be in the WAL of the two runs exactly once, and the WAL must hold nothing else. A 503 means
 * nothing was written, so a refused-then-retried batch must not show up twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { metricValue, readWal, scrape, startServer, tempDir, type TestServer } from '../helpers/server.js';
import {
  describeDiff,
  diffRows,
  expectedRow,
  exposition,
  freePort,
  httpGet,
  needBinaries,
  prometheusConfig,
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

const JOB = 'adxi-prometheus-backpressure';
const bins = needBinaries('prometheus', 'promtool');

t.test('a real Prometheus loses nothing through backpressure and a restart of the ingestor', { skip: bins.skip, timeout: 120_000 }, async (t) => {
  if (bins.missing.length > 0) {
    t.fail(`CI is set but ${bins.missing.join(', ')} is not installed (scripts/install-test-deps.sh installs it)`);
    return;
  }
  const walDir = tempDir('adxi-prom-bp-wal-');
  t.teardown(() => fs.rmSync(walDir, { recursive: true, force: true }));
  // Retry-After 1s (the floor) keeps Prometheus's retries, which honour it, quick.
  // A fixed port, not port 0: uSockets sets SO_REUSEADDR only when given a non-zero port, and the
  // TIME_WAIT connections of a listener without it keep the port from being bound again for ~60 s.
  const first = await waitFor(
    'the first ingestor to start on a free port',
    async () => startServer(['--listen', `127.0.0.1:${await freePort()}`, '--max-disk-usage', '64KiB', '--retry-after', '1s'], { dir: walDir }),
    10_000,
  );
  trackChild(first.proc);
  t.teardown(() => first.stop());
  let second: TestServer | undefined;
  t.teardown(() => second?.stop());

  const target = await startScrapeTarget((n, now) => exposition(n, now));
  t.teardown(() => target.close());

  const dir = tempDir('adxi-prom-bp-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tsdb = path.join(dir, 'tsdb');
  const configFile = writeFile(dir, 'prometheus.yml', prometheusConfig(JOB, target.address, first.url));

  const started = await startOnFreePort(
    t,
    'prometheus',
    bins.paths.prometheus!,
    (port) => [`--config.file=${configFile}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1d', '--log.level=info'],
    (base) => httpGet(`${base}/-/ready`),
  );
  const prom = started.proc;
  const web = started.base;
  const logsOnFailure = () =>
    `prometheus log tail:\n${prom.logs().slice(-3000)}\nfirst ingestor log tail:\n${first.logs().slice(-3000)}\nsecond ingestor log tail:\n${second?.logs().slice(-3000) ?? '(not started)'}`;

  const run = async () => {
    const t0 = Date.now();
    // 1. Backpressure: the first ingestor fills its 64 KiB and starts refusing.
    await waitFor(
      'the first ingestor to refuse a request (disk_full)',
      async () => metricValue((await scrape(first.metricsPort)).body, 'adxmon_ingestor_requests_rejected_total', { reason: 'disk_full' }) > 0,
      30_000,
      250,
    );
    const scrapesAtFull = target.scrapes();
    await waitFor('3 more scrapes while refused', () => target.scrapes() >= scrapesAtFull + 3, 10_000);
    const firstMetrics = (await scrape(first.metricsPort)).body;
    const promWhileFull = await httpGet(`${web}/metrics`);

    // 2. Graceful stop; Prometheus keeps retrying against a closed port for a while.
    const firstExit = await first.stop();
    await sleep(2_000);

    // 3. Same storage dir, same port, a large limit.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 10 && second === undefined; attempt++) {
      try {
        second = await startServer(['--listen', `127.0.0.1:${first.port}`, '--max-disk-usage', '1GiB', '--retry-after', '1s'], { dir: walDir });
        trackChild(second.proc);
      } catch (e) {
        lastErr = e;
        await sleep(500);
      }
    }
    if (second === undefined) throw new Error(`could not restart the ingestor on port ${first.port}: ${String(lastErr)}`);
    const srv2 = second;
    await waitFor('the second ingestor to store samples', async () => metricValue((await scrape(srv2.metricsPort)).body, 'adxmon_ingestor_samples_stored_total') > 0, 20_000);
    const scrapesAtRestart = target.scrapes();
    await waitFor('2 more scrapes after the restart', () => target.scrapes() >= scrapesAtRestart + 2, 10_000);

    // 4. Stop scraping (stale markers), let remote write drain, stop Prometheus.
    fs.writeFileSync(configFile, prometheusConfig(JOB, undefined, srv2.url));
    const reloadsBefore = metricValue(await httpGet(`${web}/metrics`), 'prometheus_config_last_reload_success_timestamp_seconds');
    prom.signal('SIGHUP');
    await waitFor('config reload', async () => metricValue(await httpGet(`${web}/metrics`), 'prometheus_config_last_reload_success_timestamp_seconds') > reloadsBefore, 10_000);
    await waitFor('the target to be dropped', async () => JSON.parse(await httpGet(`${web}/api/v1/targets?state=active`)).data.activeTargets.length === 0, 20_000, 500);
    const scrapesAtReload = target.scrapes();
    await sleep(3_500);

    let last = '';
    await waitFor(
      'remote write to catch up',
      async () => {
        const m = await httpGet(`${web}/metrics`);
        const pending = sumMetric(m, 'prometheus_remote_storage_samples_pending');
        const inTotal = sumMetric(m, 'prometheus_remote_storage_samples_in_total');
        const sent = sumMetric(m, 'prometheus_remote_storage_samples_total');
        const retried = sumMetric(m, 'prometheus_remote_storage_samples_retried_total');
        const now = `${pending}/${inTotal}/${sent}/${retried}`;
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
    const secondMetrics = (await scrape(srv2.metricsPort)).body;
    const secondExit = await srv2.stop();
    t.comment(`run took ${((Date.now() - t0) / 1000).toFixed(1)} s; refused from scrape ${scrapesAtFull}, restarted at scrape ${scrapesAtRestart}, stopped at ${scrapesAtReload}`);
    return { firstMetrics, promWhileFull, firstExit, promMetrics, scrapedAfterReload, truth, secondMetrics, secondExit, wal: readWal(walDir) };
  };
  const r = await run().catch((e: unknown) => {
    t.comment(logsOnFailure());
    throw e;
  });
  const { firstMetrics, promWhileFull, promMetrics, truth, secondMetrics, wal } = r;
  t.equal(r.scrapedAfterReload, 0, 'no scrapes after the target was removed');
  t.equal(r.firstExit, 0, 'first ingestor exits cleanly');
  t.equal(r.secondExit, 0, 'second ingestor exits cleanly');

  // The scenario really happened: refusals with 503, retries, and both runs stored something.
  const rejected = metricValue(firstMetrics, 'adxmon_ingestor_requests_rejected_total', { reason: 'disk_full' });
  t.ok(rejected > 0, `the first ingestor refused ${rejected} requests (disk_full)`);
  const firstAnswers = firstMetrics.split('\n').filter((l) => l.startsWith('adxmon_ingestor_requests_received_total{'));
  t.ok(firstAnswers.some((l) => l.includes('code="503"')), `the first ingestor answered 503: ${firstAnswers.join('; ')}`);
  t.ok(firstAnswers.every((l) => l.includes('code="503"') || l.includes('code="204"')), 'and nothing but 204 and 503');
  const stored1 = metricValue(firstMetrics, 'adxmon_ingestor_samples_stored_total');
  const stored2 = metricValue(secondMetrics, 'adxmon_ingestor_samples_stored_total');
  t.ok(stored1 > 0 && stored2 > 0, `both runs stored samples (${stored1} + ${stored2})`);
  t.ok(sumMetric(promWhileFull, 'prometheus_remote_storage_samples_retried_total') > 0, 'Prometheus was retrying while the ingestor refused');
  t.ok(sumMetric(promMetrics, 'prometheus_remote_storage_samples_retried_total') > 0, 'Prometheus reports retried samples');
  for (const m of ['prometheus_remote_storage_samples_failed_total', 'prometheus_remote_storage_samples_dropped_total']) {
    t.equal(sumMetric(promMetrics, m), 0, `${m} is 0`);
  }
  const secondAnswers = secondMetrics.split('\n').filter((l) => l.startsWith('adxmon_ingestor_requests_received_total{'));
  t.ok(secondAnswers.length > 0 && secondAnswers.every((l) => l.includes('code="204"')), `the second ingestor answered every request 204: ${secondAnswers.join('; ')}`);

  // The ground truth covers both phases and the end-of-run staleness.
  t.ok(truth.every((s) => s.labels.job === JOB), 'every stored series is from the test job');
  t.ok(truth.some((s) => s.labels.__name__ === 'up' && Number.isNaN(s.value)), 'end-of-run stale markers');

  // The proof: WAL rows (both runs) == TSDB samples, as multisets of full rows.
  const expected = truth.map((s) => rowKey(expectedRow(s)));
  const actual = wal.map((row) => rowKey(row));
  const d = diffRows(expected, actual);
  t.equal(d.missing.length + d.extra.length, 0, `WAL rows match Prometheus's TSDB exactly\n${describeDiff(d)}`, { diagnostic: d.missing.length + d.extra.length > 0 });
  if (d.missing.length + d.extra.length > 0) t.comment(logsOnFailure());
  t.equal(wal.length, truth.length, `${truth.length} samples, ${wal.length} rows`);
  t.equal(stored1 + stored2, wal.length, 'the two runs counted every row');
});
