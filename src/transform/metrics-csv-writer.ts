import type { TransformConfig } from '../config/config.js';
import { IngestError } from '../errors.js';
import type { NativeHistogram } from '../prom/histogram.js';
import type { SeriesSink } from '../prom/series-sink.js';
import { SampleType, WAL, writeBlockHeader } from '../wal/format.js';
import { ByteOut, ByteOutPool, checkUtf8, timestampInRange, writeCsvField, writeJsonInCsv, writeTimestamp, writeValue } from './csv-bytes.js';
import { LabelRanges, rangeEquals, rangeEqualsLower, rangeStartsWith } from './label-ranges.js';
import { normalizeIdentifier, normalizeMetricName } from './metric-name.js';
import { MetricsRowBuilder, type Hash64 } from './metrics-rows.js';
import { segmentPrefix } from '../wal/segment-name.js';
import { metricsSchema, type MetricsSchema } from './metrics-schema.js';
import { SeriesCache } from './series-cache.js';
import type { NativeContext, NativeHotPath } from './native-hot-path.js';
import { emitLabels } from '../prom/remote-write-v1.js';

/** xxhash64 over bytes (xxhash-wasm's `h64Raw`). */
export interface RawHash64 extends Hash64 {
  h64Raw(input: Uint8Array): bigint;
}

/**
 * CSV rows of one (database, table, schema) for one request, laid out as a WAL block payload:
 * `WAL.blockHeaderBytes` reserved bytes, the CSV header line, then the rows from `start`.
 */
export interface TableBytes {
  readonly prefix: string;
  readonly database: string;
  readonly table: string;
  readonly out: ByteOut;
  /** Offset of the first row in `out`. */
  readonly start: number;
  rows: number;
}

const NAME = Buffer.from('__name__');
const DATABASE_LABEL = Buffer.from('adxmon_database');
const ADXMON_PREFIX = Buffer.from('adxmon_');
const ROW_SLACK = 64; // timestamp (≤ 24) + newline + the common value lengths
const TABLE_NAME_CACHE_MAX = 100_000;
/** For error messages only: never throws on a cut or bad sequence. */
const LENIENT_UTF8 = new TextDecoder();

/** Largest rewritten 2.0 request whose buffer `encodeV2` keeps for the next one. */
const SCRATCH_KEEP_BYTES = 16 << 20;

/**
 * The hot-path row builder: turns decoded series into metrics CSV bytes per table, exactly as
 * `MetricsRowBuilder` (the readable reference, docs/data-model.md) would, but from label byte
 * ranges and without a JS string per label or row. Per series it writes the constant middle of
 * the row once — `,SeriesId,lifted...,"{Labels}",` — then per sample only the timestamp, that
 * middle and the value. Native histograms (rare) go through the reference builder.
 *
 * Lifetime: label ranges point into the request buffer and are used only until `endSeries`;
 * `tables()` is valid until `reset()`, and the `ByteOut`s it returns belong to the caller after
 * that (a reset starts new ones).
 */
