import fs from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { WalConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { checkSegment } from './repair.js';
import { tryIdTimeMs, tryParseSegmentName } from './segment-name.js';
import type { WalDelta } from './wal-writer.js';

/** While start-up recovery runs longer than this, it logs its progress this often. */
const RECOVERY_PROGRESS_MS = 2000;

export interface SegmentEntry {
  readonly path: string;
  readonly database: string;
  readonly table: string;
  readonly createdAtMs: number;
  /** Size when last reported (exact for closed segments; active ones grow between reports). */
  size: number;
  active: boolean;
}

/**
 * The main thread's view of the WAL directory: every segment, its size, and whether a worker
 * still appends to it. Workers report what they do as `WalDelta`s; this is the only place that
 * decides whether the WAL is over its limits.
 */
export class WalCatalog {
  readonly #config: WalConfig;
  readonly #log: Logger;
  readonly #segments = new Map<string, SegmentEntry>();
  #bytes = 0;
  #writeback: Counter | undefined;
  #dropped: Counter | undefined;
  #flushSeconds: Histogram | undefined;
  #flushRequests: Histogram | undefined;
  #flushWait: Histogram | undefined;

  constructor(config: WalConfig, log: Logger, registry: Registry) {
    this.#config = config;
    this.#log = log;
    this.#registerMetrics(registry);
  }

  /**
   * Start-up: creates the directory, checks every segment, truncates torn or corrupt tails, moves
   * files with a bad header aside (`.corrupt`) and deletes segments with no blocks. Every
   * surviving segment is closed: workers always start new ones.
   */
  recover(): { segments: number; bytes: number; truncated: number } {
    fs.mkdirSync(this.#config.storageDir, { recursive: true });
    let truncated = 0;
    const files = fs.readdirSync(this.#config.storageDir).sort();
    const started = Date.now();
    let lastReport = started;
    for (const [index, file] of files.entries()) {
      const name = tryParseSegmentName(file);
      if (name === undefined) continue;
      if (Date.now() - lastReport >= RECOVERY_PROGRESS_MS) {
        lastReport = Date.now();
        this.#log.info('checking WAL segments', { checked: index, of: files.length, bytesSoFar: this.#bytes, seconds: Math.round((lastReport - started) / 1000) });
      }
      const filePath = path.join(this.#config.storageDir, file);
      const r = checkSegment(filePath, { truncate: true });
      if (r.headerBad) {
        if (r.truncatedBytes > 0) fs.renameSync(filePath, filePath + '.corrupt');
        else fs.rmSync(filePath, { force: true });
        this.#log.warn('segment has no valid header; moved aside', { path: filePath, bytes: r.truncatedBytes });
        continue;
      }
      if (r.truncatedBytes > 0) {
        truncated++;
        this.#log.warn('segment repaired: torn or corrupt tail truncated', { path: filePath, keptBytes: r.size, cutBytes: r.truncatedBytes, at: r.problem?.offset, reason: r.problem?.reason });
      }
      if (r.frames === 0) {
        fs.rmSync(filePath, { force: true });
        continue;
      }
      const createdAtMs = tryIdTimeMs(name.id) ?? fs.statSync(filePath).mtimeMs;
      this.#add({ path: filePath, database: name.database, table: name.table, createdAtMs, size: r.size, active: false });
    }
    return { segments: this.#segments.size, bytes: this.#bytes, truncated };
  }

  apply(delta: WalDelta): void {
    this.#bytes += delta.bytes;
    if (delta.writebackBytes) this.#writeback?.inc(delta.writebackBytes);
    if (delta.droppedBytes) this.#dropped?.inc(delta.droppedBytes);
    for (const v of delta.flushSeconds ?? []) this.#flushSeconds?.observe(v);
    for (const v of delta.flushRequests ?? []) this.#flushRequests?.observe(v);
    for (const v of delta.flushWaitSeconds ?? []) this.#flushWait?.observe(v);
    for (const e of delta.events) {
      if (e.kind === 'created') {
        const name = tryParseSegmentName(path.basename(e.path));
        this.#segments.set(e.path, { path: e.path, database: name?.database ?? '', table: name?.table ?? '', createdAtMs: e.createdAtMs, size: e.size, active: true });
      } else if (e.kind === 'closed') {
        const s = this.#segments.get(e.path);
        if (s) {
          s.size = e.size;
          s.active = false;
        }
        if (e.synced) this.#log.debug('segment closed', { path: e.path, bytes: e.size });
        else this.#log.warn('segment closed, but its fsync failed; start-up repair will check it', { path: e.path, bytes: e.size });
      } else this.#segments.delete(e.path);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#segments.size;
  }

  /** Why writes must be refused right now, or undefined when they may proceed. */
  overLimit(): string | undefined {
    if (this.#bytes >= this.#config.maxDiskUsageBytes) {
      return `WAL holds ${this.#bytes} bytes, at or over --max-disk-usage ${this.#config.maxDiskUsageBytes}`;
    }
    if (this.#segments.size >= this.#config.maxSegmentCount) {
      return `WAL holds ${this.#segments.size} segments, at or over --max-segment-count ${this.#config.maxSegmentCount}`;
    }
    return undefined;
  }

  segments(): IterableIterator<SegmentEntry> {
    return this.#segments.values();
  }

  #add(entry: SegmentEntry): void {
    this.#segments.set(entry.path, entry);
    this.#bytes += entry.size;
  }

  #registerMetrics(registry: Registry): void {
    const perTable = (fn: (acc: Map<string, number>, s: SegmentEntry, now: number) => void) => {
      const now = Date.now();
      const acc = new Map<string, number>();
      for (const s of this.#segments.values()) fn(acc, s, now);
      return acc;
    };
    const setAll = (g: Gauge<'database' | 'table'>, acc: Map<string, number>) => {
      g.reset();
      for (const [key, v] of acc) {
        const [database, table] = key.split('\0') as [string, string];
        g.set({ database, table }, v);
      }
    };
    const key = (s: SegmentEntry) => `${s.database}\0${s.table}`;
    new Gauge({
      name: 'adxmon_ingestor_wal_segments_count',
      help: 'WAL segment files per table (active and closed).',
      labelNames: ['database', 'table'],
      registers: [registry],
      collect() {
        setAll(this, perTable((acc, s) => acc.set(key(s), (acc.get(key(s)) ?? 0) + 1)));
      },
    });
    const self = this;
    new Gauge({
      name: 'adxmon_ingestor_wal_segments_size_bytes',
      help: 'Bytes in WAL segments per table.',
      labelNames: ['database', 'table'],
      registers: [registry],
      collect() {
        // Workers report an active segment's size when it closes; until then, ask the file system.
        setAll(this, perTable((acc, s) => acc.set(key(s), (acc.get(key(s)) ?? 0) + (s.active ? statSize(s.path) : s.size))));
      },
    });
    new Gauge({
      name: 'adxmon_ingestor_wal_segments_max_age_seconds',
      help: 'Age of the oldest WAL segment per table.',
      labelNames: ['database', 'table'],
      registers: [registry],
      collect() {
        setAll(this, perTable((acc, s, now) => acc.set(key(s), Math.max(acc.get(key(s)) ?? 0, (now - s.createdAtMs) / 1000))));
      },
    });
    this.#flushSeconds = new Histogram({
      name: 'adxmon_ingestor_wal_flush_duration_seconds',
      help: 'Time a worker took to write one group commit (compress, write, and fsync with --wal-fsync=always) before acknowledging its requests.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    this.#flushRequests = new Histogram({
      name: 'adxmon_ingestor_wal_flush_requests',
      help: 'Requests that shared one group commit (see --group-commit-delay): 1 means each request was written alone.',
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32, 64],
      registers: [registry],
    });
    this.#flushWait = new Histogram({
      name: 'adxmon_ingestor_wal_flush_wait_seconds',
      help: 'How long the first request of a group commit waited for the flush to start: about --group-commit-delay when more requests were expected, ~0 when written at once, longer when the worker was busy.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05],
      registers: [registry],
    });
    this.#writeback = new Counter({
      name: 'adxmon_ingestor_wal_writeback_started_bytes_total',
      help: 'WAL bytes the workers asked the kernel to start writing to disk (--wal-writeback, sync_file_range).',
      registers: [registry],
    });
    this.#dropped = new Counter({
      name: 'adxmon_ingestor_wal_cache_dropped_bytes_total',
      help: 'WAL bytes the workers dropped from the page cache once written back (--wal-drop-cache, posix_fadvise DONTNEED).',
      registers: [registry],
    });
    new Gauge({
      name: 'adxmon_ingestor_wal_disk_usage_bytes',
      help: 'Bytes in the WAL directory, as accounted by the ingestor (compare with --max-disk-usage).',
      registers: [registry],
      collect() {
        this.set(self.#bytes);
      },
    });
  }
}

function statSize(filePath: string): number {
  try {
    return fs.statSync(filePath).size;
  } catch {
    return 0; // closed and removed in the meantime
  }
}
