import os from 'node:os';

/**
 * Every flag of `adx-ingestor serve`, in one table: the help text, the parser and the default all
 * come from here. Each is also settable as `ADX_INGESTOR_<NAME>` (upper case, `-` → `_`); a flag
 * on the command line wins over the environment.
 */
export type OptionKind = 'hostport' | 'string' | 'size' | 'duration' | 'int' | 'enum' | 'list' | 'regex-list';

export interface OptionSpec {
  readonly name: string;
  readonly kind: OptionKind;
  /** Default as the user would type it; `undefined` for lists (empty). */
  readonly default?: string;
  readonly values?: readonly string[];
  readonly help: string;
}

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { name: 'listen', kind: 'hostport', default: '0.0.0.0:9090', help: 'Ingest endpoints (/api/v1/write, /receive). Port 0 picks a free port (logged).' },
  { name: 'metrics-listen', kind: 'hostport', default: '0.0.0.0:9091', help: '/metrics, /readyz and /healthz.' },
  { name: 'storage-dir', kind: 'string', default: './data', help: 'WAL directory; created if missing.' },
  { name: 'default-database', kind: 'string', default: 'Metrics', help: 'ADX database for series without an adxmon_database label.' },
  { name: 'max-segment-size', kind: 'size', default: '1GiB', help: 'Rotate an active segment at this size (ADX wants 100 MB–1 GB batches).' },
  { name: 'max-segment-age', kind: 'duration', default: '5m', help: 'Rotate an active segment this long after it was created (up to 10% sooner, so tables do not all rotate at once).' },
  { name: 'max-disk-usage', kind: 'size', default: '10GiB', help: 'Reject writes (see --backpressure-status) while the WAL holds more than this.' },
  { name: 'max-segment-count', kind: 'int', default: '10000', help: 'Reject writes while the WAL holds more segment files than this.' },
  { name: 'wal-fsync', kind: 'enum', default: 'rotate', values: ['never', 'rotate', 'always'], help: 'never: leave it to the OS; rotate: fsync a segment when it closes; always: group commit, fsync before every acknowledgement.' },
  { name: 'group-commit-delay', kind: 'duration', default: '5ms', help: 'A worker writes what it has decoded at most this long after the first request of the batch (sooner once 8 MiB wait, or once the worker holds the 8 requests it takes at a time): one block and one write per table for many requests. 0ms: write as soon as the worker is idle (lowest latency at low load, far more writes under moderate load).' },
  { name: 'wal-writeback', kind: 'size', default: '4MiB', help: 'Each time a worker has written this much to the WAL, ask the kernel to start writing its new bytes to disk, whole pages only (sync_file_range, needs the native addon; no wait, no fsync; a segment\'s partial last page goes with the next step, so no page is written twice). A segment waits until it has a 64th of this (64 KiB at 4MiB), so many tables do not mean many tiny writebacks. Keeps dirty WAL pages to a few MiB instead of letting them pile up to gigabytes for the kernel to flush at once. 0: off (leave it to the kernel).' },
  { name: 'wal-drop-cache', kind: 'enum', default: 'on', values: ['on', 'off'], help: 'on: drop WAL pages from the page cache once written back (posix_fadvise DONTNEED, needs the native addon): at each --wal-writeback step the range of the step before, after each fsync with --wal-fsync=always, and the rest when a segment closes. The WAL then cycles through a few hot MiB instead of filling the page cache (and a pod\'s memory cgroup) with data read again only at upload. off: leave them to the kernel.' },
  { name: 'workers', kind: 'int', default: String(Math.max(1, os.availableParallelism())), help: 'Decode/WAL worker threads (default: number of cores).' },
  { name: 'drop-metrics', kind: 'regex-list', help: 'Drop series whose metric name matches this regex (repeatable; full match).' },
  { name: 'drop-labels', kind: 'regex-list', help: 'METRIC_REGEX=LABEL_REGEX: drop matching labels from matching metrics before SeriesId is computed (repeatable).' },
  { name: 'add-labels', kind: 'list', help: 'NAME=VALUE added to every series, replacing a label of the same name (repeatable or comma-separated).' },
  { name: 'lift-labels', kind: 'list', help: 'NAME[=Column]: store this label in its own string column instead of Labels (repeatable or comma-separated).' },
  { name: 'series-cache-size', kind: 'size', default: '128MiB', help: 'Per worker: memory for the cache of series already seen (their SeriesId and Labels text); 0 disables. Size it to hold the active series a worker sees (~400–600 bytes each with 7–9 labels: 128MiB holds ~250 k); a series not in it costs several times the work.' },
  { name: 'hot-path', kind: 'enum', default: 'auto', values: ['auto', 'native', 'typescript'], help: 'Remote write rows (1.0, and 2.0 rewritten as 1.0): native (the C addon in native/, refuse to start without it), typescript, or auto (native when it loads, else typescript with a warning). Whenever the addon loads it also decodes request bodies and compresses WAL blocks, whatever this says.' },
  { name: 'max-request-size', kind: 'size', default: '64MiB', help: 'Largest accepted (compressed) body; larger gets 413.' },
  { name: 'max-decompressed-size', kind: 'size', default: '128MiB', help: 'Largest accepted decompressed body, checked from the snappy preamble before decompressing; larger gets 413.' },
  { name: 'max-labels-per-series', kind: 'int', default: '256', help: 'A series with more labels gets the request a 400.' },
  { name: 'max-label-bytes', kind: 'size', default: '16KiB', help: 'Longest label name or value; longer gets the request a 400.' },
  { name: 'request-timeout', kind: 'duration', default: '60s', help: 'A request whose body has not fully arrived by then gets 408 and the connection is closed.' },
  { name: 'ingest-buffer-size', kind: 'size', default: '64MiB', help: 'Shared ring the request bodies are copied into for the workers (all of it becomes resident); bodies over a quarter of it get their own buffer, up to this size or one --max-request-size in flight. When full, requests get 503.' },
  { name: 'max-inflight-requests', kind: 'int', default: '512', help: 'Requests being received or decoded at once; more get 503.' },
  { name: 'backpressure-status', kind: 'enum', default: '503', values: ['429', '503'], help: 'Status while the WAL is over its limits. 503 because Prometheus retries it; Prometheus drops batches answered 429 unless retry_on_http_429 is set.' },
  { name: 'retry-after', kind: 'duration', default: '5s', help: 'Retry-After sent with backpressure and overload answers.' },
  { name: 'log-level', kind: 'enum', default: 'info', values: ['debug', 'info', 'warn', 'error'], help: 'JSON logs on stderr at this level and above.' },
];

export function envName(option: string): string {
  return `ADX_INGESTOR_${option.toUpperCase().replaceAll('-', '_')}`;
}
