/**
 * vmagent 1.79 scrapes a local target every second and remote-writes the same data to two URLs:
 * the ingestor and a single-node VictoriaMetrics, which is the ground truth. After scraping stops
 * (vmagent then sends stale markers for the target's series) and both queues have drained, every
 * sample VictoriaMetrics exports for the job must be in the WAL exactly once with the right
 * database, table, SeriesId, labels, timestamp and value, and the WAL must hold nothing else.
 *
 * VictoriaMetrics keeps values as decimals and drops plain NaN samples, so the target here serves
 * no special values (the Prometheus test covers those); stale markers come back as `null` and
 * must be `NaN` rows.
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
  httpGet,
  needBinaries,
  ODD_LABEL_VALUE,
  parseVmExport,
  rowKey,
  startOnFreePort,
  startScrapeTarget,
  trackChild,
  sumMetric,
  waitFor,
  writeFile,
  type SentSample,
} from '../helpers/senders.js';

const JOB = 'adxi-vmagent';
const SCRAPES = 10;
const bins = needBinaries('vmagent', 'victoria-metrics');

function scrapeConfig(target: string | undefined): string {
  return JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s' },
    scrape_configs: [{ job_name: JOB, static_configs: [{ targets: target === undefined ? [] : [target] }] }],
  });
}

async function vmExport(vm: string): Promise<SentSample[]> {
  await httpGet(`${vm}/internal/force_flush`);
  return parseVmExport(await httpGet(`${vm}/api/v1/export?match[]=${encodeURIComponent(`{job="${JOB}"}`)}`));
}

function walDiff(truth: SentSample[], server: TestServer) {
  const expected = truth.map((s) => rowKey(expectedRow(s)));
  return diffRows(expected, readWal(server.dir).map((r) => rowKey(r)));
}

t.test('every sample vmagent remote-writes lands in the WAL, and nothing else', { skip: bins.skip, timeout: 90_000 }, async (t) => {
  if (bins.missing.length > 0) {
    t.fail(`CI is set but ${bins.missing.join(', ')} is not installed (scripts/install-test-deps.sh installs it)`);
    return;
  }
  const server = await startServer();
  trackChild(server.proc);
  t.teardown(() => server.stop());
  t.teardown(() => fs.rmSync(server.dir, { recursive: true, force: true }));
  const target = await startScrapeTarget((n, now) => exposition(n, now, { special: false }));
  t.teardown(() => target.close());
  const dir = tempDir('adxi-vmagent-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const configFile = writeFile(dir, 'scrape.yml', scrapeConfig(target.address));

  const vm = await startOnFreePort(
    t,
    'victoria-metrics',
    bins.paths['victoria-metrics']!,
    (port) => [`-storageDataPath=${path.join(dir, 'vm')}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=1', '-search.latencyOffset=0s', '-search.disableCache', '-selfScrapeInterval=0', '-loggerLevel=WARN'],
    (base) => httpGet(`${base}/health`),
  );
  const agent = await startOnFreePort(
    t,
    'vmagent',
    bins.paths.vmagent!,
    (port) => [
      `-promscrape.config=${configFile}`,
      `-remoteWrite.url=${server.url}`,
      `-remoteWrite.url=${vm.base}/api/v1/write`,
      '-remoteWrite.flushInterval=1s',
      `-remoteWrite.tmpDataPath=${path.join(dir, 'vmagent')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-loggerLevel=WARN',
    ],
    (base) => httpGet(`${base}/health`),
  );
  const logsOnFailure = () => `vmagent log tail:\n${agent.proc.logs().slice(-3000)}\nvictoria-metrics log tail:\n${vm.proc.logs().slice(-2000)}\ningestor log tail:\n${server.logs().slice(-3000)}`;

  // Scrape, stop scraping, let both queues drain; then the ground truth and the WAL.
  const run = async () => {
    await waitFor(`${SCRAPES} scrapes`, () => target.scrapes() >= SCRAPES, 30_000);

    // Remove the target: vmagent stops its scraper and sends stale markers for its series.
    fs.writeFileSync(configFile, scrapeConfig(undefined));
    agent.proc.signal('SIGHUP');
    await waitFor('the scraper to stop', async () => sumMetric(await httpGet(`${agent.base}/metrics`), 'vm_promscrape_active_scrapers') === 0, 15_000);
    const scrapesAfterStop = target.scrapes();

    // Both remote-write queues drained and stay drained; then VictoriaMetrics has what vmagent sent.
    let last = '';
    await waitFor(
      'vmagent queues to drain',
      async () => {
        const m = await httpGet(`${agent.base}/metrics`);
        const now = [
          sumMetric(m, 'vm_promscrape_stale_samples_created_total'),
          sumMetric(m, 'vmagent_remotewrite_pending_data_bytes'),
          sumMetric(m, 'vm_persistentqueue_bytes_pending'),
          sumMetric(m, 'vmagent_remotewrite_requests_total'),
        ].join('/');
        const done = now === last && /^[^/]+\/0\/0\//.test(now);
        last = now;
        return done;
      },
      20_000,
      1_000,
    );
    const agentMetrics = await httpGet(`${agent.base}/metrics`);
    // Poll until VictoriaMetrics shows everything (its in-memory parts become searchable shortly).
    let truth: SentSample[] = [];
    await waitFor(
      'VictoriaMetrics and the WAL to agree',
      async () => {
        truth = await vmExport(vm.base);
        const d = walDiff(truth, server);
        return d.missing.length + d.extra.length === 0;
      },
      15_000,
      500,
    ).catch(() => undefined); // the assertion below reports the difference
    const scrapedAfterStop = target.scrapes() - scrapesAfterStop;

    await agent.proc.stop(10_000);
    await vm.proc.stop(10_000);
    const ingestorMetrics = (await scrape(server.metricsPort)).body;
    const serverExit = await server.stop();
    return { agentMetrics, scrapedAfterStop, truth, ingestorMetrics, serverExit, wal: readWal(server.dir) };
  };
  const { agentMetrics, scrapedAfterStop, truth, ingestorMetrics, serverExit, wal } = await run().catch((e: unknown) => {
    t.comment(logsOnFailure());
    throw e;
  });
  t.equal(scrapedAfterStop, 0, 'no scrapes after the target was removed');
  t.equal(serverExit, 0, 'ingestor exits cleanly');

  // The ground truth covers what the test meant to produce.
  const names = new Set(truth.map((s) => s.labels.__name__));
  for (const n of ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'adxi_requests_total', 'adxi_temperature_celsius', 'adxi:weird__name_2xx:ratio', 'adxi_label_escapes', 'adxi_latency_seconds_bucket', 'adxi_latency_seconds_sum', 'adxi_latency_seconds_count', 'adxi_flapping', 'adxi_explicit_timestamp', 'adxi_routed']) {
    t.ok(names.has(n), `VictoriaMetrics stored ${n}`);
  }
  t.ok(truth.filter((s) => s.labels.__name__ === 'up').length >= SCRAPES, `at least ${SCRAPES} scrapes stored`);
  t.ok(truth.some((s) => Number.isNaN(s.value) && s.labels.__name__ === 'adxi_flapping'), 'a stale marker for the series that disappeared mid-run');
  t.ok(truth.some((s) => Number.isNaN(s.value) && s.labels.__name__ === 'up'), 'stale markers when the target went away');
  t.ok(wal.some((r) => r.table === 'AdxiLabelEscapes' && r.labels.path === ODD_LABEL_VALUE && r.value === '7.000000000'), 'the odd label value survives');
  t.ok(wal.some((r) => r.table === 'AdxiRouted' && r.database === 'OtherDB' && r.labels.adxmon_database === undefined), 'adxmon_database routes the series');

  // The proof: WAL rows == what vmagent delivered to VictoriaMetrics, as multisets of full rows.
  const final = diffRows(truth.map((s) => rowKey(expectedRow(s))), wal.map((r) => rowKey(r)));
  t.equal(final.missing.length + final.extra.length, 0, `WAL rows match VictoriaMetrics exactly\n${describeDiff(final)}`);
  if (final.missing.length + final.extra.length > 0) t.comment(logsOnFailure());
  t.equal(wal.length, truth.length, `${truth.length} samples, ${wal.length} rows`);

  t.equal(metricValue(ingestorMetrics, 'adxmon_ingestor_samples_stored_total'), wal.length, 'ingestor counted every row');
  for (const m of ['vmagent_remotewrite_packets_dropped_total', 'vmagent_remotewrite_errors_total', 'vmagent_remotewrite_retries_count_total', 'vm_persistentqueue_blocks_dropped_total']) {
    t.equal(sumMetric(agentMetrics, m), 0, m);
  }
  // -remoteWrite.url 1 is the ingestor, 2 is VictoriaMetrics (vmagent hides URLs behind their index).
  t.equal(metricValue(agentMetrics, 'vmagent_remotewrite_rows_pushed_after_relabel_total', { url: '1:secret-url' }), wal.length, 'vmagent pushed as many rows to the ingestor as the WAL holds');
  t.equal(metricValue(agentMetrics, 'vmagent_remotewrite_rows_pushed_after_relabel_total', { url: '2:secret-url' }), truth.length, 'and as many to VictoriaMetrics as it exports');
  const retries = agentMetrics.split('\n').filter((l) => l.startsWith('vmagent_remotewrite_requests_total{') && !l.includes('status_code="2'));
  t.same(retries, [], 'vmagent saw no non-2xx answers');
  const answers = ingestorMetrics.split('\n').filter((l) => l.startsWith('adxmon_ingestor_requests_received_total{'));
  t.ok(answers.length > 0 && answers.every((l) => l.includes('code="204"')), `every request answered 204: ${answers.join('; ')}`);
});
