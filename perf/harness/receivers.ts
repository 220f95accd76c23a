/**
 * The receivers measured side by side, and starting one: pinned with `taskset`, on free loopback
 * ports, with a fresh data directory that `stop()` removes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, httpGet, makeTempDir, removeTempDir, REPO_ROOT, shellQuote, spawnReady, type Child } from './child-processes.js';
import { histogramBuckets, parsePromText, trySum, type Bucket, type LabelMatch } from './prom-text.js';
import { treeCpuSeconds, treePeakRssMiB } from './proc-stats.js';
import type { ReceiverName } from './report-types.js';

export type Protocol = '1.0' | '2.0';

interface StartParams {
  port: number;
  /** Separate metrics port (the ingestor); the main port otherwise. */
  metricsPort: number;
  /** CPUs the receiver is pinned to. */
  cores: number;
  /** Disk the receiver may fill (the ingestor's WAL is never uploaded during a run). */
  maxDiskGiB: number;
}

export interface ReceiverSpec {
  readonly name: ReceiverName;
  readonly protocols: readonly Protocol[];
  /** The executable; found on PATH or installed by `scripts/install-test-deps.sh`. */
  readonly binary: string;
  readonly separateMetricsPort: boolean;
  /** Config files written into the data directory before start: name → content. */
  files(dir: string): Record<string, string>;
  argv(dir: string, p: StartParams): string[];
  readyPath: string;
  /** Counter of samples the receiver stored (to cross-check what a sender delivered). */
  storedSamplesMetric: string;
  /**
   * Its own histogram of remote-write request durations, when it keeps one (VictoriaMetrics does
   * not): the receiver's view of latency, beside the sender's, which includes the sender's own
   * scheduling on a busy core.
   */
  requestDurationMetric?: { name: string; match?: LabelMatch };
}

/** An empty-ish config: Prometheus only receives (no scrape jobs). */
const PROMETHEUS_RECEIVER_CONFIG = JSON.stringify({ global: { scrape_interval: '1m' } });

export const RECEIVERS: Readonly<Record<ReceiverName, ReceiverSpec>> = Object.freeze({
  'adx-ingestor': {
    name: 'adx-ingestor',
    protocols: ['1.0', '2.0'],
    binary: 'node',
    separateMetricsPort: true,
    files: () => ({}),
    // Nothing uploads the WAL here, so it only grows (~130 bytes per sample): --max-disk-usage
    // keeps its default 10GiB from refusing writes in the middle of a long run.
    argv: (dir, p) => [
      'node', 'dist/src/cli.js', 'serve',
      '--storage-dir', path.join(dir, 'wal'),
      '--listen', `127.0.0.1:${p.port}`,
      '--metrics-listen', `127.0.0.1:${p.metricsPort}`,
      '--workers', String(p.cores),
      '--log-level', 'warn',
      '--max-disk-usage', `${p.maxDiskGiB}GiB`,
      // For A/B runs of a server flag (e.g. --wal-writeback 0); recorded in the result's command.
      ...(process.env.ADX_INGESTOR_PERF_ARGS ?? '').split(/\s+/).filter((a) => a !== ''),
    ],
    readyPath: '/readyz',
    storedSamplesMetric: 'adxmon_ingestor_samples_stored_total',
    requestDurationMetric: { name: 'adxmon_ingestor_request_duration_seconds' },
  },
  'victoria-metrics': {
    name: 'victoria-metrics',
    protocols: ['1.0'],
    binary: 'victoria-metrics',
    separateMetricsPort: false,
    files: () => ({}),
    argv: (dir, p) => ['victoria-metrics', '-storageDataPath', path.join(dir, 'vm'), '-httpListenAddr', `127.0.0.1:${p.port}`, '-loggerLevel', 'WARN'],
    readyPath: '/health',
    storedSamplesMetric: 'vm_rows_inserted_total',
  },
  prometheus: {
    name: 'prometheus',
    protocols: ['1.0'],
    binary: 'prometheus',
    separateMetricsPort: false,
    files: () => ({ 'prometheus.yml': PROMETHEUS_RECEIVER_CONFIG }),
    argv: (dir, p) => [
      'prometheus',
      '--web.enable-remote-write-receiver',
      `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${p.port}`,
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      '--log.level=warn',
    ],
    readyPath: '/-/ready',
    storedSamplesMetric: 'prometheus_tsdb_head_samples_appended_total',
    requestDurationMetric: { name: 'prometheus_http_request_duration_seconds', match: (l) => l.handler === '/api/v1/write' },
  },
});

export function isReceiverName(s: string): s is ReceiverName {
  return Object.hasOwn(RECEIVERS, s);
}

/** Executables on PATH; undefined when missing. */
export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin']) {
    if (dir === '') continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Makes sure `binaries` are installed, running `scripts/install-test-deps.sh` (Debian packages) once if not. */
