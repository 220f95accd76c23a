import path from 'node:path';
import { SERVE_OPTIONS, envName, type OptionSpec } from './options.js';
import { ConfigError, parseDurationMs, parseSize } from './units.js';

/** Options the decode workers need; plain data so it crosses the worker boundary. */
export interface TransformConfig {
  /** Database for series without an `adxmon_database` label. */
  readonly defaultDatabase: string;
  /** Regex sources, matched against the whole metric name. */
  readonly dropMetrics: readonly string[];
  /** [metric regex, label regex] source pairs, both matched in full. */
  readonly dropLabels: readonly (readonly [string, string])[];
  readonly addLabels: readonly (readonly [string, string])[];
  /** Lifted labels, sorted by lower-cased name (the column order in the CSV). */
  readonly liftLabels: readonly { readonly name: string; readonly column: string }[];
  readonly maxLabelsPerSeries: number;
  readonly maxLabelBytes: number;
  /** Per worker thread; 0 disables the series cache. */
  readonly seriesCacheBytes: number;
  /** Who writes rows of remote write 1.0 series already seen (src/transform/native-hot-path.ts). */
  readonly hotPath: 'auto' | 'native' | 'typescript';
}

export interface WalConfig {
  readonly storageDir: string;
  readonly maxSegmentBytes: number;
  readonly maxSegmentAgeMs: number;
  readonly maxDiskUsageBytes: number;
  readonly maxSegmentCount: number;
  readonly fsync: 'never' | 'rotate' | 'always';
  /** How long a worker's first decoded request may wait for others to share its flush. */
  readonly groupCommitDelayMs: number;
  /** Start writeback (sync_file_range) each time a worker has written this many bytes; 0: off. */
  readonly writebackBytes: number;
  /** Drop WAL pages from the page cache once written back (--wal-drop-cache). */
  readonly dropCache: boolean;
}

export interface ServerConfig {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly maxRequestBytes: number;
  readonly maxDecompressedBytes: number;
  readonly requestTimeoutMs: number;
  readonly ingestBufferBytes: number;
  readonly maxInflightRequests: number;
  /** Status for WAL-over-limit answers: 503 (retried by every sender) or 429. */
  readonly backpressureStatus: 429 | 503;
  readonly retryAfterSeconds: number;
}

export interface Config {
  readonly server: ServerConfig;
  readonly wal: WalConfig;
  readonly transform: TransformConfig;
  readonly workers: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

type Raw = Map<string, string[]>;

/** Reads `--name value`, `--name=value` and `ADX_INGESTOR_*`; command line wins per option. */
function collectRaw(argv: readonly string[], env: NodeJS.ProcessEnv): Raw {
  const byName = new Map(SERVE_OPTIONS.map((o) => [o.name, o]));
  const fromArgs: Raw = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!byName.has(name)) throw new ConfigError(`unknown flag --${name} (see --help)`);
    let value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    fromArgs.set(name, [...(fromArgs.get(name) ?? []), value]);
  }
  const raw: Raw = new Map();
  for (const o of SERVE_OPTIONS) {
    const values = fromArgs.get(o.name) ?? envValues(o, env[envName(o.name)]);
    if (values !== undefined) raw.set(o.name, values);
  }
  return raw;
}

function envValues(o: OptionSpec, text: string | undefined): string[] | undefined {
  if (text === undefined || text === '') return undefined;
  // Regexes may contain commas, so their environment form separates items with newlines or ';'.
  if (o.kind === 'regex-list') return text.split(/[\n;]/).filter((s) => s.trim() !== '');
  return [text];
}

function one(raw: Raw, name: string): string {
  const spec = SERVE_OPTIONS.find((o) => o.name === name)!;
  const values = raw.get(name);
  const v = values?.[values.length - 1] ?? spec.default;
  if (v === undefined) throw new ConfigError(`--${name} is required`);
  if (spec.values && !spec.values.includes(v)) {
    throw new ConfigError(`--${name}: "${v}" is not one of ${spec.values.join(', ')}`);
  }
  return v;
}

function list(raw: Raw, name: string): string[] {
  const spec = SERVE_OPTIONS.find((o) => o.name === name)!;
  const values = raw.get(name) ?? [];
  const items = spec.kind === 'regex-list' ? values : values.flatMap((v) => v.split(','));
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

function int(raw: Raw, name: string, min: number): number {
  const v = one(raw, name);
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`--${name}: "${v}" must be an integer ≥ ${min}`);
  return n;
}

function hostPort(raw: Raw, name: string): [string, number] {
  const v = one(raw, name);
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new ConfigError(`--${name}: "${v}" is not HOST:PORT`);
  return [m[1] === '' ? '0.0.0.0' : m[1]!.replace(/^\[|\]$/g, ''), port];
}

