/**
 * The real senders: vmagent and Prometheus in agent mode, scraping the synthetic targets and
 * remote-writing to a receiver. Each is described by how it is configured and started and by how
 * its own `/metrics` tell whether it keeps up (`SenderReading`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, httpGet, shellQuote, spawnReady, type Child } from './child-processes.js';
import { histogramBuckets, parsePromText, sumOrZero, type Bucket, type MetricSample } from './prom-text.js';
import type { SenderName } from './report-types.js';

export type RealSenderName = Exclude<SenderName, 'loadgen'>;

/** One reading of a sender's counters and gauges. */
export interface SenderReading {
  /** Given up on: dropped or failed for good (vmagent counts packets, Prometheus samples). */
  lost: number;
  /** Retried sends and non-2xx answers. */
  retries: number;
  /** Scrapes the sender counts as failed or timed out (vmagent; 0 for Prometheus, see target health). */
  scrapeFailures: number;
  /** Remote-write backlog: bytes (vmagent) or samples (Prometheus). */
  pending: number;
  /** Newest sample taken in minus newest sample sent, s (Prometheus; 0 for vmagent). */
  lagS: number;
  /** Remote-write request durations, s. */
  requestDurations: Bucket[];
}

export interface RealSenderSpec {
  readonly name: RealSenderName;
  readonly binary: string;
  readonly configName: string;
  /** Scrape (and for Prometheus, remote-write) config; JSON is YAML. */
  config(targets: readonly string[], intervalS: number, writeUrl: string): string;
  argv(p: { dir: string; configFile: string; port: number; writeUrl: string }): string[];
  readyPath: string;
  read(m: readonly MetricSample[]): SenderReading;
  /** A backlog this small is normal at `sps` (one batch in the making), whatever the trend. */
  normalPending(sps: number, intervalS: number): number;
}

const JOB = 'synthetic';

function scrapeConfig(targets: readonly string[], intervalS: number) {
  return {
    global: { scrape_interval: `${intervalS}s`, scrape_timeout: `${intervalS}s` },
    scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [...targets] }] }],
  };
}