export function ensureBinaries(binaries: readonly string[], log: (line: string) => void): void {
  const missing = () => binaries.filter((b) => findBinary(b) === undefined);
  if (missing().length === 0) return;
  log(`missing ${missing().join(', ')}: installing Debian packages with bash scripts/install-test-deps.sh`);
  execFileSync('bash', ['scripts/install-test-deps.sh'], { cwd: REPO_ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  const still = missing();
  if (still.length > 0) throw new Error(`still missing after scripts/install-test-deps.sh: ${still.join(', ')}`);
}

/** The note on how much a receiver wrote, e.g. "data directory at the end of the run: 6.21 GiB". */
export function dataNote(r: RunningReceiver): string {
  return `data directory at the end of the run: ${(r.dataBytes() / 2 ** 30).toFixed(2)} GiB`;
}

export interface ReceiverReading {
  /** Samples stored so far (`storedSamplesMetric`); undefined when not exposed (yet). */
  storedSamples: number | undefined;
  /** Its remote-write request-duration histogram (`requestDurationMetric`); undefined when it keeps none. */
  requestDurations: Bucket[] | undefined;
}

export interface RunningReceiver {
  readonly spec: ReceiverSpec;
  readonly pid: number;
  readonly writeUrl: string;
  readonly metricsUrl: string;
  /** What a reader runs to repeat it: config files written, then the command. */
  readonly commands: string[];
  readonly child: Child;
  /** CPU seconds used so far (the whole process, all threads and children). */
  cpuSeconds(): number;
  /** Peak resident set so far (VmHWM), MiB. */
  peakRssMiB(): number;
  /** The receiver's own count of stored samples; undefined when it does not expose it (yet). */
  storedSamples(): Promise<number | undefined>;
  /** That count and its request-duration histogram, from one reading of its /metrics. */
  reading(): Promise<ReceiverReading>;
  /** Bytes in its data directory now. */
  dataBytes(): number;
  /** Stops it and removes its data directory. */
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Half the free space where the data goes, at most 64 GiB, at least the ingestor's default 10 GiB. */
function maxDiskGiB(dir: string): number {
  const s = fs.statfsSync(dir);
  return Math.max(10, Math.min(64, Math.floor((s.bavail * s.bsize) / 2 ** 30 / 2)));
}

/** Bytes of the files under `dir`. */
export function directoryBytes(dir: string): number {
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    try {
      bytes += fs.statSync(path.join(e.parentPath, e.name)).size;
    } catch {
      // removed meanwhile
    }
  }
  return bytes;
}

async function startOnce(spec: ReceiverSpec, cpus: string, dir: string, fixedPort: number | undefined): Promise<RunningReceiver> {
  const port = fixedPort ?? (await freePort());
  const ports = { port, metricsPort: spec.separateMetricsPort ? await freePort() : port };
  const argv = spec.argv(dir, { ...ports, cores: cpus.split(',').length, maxDiskGiB: maxDiskGiB(dir) });
  const commands = [`mkdir -p ${shellQuote(dir)}`];
  for (const [name, content] of Object.entries(spec.files(dir))) {
    fs.writeFileSync(path.join(dir, name), content);
    commands.push(`printf '%s\\n' ${shellQuote(content)} > ${shellQuote(path.join(dir, name))}`);
  }
  const metricsBase = `http://127.0.0.1:${ports.metricsPort}`;
  const child = await spawnReady(spec.name, argv, { cpus }, `${metricsBase}${spec.readyPath}`, () => canConnect(port));
  commands.push(child.command);
  /** One reading of its /metrics: the stored-samples count and the request-duration histogram. */
  const reading = async (): Promise<ReceiverReading> => {
    const m = parsePromText(await httpGet(`${metricsBase}/metrics`));
    const h = spec.requestDurationMetric;
    return { storedSamples: trySum(m, spec.storedSamplesMetric), requestDurations: h === undefined ? undefined : histogramBuckets(m, h.name, h.match) };
  };
  return {
    spec,
    pid: child.pid,
    writeUrl: `http://127.0.0.1:${port}/api/v1/write`,
    metricsUrl: `${metricsBase}/metrics`,
    commands,
    child,
    cpuSeconds: () => treeCpuSeconds(child.pid),
    peakRssMiB: () => treePeakRssMiB(child.pid),
    dataBytes: () => directoryBytes(dir),
    storedSamples: async () => (await reading()).storedSamples,
    reading,
    async stop() {
      await child.stop(10_000);
      removeTempDir(dir);
    },
  };
}

/**
 * Starts `spec` pinned to `cpus` with a fresh data directory, listening on `port` (a free one
 * when undefined); retries when a port was taken meanwhile. Dirty pages (the previous receiver's,
 * anyone's) are written back first, so this one's writes and fsyncs do not wait behind gigabytes
 * of someone else's.
 */
export async function startReceiver(spec: ReceiverSpec, cpus: string, port?: number): Promise<RunningReceiver> {
  execFileSync('sync', { timeout: 120_000 });
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = makeTempDir(`adxi-perf-${spec.name}-`);
    try {
      return await startOnce(spec, cpus, dir, port);
    } catch (err) {
      removeTempDir(dir);
      last = err;
    }
  }
  throw last;
}