export class MetricsCsvWriter implements SeriesSink {
  readonly #config: TransformConfig;
  readonly #hash: RawHash64;
  readonly #schema: MetricsSchema;
  readonly #headerLine: Buffer;
  readonly #pool: ByteOutPool;
  readonly #dropMetrics: RegExp | undefined;
  readonly #dropLabels: readonly (readonly [RegExp, RegExp])[];
  /** `--add-labels` as name+value bytes, with the name's length. */
  readonly #adds: readonly { readonly name: Buffer; readonly both: Buffer }[];
  readonly #liftedNames: readonly Buffer[];
  readonly #histograms: MetricsRowBuilder;
  readonly #tableNames = new Map<string, string>();
  #tables = new Map<string, TableBytes>();
  /** Tables ever seen, by id (ids are stable for the life of the writer; the cache stores them). */
  readonly #tableIds = new Map<string, Map<string, number>>();
  readonly #tableInfo: { database: string; table: string; prefix: string }[] = [];
  /** This request's output per table id. */
  #targets: (TableBytes | undefined)[] = [];
  readonly #cache: SeriesCache | undefined;
  /** Cache entry of the current series, or -1. */
  #hit = -1;
  #keyBuf: Uint8Array | undefined;
  #keyStart = -1;
  #keyEnd = -1;
  /** The current series missed the cache: cache it once prepared. */
  #insert = false;
  /** The current series' labels. */
  readonly #labels = new LabelRanges();
  #prepared = false;
  #dropped = false;
  /** Created on the series' first sample, so a series without samples adds no table. */
  #target: TableBytes | undefined;
  #tableId = -1;
  readonly #middle = new ByteOut(1024);
  readonly #idInput = new ByteOut(1024);
  /** The native hot path (remote write 1.0, and 2.0 through `encodeV2`), when in use; see `encodeV1`. */
  readonly #native: NativeHotPath | undefined;
  readonly #nativeCtx: NativeContext | undefined;
  readonly #nativeIo = new Int32Array(2);
  readonly #nativeCounters = new Float64Array(5);
  #nativeInfo = new Int32Array(3 * 256);
  readonly #nativeStats = new Float64Array(5);
  /** The request being encoded natively (for `prepare` callbacks). */
  #nativeRequest: Uint8Array | undefined;
  /** `keepRowsInNative` was called: native rows stay in the addon until `frameHeld`. */
  #keep = false;
  #heldBytes = 0;
  /** Remote write 2.0 requests rewritten as 1.0 (`encodeV2`); kept between requests up to 16 MiB. */
  #v1Scratch = Buffer.allocUnsafe(0);
  samples = 0;
  histograms = 0;
  exemplars = 0;
  rows = 0;
  droppedSeries = 0;

  /** `seriesCacheBytes` 0 disables the series cache; `pool` recycles the tables' buffers. */
  constructor(config: TransformConfig, hash: RawHash64, seriesCacheBytes = 0, pool = new ByteOutPool(), native?: NativeHotPath) {
    this.#config = config;
    this.#native = native;
    this.#liftedNames = config.liftLabels.map((l) => Buffer.from(l.name.toLowerCase()));
    // The native path is a cache of series already seen: `--series-cache-size 0` turns it off too.
    // C prepares new series itself unless rules drop labels or metrics (regular expressions: those
    // stay in `#prepare`).
    const rulesInC = config.dropMetrics.length === 0 && config.dropLabels.length === 0;
    const rules = {
      maxLabelBytes: config.maxLabelBytes,
      maxLabelsPerSeries: config.maxLabelsPerSeries,
      lifted: this.#liftedNames,
      addNames: config.addLabels.map(([n]) => Buffer.from(n)),
      addValues: config.addLabels.map(([, v]) => Buffer.from(v)),
    };
    this.#nativeCtx = seriesCacheBytes > 0 ? native?.create(seriesCacheBytes, rulesInC ? rules : undefined) : undefined;
    this.#pool = pool;
    this.#cache = seriesCacheBytes > 0 ? new SeriesCache(seriesCacheBytes) : undefined;
    this.#hash = hash;
    this.#schema = metricsSchema(config.liftLabels, hash);
    this.#headerLine = Buffer.from(this.#schema.headerLine);
    this.#dropMetrics = config.dropMetrics.length > 0 ? new RegExp(`^(?:${config.dropMetrics.join('|')})$`) : undefined;
    this.#dropLabels = config.dropLabels.map(([m, l]) => [new RegExp(`^(?:${m})$`), new RegExp(`^(?:${l})$`)] as const);
    this.#adds = config.addLabels.map(([n, v]) => ({ name: Buffer.from(n), both: Buffer.from(n + v) }));
    // Series reaching the histogram path already had the drop/add rules applied here.
    this.#histograms = new MetricsRowBuilder({ ...config, dropMetrics: [], dropLabels: [], addLabels: [] }, hash);
  }