export const REAL_SENDERS: Readonly<Record<RealSenderName, RealSenderSpec>> = Object.freeze({
  vmagent: {
    name: 'vmagent',
    binary: 'vmagent',
    configName: 'scrape.yml',
    config: (targets, intervalS) => JSON.stringify(scrapeConfig(targets, intervalS)),
    argv: (p) => ['vmagent', `-promscrape.config=${p.configFile}`, `-remoteWrite.url=${p.writeUrl}`, `-remoteWrite.tmpDataPath=${path.join(p.dir, 'queue')}`, `-httpListenAddr=127.0.0.1:${p.port}`, '-loggerLevel=WARN'],
    readyPath: '/health',
    read: (m) => ({
      lost: sumOrZero(m, 'vmagent_remotewrite_packets_dropped_total'),
      retries: sumOrZero(m, 'vmagent_remotewrite_retries_count_total') + sumOrZero(m, 'vmagent_remotewrite_requests_total', (l) => !/^2/.test(l.status_code ?? '')),
      scrapeFailures: sumOrZero(m, 'vm_promscrape_scrapes_failed_total') + sumOrZero(m, 'vm_promscrape_scrapes_timed_out_total'),
      pending: sumOrZero(m, 'vmagent_remotewrite_pending_data_bytes'),
      lagS: 0,
      requestDurations: histogramBuckets(m, 'vmagent_remotewrite_duration_seconds'),
    }),
    // Blocks are snappy-compressed protobuf, a few bytes per sample; a second's worth is normal.
    normalPending: (sps, intervalS) => Math.max(4 << 20, sps * intervalS * 8),
  },
  'prometheus-agent': {
    name: 'prometheus-agent',
    binary: 'prometheus',
    configName: 'prometheus.yml',
    // batch_send_deadline 1s (default 5s) so a partly filled batch at low rates does not look like lag.
    config: (targets, intervalS, writeUrl) => JSON.stringify({ ...scrapeConfig(targets, intervalS), remote_write: [{ url: writeUrl, queue_config: { batch_send_deadline: '1s' } }] }),
    argv: (p) => ['prometheus', '--enable-feature=agent', `--config.file=${p.configFile}`, `--storage.agent.path=${path.join(p.dir, 'agent')}`, `--web.listen-address=127.0.0.1:${p.port}`, '--log.level=warn'],
    readyPath: '/-/ready',
    read: (m) => {
      const highest = sumOrZero(m, 'prometheus_remote_storage_highest_timestamp_in_seconds');
      const sent = sumOrZero(m, 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds');
      return {
        lost: sumOrZero(m, 'prometheus_remote_storage_samples_failed_total') + sumOrZero(m, 'prometheus_remote_storage_samples_dropped_total'),
        retries: sumOrZero(m, 'prometheus_remote_storage_samples_retried_total'),
        scrapeFailures: 0,
        pending: sumOrZero(m, 'prometheus_remote_storage_samples_pending'),
        lagS: sent > 0 ? Math.max(0, highest - sent) : 0,
        requestDurations: histogramBuckets(m, 'prometheus_remote_storage_sent_batch_duration_seconds'),
      };
    },
    normalPending: (sps, intervalS) => Math.max(10_000, sps * intervalS * 2),
  },
});

/** Health of the scrape targets as the sender sees them (`/api/v1/targets`, both senders serve it). */
export interface TargetHealth {
  active: number;
  /** Targets whose health is not "up" ("down", or "unknown" before their first scrape). */
  notUp: number;
  /** What the not-up targets say, e.g. `down×2 (connection refused), unknown×1`. */
  notUpSummary: string;
  /** Longest last scrape, s. */
  slowestScrapeS: number;
}

interface TargetsResponse {
  data: { activeTargets: Array<{ health: string; lastScrapeDuration?: number; lastError?: string }> };
}

export interface RunningSender {
  readonly spec: RealSenderSpec;
  readonly child: Child;
  readonly commands: string[];
  /** Its own /metrics. */
  readonly metricsUrl: string;
  reading(): Promise<SenderReading>;
  targetHealth(): Promise<TargetHealth>;
}

/** Starts `spec` pinned to `cpus`, its config and queue in `dir` (the caller removes it). */
export async function startSender(spec: RealSenderSpec, p: { dir: string; targets: readonly string[]; intervalS: number; writeUrl: string; cpus: string | undefined }): Promise<RunningSender> {
  const configFile = path.join(p.dir, spec.configName);
  const config = spec.config(p.targets, p.intervalS, p.writeUrl);
  fs.writeFileSync(configFile, config);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = await spawnReady(spec.name, spec.argv({ dir: p.dir, configFile, port, writeUrl: p.writeUrl }), { cpus: p.cpus }, `${base}${spec.readyPath}`);
  return {
    spec,
    child,
    commands: [`mkdir -p ${shellQuote(p.dir)}`, `printf '%s\\n' ${shellQuote(config)} > ${shellQuote(configFile)}`, child.command],
    metricsUrl: `${base}/metrics`,
    reading: async () => spec.read(parsePromText(await httpGet(`${base}/metrics`))),
    async targetHealth() {
      const body = JSON.parse(await httpGet(`${base}/api/v1/targets?state=active`)) as TargetsResponse;
      const active = body.data.activeTargets;
      const byHealth = new Map<string, { n: number; error: string | undefined }>();
      for (const t of active.filter((t) => t.health !== 'up')) {
        const h = byHealth.get(t.health) ?? { n: 0, error: undefined };
        h.n++;
        h.error ||= t.lastError || undefined;
        byHealth.set(t.health, h);
      }
      return {
        active: active.length,
        notUp: [...byHealth.values()].reduce((n, h) => n + h.n, 0),
        notUpSummary: [...byHealth].map(([health, h]) => `${health}×${h.n}${h.error ? ` (${h.error})` : ''}`).join(', '),
        slowestScrapeS: Math.max(0, ...active.map((t) => t.lastScrapeDuration ?? 0)),
      };
    },
  };
}