function pair(name: string, item: string): [string, string] {
  const eq = item.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--${name}: "${item}" must be NAME=VALUE`);
  return [item.slice(0, eq), item.slice(eq + 1)];
}

function checkRegex(name: string, source: string): string {
  try {
    new RegExp(`^(?:${source})$`);
  } catch (e) {
    throw new ConfigError(`--${name}: "${source}" is not a valid regex: ${(e as Error).message}`);
  }
  return source;
}

function transformConfig(raw: Raw): TransformConfig {
  const defaultDatabase = one(raw, 'default-database');
  if (!/^[A-Za-z0-9]+$/.test(defaultDatabase)) {
    throw new ConfigError(`--default-database: "${defaultDatabase}" must be letters and digits only`);
  }
  const liftLabels = list(raw, 'lift-labels').map((item) => {
    const [name, column] = item.includes('=') ? pair('lift-labels', item) : [item, item];
    const col = column.replace(/[^A-Za-z0-9_]/g, '');
    if (col === '') throw new ConfigError(`--lift-labels: "${item}" gives an empty column name`);
    return { name, column: col };
  });
  liftLabels.sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0));
  return {
    defaultDatabase,
    dropMetrics: list(raw, 'drop-metrics').map((s) => checkRegex('drop-metrics', s)),
    dropLabels: list(raw, 'drop-labels').map((item) => {
      const [m, l] = pair('drop-labels', item);
      return [checkRegex('drop-labels', m), checkRegex('drop-labels', l)] as const;
    }),
    addLabels: list(raw, 'add-labels').map((item) => {
      const [name, value] = pair('add-labels', item);
      if (value === '') throw new ConfigError(`--add-labels: "${item}" has an empty value (an empty label is no label)`);
      return [name, value] as const;
    }),
    liftLabels,
    maxLabelsPerSeries: int(raw, 'max-labels-per-series', 1),
    maxLabelBytes: parseSize('max-label-bytes', one(raw, 'max-label-bytes')),
    seriesCacheBytes: parseSize('series-cache-size', one(raw, 'series-cache-size')),
    hotPath: one(raw, 'hot-path') as TransformConfig['hotPath'],
  };
}

/** Builds the frozen config from flags and environment; throws `ConfigError` with the flag named. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  const raw = collectRaw(argv, env);
  const [listenHost, listenPort] = hostPort(raw, 'listen');
  const [metricsHost, metricsPort] = hostPort(raw, 'metrics-listen');
  const maxRequestBytes = parseSize('max-request-size', one(raw, 'max-request-size'));
  const ingestBufferBytes = parseSize('ingest-buffer-size', one(raw, 'ingest-buffer-size'));
  if (ingestBufferBytes < 1024 * 1024) throw new ConfigError('--ingest-buffer-size must be at least 1MiB');
  const server: ServerConfig = {
    listenHost,
    listenPort,
    metricsHost,
    metricsPort,
    maxRequestBytes,
    maxDecompressedBytes: parseSize('max-decompressed-size', one(raw, 'max-decompressed-size')),
    requestTimeoutMs: parseDurationMs('request-timeout', one(raw, 'request-timeout')),
    ingestBufferBytes,
    maxInflightRequests: int(raw, 'max-inflight-requests', 1),
    backpressureStatus: Number(one(raw, 'backpressure-status')) as 429 | 503,
    retryAfterSeconds: Math.max(1, Math.ceil(parseDurationMs('retry-after', one(raw, 'retry-after')) / 1000)),
  };
  const wal: WalConfig = {
    storageDir: path.resolve(one(raw, 'storage-dir')),
    maxSegmentBytes: parseSize('max-segment-size', one(raw, 'max-segment-size')),
    maxSegmentAgeMs: parseDurationMs('max-segment-age', one(raw, 'max-segment-age')),
    maxDiskUsageBytes: parseSize('max-disk-usage', one(raw, 'max-disk-usage')),
    maxSegmentCount: int(raw, 'max-segment-count', 1),
    fsync: one(raw, 'wal-fsync') as WalConfig['fsync'],
    groupCommitDelayMs: parseDurationMs('group-commit-delay', one(raw, 'group-commit-delay')),
    writebackBytes: parseSize('wal-writeback', one(raw, 'wal-writeback')),
    dropCache: one(raw, 'wal-drop-cache') === 'on',
  };
  if (wal.maxSegmentBytes < 4096) throw new ConfigError('--max-segment-size must be at least 4KiB');
  if (wal.maxSegmentAgeMs < 100) throw new ConfigError('--max-segment-age must be at least 100ms');
  const config: Config = {
    server,
    wal,
    transform: transformConfig(raw),
    workers: int(raw, 'workers', 1),
    logLevel: one(raw, 'log-level') as Config['logLevel'],
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