  get schema(): MetricsSchema {
    return this.#schema;
  }

  reset(): void {
    this.#tables = new Map();
    this.#targets = [];
    this.samples = this.histograms = this.exemplars = this.rows = this.droppedSeries = 0;
  }

  tables(): IterableIterator<TableBytes> {
    return this.#tables.values();
  }

  beginSeries(): void {
    this.#labels.clear();
    this.#prepared = false;
    this.#dropped = false;
    this.#target = undefined;
    this.#hit = -1;
    this.#insert = false;
  }

  /** Looks the series up in the cache; on a hit the labels are not needed (returns false). */
  seriesKey(buf: Uint8Array, start: number, end: number): boolean {
    if (this.#cache === undefined || start < 0) return true;
    this.#keyBuf = buf;
    this.#keyStart = start;
    this.#keyEnd = end;
    const hit = this.#cache.find(buf, start, end);
    this.#insert = hit < 0;
    if (hit < 0) return true;
    this.#hit = hit;
    this.#prepared = true;
    this.#tableId = this.#cache.tableOf(hit);
    if (this.#tableId < 0) {
      this.#dropped = true;
      this.droppedSeries++;
    }
    return false;
  }

  /** Cache statistics (hits, misses, entries) for metrics. */
  get cache(): SeriesCache | undefined {
    return this.#cache;
  }

  /** Lookups and entries of both series caches (TypeScript and native), and the new series C prepared itself, since the start. */
  cacheStats(): { hits: number; misses: number; entries: number; preparedInC: number } {
    let hits = this.#cache?.hits ?? 0;
    let misses = this.#cache?.misses ?? 0;
    let entries = this.#cache?.entries ?? 0;
    let preparedInC = 0;
    if (this.#nativeCtx !== undefined) {
      const s = this.#nativeStats;
      this.#native!.stats(this.#nativeCtx, s);
      hits += s[0]!;
      misses += s[1]!;
      entries += s[2]!;
      preparedInC = s[4]!;
    }
    return { hits, misses, entries, preparedInC };
  }

  /** Whether `encodeV1` can take requests (the native addon is loaded). */
  get native(): boolean {
    return this.#nativeCtx !== undefined;
  }

  /**
   * Remote write 1.0 through the native hot path: rows of series already seen are written in C;
   * each new series is prepared here (`#nativePrepare`: the same validation and middle as the
   * TypeScript path) and cached there. Returns false — nothing written, the caller decodes with
   * `decodeWriteRequestV1` after a `reset()` — for anything outside the native subset (see
   * native/hotpath.c). Errors from preparing a series throw, as in the TypeScript path.
   */
  encodeV1(request: Uint8Array): boolean {
    const native = this.#native;
    const ctx = this.#nativeCtx;
    if (native === undefined || ctx === undefined) return false;
    this.#nativeRequest = request;
    let status: number;
    try {
      status = native.encodeV1(ctx, request, this.#nativePrepare, this.#nativeIo, this.#nativeCounters);
    } finally {
      this.#nativeRequest = undefined;
    }
    if (status !== 0) {
      this.reset();
      return false;
    }
    const c = this.#nativeCounters;
    if (this.#keep) {
      this.#heldBytes = c[4]!;
    } else {
      const tables = c[4]!;
      if (this.#nativeInfo.length < 3 * tables) this.#nativeInfo = new Int32Array(3 * tables * 2);
      const info = this.#nativeInfo;
      native.tableInfo(ctx, info);
      for (let i = 0; i < tables; i++) {
        const t = this.#targetById(info[3 * i]!);
        const out = t.out;
        out.reserve(info[3 * i + 1]!);
        out.len += native.copyTable(ctx, info[3 * i]!, out.buf, out.len);
        t.rows += info[3 * i + 2]!;
      }
    }
    this.samples += c[0]!;
    this.rows += c[1]!;
    this.exemplars += c[2]!;
    this.droppedSeries += c[3]!;
    return true;
  }

  /**
   * From now on, rows the native path writes stay in the addon, added up across requests, until
   * `frameHeld` turns them into one WAL frame per table (the WAL writer's flush: `HeldBlocks`);
   * `tables()` then holds only what the TypeScript path wrote. Without this, each request's rows
   * are copied out table by table into `tables()`; with thousands of tables and a few rows each
   * per request those copies, buffers and pending entries were most of a core's work. False
   * (and nothing changes) without the native path.
   */
  keepRowsInNative(): boolean {
    const native = this.#native;
    const ctx = this.#nativeCtx;
    if (native === undefined || ctx === undefined) return false;
    const head = new Uint8Array(WAL.blockHeaderBytes + this.#headerLine.length);
    writeBlockHeader(head, SampleType.metric, 0);
    head.set(this.#headerLine, WAL.blockHeaderBytes);
    native.keepRows(ctx, head);
    this.#keep = true;
    return true;
  }

  /** keepRowsInNative: bytes the addon holds for the next `frameHeld`. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Table ids handed out so far: `frameHeld`'s `info` needs 4 entries per id. */
  get tableIds(): number {
    return this.#tableInfo.length;
  }

  /** The WAL segment prefix of a table id. */
  prefixOf(tableId: number): string {
    return this.#tableInfo[tableId]!.prefix;
  }

  /**
   * keepRowsInNative: every held table's block as a WAL frame (CRC filled in) into `out`, with
   * info ← [tableId, offset, length, rows] per frame; returns the frame count and lets the rows
   * go, or −(bytes `out` needs) and keeps them.
   */
  frameHeld(out: Uint8Array, info: Int32Array): number {
    if (!this.#keep) return 0;
    const n = this.#native!.frameTables(this.#nativeCtx!, out, info);
    if (n >= 0) this.#heldBytes = 0;
    return n;
  }

  /**
   * Remote write 2.0 through the native hot path: C rewrites the request as 1.0 (same series,
   * labels in the same order, the same Sample bytes) and `encodeV1` takes that, so 2.0 shares the
   * 1.0 path's cache, new-series code and rows. Returns false — nothing written, the caller
   * decodes with `decodeWriteRequestV2` — for anything C leaves to TypeScript (native histograms,
   * anything the TypeScript decoder might refuse; see native/remote-write-v2.h).
   */
  encodeV2(request: Uint8Array): boolean {
    const native = this.#native;
    const ctx = this.#nativeCtx;
    if (native === undefined || ctx === undefined) return false;
    let out = this.#v1Scratch;
    let n = native.transcodeV2(ctx, request, out);
    if (n > out.length) {
      out = Buffer.allocUnsafe(n);
      if (n <= SCRATCH_KEEP_BYTES) this.#v1Scratch = out;
      n = native.transcodeV2(ctx, request, out);
    }
    return n >= 0 && this.encodeV1(out.subarray(0, n));
  }

  /** A series the native cache has not seen: validate and prepare it; hand over its middle. */
  readonly #nativePrepare = (keyStart: number, keyEnd: number): Uint8Array | undefined => {
    this.beginSeries();
    emitLabels(this.#nativeRequest!, keyStart, keyEnd, this);
    this.#prepare();
    const io = this.#nativeIo;
    io[0] = this.#dropped ? -1 : this.#tableId;
    io[1] = this.#dropped ? 0 : this.#middle.len;
    return this.#dropped ? undefined : this.#middle.buf;
  };

  label(buf: Uint8Array, nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    if (nameEnd === nameStart) throw new IngestError('invalid_labels', 'a label has an empty name');
    const max = this.#config.maxLabelBytes;
    if (nameEnd - nameStart > max || valueEnd - valueStart > max) {
      const shown = LENIENT_UTF8.decode(buf.subarray(nameStart, Math.min(nameEnd, nameStart + 64)));
      throw new IngestError('label_too_long', `label ${shown} is longer than ${max} bytes`);
    }
    if (valueEnd === valueStart) return; // an empty value is the same as no label
    this.#labels.push(buf, nameStart, nameEnd, valueStart, valueEnd);
  }

  sample(value: number, timestampMs: number): void {
    if (!this.#prepared) this.#prepare();
    this.samples++;
    if (this.#dropped) return;
    if (!timestampInRange(timestampMs)) throw new IngestError('invalid_request', `sample timestamp ${timestampMs} is out of range`);
    const t = (this.#target ??= this.#targetById(this.#tableId));
    const out = t.out;
    const hit = this.#hit;
    out.reserve((hit >= 0 ? this.#cache!.middleLength(hit) : this.#middle.len) + ROW_SLACK);
    writeTimestamp(out, timestampMs);
    if (hit >= 0) out.len += this.#cache!.copyMiddle(hit, out.buf, out.len);
    else out.len += this.#middle.buf.copy(out.buf, out.len, 0, this.#middle.len);
    writeValue(out, value);
    out.byte(0x0a);
    t.rows++;
    this.rows++;
  }

  histogram(h: NativeHistogram): void {
    if (!this.#prepared) this.#prepare();
    this.histograms++;
    if (this.#dropped) return;
    // Decoders offer no cache key for series with histograms, so their labels are always here.
    if (this.#hit >= 0) throw new IngestError('internal', 'histogram for a series whose labels were skipped');
    const b = this.#histograms;
    b.reset();
    b.beginSeries();
    const labels = this.#labels;
    for (let i = 0; i < labels.n; i++) b.labelString(labels.name(i), labels.value(i));
    b.histogram(h);
    b.endSeries();
    for (const t of b.tables()) {
      const target = this.#targetById(this.#tableIdOf(t.database, t.table));
      const bytes = Buffer.from(t.csv);
      target.out.bytes(bytes, 0, bytes.length);
      target.rows += t.rows;
      this.rows += t.rows;
    }
  }

  exemplar(): void {
    this.exemplars++;
  }

  endSeries(): void {
    if (!this.#prepared) this.#prepare(); // validates label-only series too
  }

  /** Applies drops and additions, validates, sorts, and writes the series' middle text. */
  #prepare(): void {
    this.#prepared = true;
    const labels = this.#labels;
    const at = labels.find(NAME);
    if (at < 0) throw new IngestError('invalid_labels', 'a series has no __name__ label');
    const metricName = labels.value(at);
    if (this.#dropMetrics?.test(metricName)) {
      this.#dropped = true;
      this.droppedSeries++;
      this.#remember(-1);
      return;
    }
    for (const { name, both } of this.#adds) labels.set(name, both);
    for (const [metricRe, labelRe] of this.#dropLabels) {
      if (metricRe.test(metricName)) labels.removeWhere((i) => !rangeEquals(labels.src[i]!, labels.ns[i]!, labels.ne[i]!, NAME) && labelRe.test(labels.name(i)));
    }
    if (labels.n > this.#config.maxLabelsPerSeries) {
      throw new IngestError('too_many_labels', `series ${metricName} has ${labels.n} labels, over the limit of ${this.#config.maxLabelsPerSeries}`);
    }
    labels.sort();
    const table = this.#tableName(metricName);
    if (table === '') throw new IngestError('invalid_labels', `metric name ${metricName} has no letters or digits`);
    this.#tableId = this.#tableIdOf(this.#databaseName(), table);
    this.#writeMiddle();
    this.#remember(this.#tableId);
  }

  #databaseName(): string {
    const at = this.#labels.find(DATABASE_LABEL);
    if (at < 0) return this.#config.defaultDatabase;
    const value = this.#labels.value(at);
    const db = normalizeIdentifier(value);
    if (db === '') throw new IngestError('invalid_labels', `adxmon_database "${value}" has no letters or digits`);
    return db;
  }

  #tableName(metricName: string): string {
    let table = this.#tableNames.get(metricName);
    if (table === undefined) {
      if (this.#tableNames.size >= TABLE_NAME_CACHE_MAX) this.#tableNames.clear();
      table = normalizeMetricName(metricName);
      this.#tableNames.set(metricName, table);
    }
    return table;
  }

  #tableIdOf(database: string, table: string): number {
    let tables = this.#tableIds.get(database);
    if (tables === undefined) this.#tableIds.set(database, (tables = new Map()));
    let id = tables.get(table);
    if (id === undefined) {
      id = this.#tableInfo.length;
      const prefix = segmentPrefix(database, table, this.#schema.hash);
      this.#tableInfo.push({ database, table, prefix });
      tables.set(table, id);
    }
    return id;
  }

  #targetById(id: number): TableBytes {
    let t = this.#targets[id];
    if (t === undefined) {
      const { database, table, prefix } = this.#tableInfo[id]!;
      const out = this.#pool.acquire();
      out.reserve(WAL.blockHeaderBytes);
      out.buf.fill(0, 0, WAL.blockHeaderBytes);
      out.len = WAL.blockHeaderBytes;
      out.bytes(this.#headerLine, 0, this.#headerLine.length);
      t = this.#targets[id] = { prefix, database, table, out, start: out.len, rows: 0 };
      this.#tables.set(prefix, t);
    }
    return t;
  }

  /** Caches the prepared series (table id -1: dropped) under the key seen by `seriesKey`. */
  #remember(tableId: number): void {
    if (!this.#insert) return;
    this.#insert = false;
    this.#cache!.insert(this.#keyBuf!, this.#keyStart, this.#keyEnd, this.#middle.buf, tableId < 0 ? 0 : this.#middle.len, tableId);
  }

  /** `,SeriesId,lifted...,"{Labels}",` for the current (prepared, sorted) labels. */
  #writeMiddle(): void {
    const { src, ns, ne, vs, ve, order, n } = this.#labels;
    const id = this.#idInput;
    id.len = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      id.bytes(src[i]!, ns[i]!, ne[i]!);
      id.bytes(src[i]!, vs[i]!, ve[i]!);
    }
    const m = this.#middle;
    m.len = 0;
    m.byte(0x2c);
    m.ascii(BigInt.asIntN(64, this.#hash.h64Raw(id.buf.subarray(0, id.len))).toString());
    for (const lifted of this.#liftedNames) {
      m.byte(0x2c);
      const i = this.#labels.findLower(lifted);
      if (i >= 0) writeCsvField(m, src[i]!, vs[i]!, ve[i]!);
    }
    m.ascii(',"{');
    let first = true;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const s = src[i]!;
      if (rangeEquals(s, ns[i]!, ne[i]!, NAME) || rangeStartsWith(s, ns[i]!, ne[i]!, ADXMON_PREFIX) || this.#isLifted(s, ns[i]!, ne[i]!)) {
        checkUtf8(s, ns[i]!, ne[i]!);
        checkUtf8(s, vs[i]!, ve[i]!);
        continue;
      }
      if (!first) m.byte(0x2c);
      first = false;
      m.ascii('""');
      writeJsonInCsv(m, s, ns[i]!, ne[i]!);
      m.ascii('"":""');
      writeJsonInCsv(m, s, vs[i]!, ve[i]!);
      m.ascii('""');
    }
    m.ascii('}",');
  }

  #isLifted(src: Uint8Array, ns: number, ne: number): boolean {
    for (const l of this.#liftedNames) if (rangeEqualsLower(src, ns, ne, l)) return true;
    return false;
  }
}
