import type { TransformConfig } from '../config/config.js';
import { IngestError } from '../errors.js';
import type { NativeHistogram } from '../prom/histogram.js';
import type { SeriesSink } from '../prom/series-sink.js';
import { emitKeyLabels } from '../prom/remote-write-v1.js';
import { decodeUtf8 } from '../prom/utf8.js';
import { ByteOut, checkUtf8, timestampInRange, writeCsvField, writeJsonInCsv, writeTimestamp, writeValue } from './csv-bytes.js';
import { normalizeIdentifier, normalizeMetricName } from './metric-name.js';
import { MetricsRowBuilder, type Hash64 } from './metrics-rows.js';
import { metricsSchema, type MetricsSchema } from './metrics-schema.js';
import { SeriesCache } from './series-cache.js';

/** xxhash64 over bytes (xxhash-wasm's `h64Raw`). */
export interface RawHash64 extends Hash64 {
  h64Raw(input: Uint8Array): bigint;
}

/** CSV rows of one (database, table, schema) for one request, as bytes without the header line. */
export interface TableBytes {
  readonly prefix: string;
  readonly database: string;
  readonly table: string;
  readonly out: ByteOut;
  rows: number;
}

const NAME = Buffer.from('__name__');
const DATABASE_LABEL = Buffer.from('adxmon_database');
const ADXMON_PREFIX = Buffer.from('adxmon_');
const ROW_SLACK = 64; // timestamp (≤ 24) + newline + the common value lengths
const TABLE_NAME_CACHE_MAX = 100_000;

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
  // The current series' labels: byte ranges, each in its own source buffer.
  #src: Uint8Array[] = [];
  #ns = new Int32Array(64);
  #ne = new Int32Array(64);
  #vs = new Int32Array(64);
  #ve = new Int32Array(64);
  #order = new Int32Array(64);
  #n = 0;
  #prepared = false;
  #dropped = false;
  /** Created on the series' first sample, so a series without samples adds no table. */
  #target: TableBytes | undefined;
  #tableId = -1;
  readonly #middle = new ByteOut(1024);
  readonly #idInput = new ByteOut(1024);
  samples = 0;
  histograms = 0;
  exemplars = 0;
  rows = 0;
  droppedSeries = 0;

  /** `seriesCacheBytes` 0 disables the series cache. */
  constructor(config: TransformConfig, hash: RawHash64, seriesCacheBytes = 0) {
    this.#config = config;
    this.#cache = seriesCacheBytes > 0 ? new SeriesCache(seriesCacheBytes) : undefined;
    this.#hash = hash;
    this.#schema = metricsSchema(config.liftLabels, hash);
    this.#dropMetrics = config.dropMetrics.length > 0 ? new RegExp(`^(?:${config.dropMetrics.join('|')})$`) : undefined;
    this.#dropLabels = config.dropLabels.map(([m, l]) => [new RegExp(`^(?:${m})$`), new RegExp(`^(?:${l})$`)] as const);
    this.#adds = config.addLabels.map(([n, v]) => ({ name: Buffer.from(n), both: Buffer.from(n + v) }));
    this.#liftedNames = config.liftLabels.map((l) => Buffer.from(l.name.toLowerCase()));
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
    this.#n = 0;
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

  label(buf: Uint8Array, nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    if (nameEnd === nameStart) throw new IngestError('invalid_labels', 'a label has an empty name');
    const max = this.#config.maxLabelBytes;
    if (nameEnd - nameStart > max || valueEnd - valueStart > max) {
      throw new IngestError('label_too_long', `label ${decodeUtf8(buf, nameStart, Math.min(nameEnd, nameStart + 64))} is longer than ${max} bytes`);
    }
    if (valueEnd === valueStart) return; // an empty value is the same as no label
    this.#push(buf, nameStart, nameEnd, valueStart, valueEnd);
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
    if (this.#hit >= 0) {
      // The cache skipped the labels; the histogram path needs them, with the label rules applied.
      this.#hit = -1;
      this.#n = 0;
      emitKeyLabels(this.#keyBuf!, this.#keyStart, this.#keyEnd, this);
      this.#prepare(); // `#insert` is false after a hit: nothing is cached again
    }
    const b = this.#histograms;
    b.reset();
    b.beginSeries();
    for (let i = 0; i < this.#n; i++) {
      const src = this.#src[i]!;
      b.labelString(decodeUtf8(src, this.#ns[i]!, this.#ne[i]!), decodeUtf8(src, this.#vs[i]!, this.#ve[i]!));
    }
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

  #push(src: Uint8Array, ns: number, ne: number, vs: number, ve: number): void {
    const n = this.#n;
    if (n === this.#ns.length) this.#grow();
    this.#src[n] = src;
    this.#ns[n] = ns;
    this.#ne[n] = ne;
    this.#vs[n] = vs;
    this.#ve[n] = ve;
    this.#n = n + 1;
  }

  #grow(): void {
    const size = this.#ns.length * 2;
    for (const k of ['ns', 'ne', 'vs', 've', 'order'] as const) {
      const next = new Int32Array(size);
      const cur = k === 'ns' ? this.#ns : k === 'ne' ? this.#ne : k === 'vs' ? this.#vs : k === 've' ? this.#ve : this.#order;
      next.set(cur);
      if (k === 'ns') this.#ns = next;
      else if (k === 'ne') this.#ne = next;
      else if (k === 'vs') this.#vs = next;
      else if (k === 've') this.#ve = next;
      else this.#order = next;
    }
  }

  /** Index of the label whose name equals `name` (bytes), or -1. */
  #find(name: Uint8Array): number {
    for (let i = 0; i < this.#n; i++) if (rangeEquals(this.#src[i]!, this.#ns[i]!, this.#ne[i]!, name)) return i;
    return -1;
  }

  /** Applies drops and additions, validates, sorts, and writes the series' middle text. */
  #prepare(): void {
    this.#prepared = true;
    const at = this.#find(NAME);
    if (at < 0) throw new IngestError('invalid_labels', 'a series has no __name__ label');
    const metricName = decodeUtf8(this.#src[at]!, this.#vs[at]!, this.#ve[at]!);
    if (this.#dropMetrics?.test(metricName)) {
      this.#dropped = true;
      this.droppedSeries++;
      this.#remember(-1);
      return;
    }
    for (const { name, both } of this.#adds) {
      const j = this.#find(name);
      if (j < 0) this.#push(both, 0, name.length, name.length, both.length);
      else {
        this.#src[j] = both;
        this.#ns[j] = 0;
        this.#ne[j] = this.#vs[j] = name.length;
        this.#ve[j] = both.length;
      }
    }
    for (const [metricRe, labelRe] of this.#dropLabels) if (metricRe.test(metricName)) this.#dropMatching(labelRe);
    const n = this.#n;
    if (n > this.#config.maxLabelsPerSeries) {
      throw new IngestError('too_many_labels', `series ${metricName} has ${n} labels, over the limit of ${this.#config.maxLabelsPerSeries}`);
    }
    this.#sort();
    const table = this.#tableName(metricName);
    if (table === '') throw new IngestError('invalid_labels', `metric name ${metricName} has no letters or digits`);
    this.#tableId = this.#tableIdOf(this.#databaseName(), table);
    this.#writeMiddle();
    this.#remember(this.#tableId);
  }

  #dropMatching(labelRe: RegExp): void {
    let w = 0;
    for (let i = 0; i < this.#n; i++) {
      const src = this.#src[i]!;
      const keep = rangeEquals(src, this.#ns[i]!, this.#ne[i]!, NAME) || !labelRe.test(decodeUtf8(src, this.#ns[i]!, this.#ne[i]!));
      if (!keep) continue;
      this.#src[w] = src;
      this.#ns[w] = this.#ns[i]!;
      this.#ne[w] = this.#ne[i]!;
      this.#vs[w] = this.#vs[i]!;
      this.#ve[w] = this.#ve[i]!;
      w++;
    }
    this.#n = w;
  }

  /** Fills `#order` with label indices sorted by name, lower-cased (ties by bytes); rejects duplicates. */
  #sort(): void {
    const order = this.#order;
    const n = this.#n;
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = 1; i < n; i++) {
      const x = order[i]!;
      let j = i - 1;
      while (j >= 0 && this.#compare(order[j]!, x) > 0) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
    for (let i = 1; i < n; i++) {
      const a = order[i - 1]!;
      const b = order[i]!;
      if (this.#compare(a, b) === 0) {
        throw new IngestError('invalid_labels', `a series has label ${decodeUtf8(this.#src[b]!, this.#ns[b]!, this.#ne[b]!)} twice`);
      }
    }
  }

  /** adx-mon's CompareLower on label names a and b (indices). */
  #compare(a: number, b: number): number {
    const sa = this.#src[a]!;
    const sb = this.#src[b]!;
    let i = this.#ns[a]!;
    let j = this.#ns[b]!;
    const ea = this.#ne[a]!;
    const eb = this.#ne[b]!;
    let tie = 0;
    for (; i < ea && j < eb; i++, j++) {
      const x = sa[i]!;
      const y = sb[j]!;
      if (x === y) continue;
      const lx = x >= 0x41 && x <= 0x5a ? x + 32 : x;
      const ly = y >= 0x41 && y <= 0x5a ? y + 32 : y;
      if (lx !== ly) return lx - ly;
      if (tie === 0) tie = x - y;
    }
    const d = ea - this.#ns[a]! - (eb - this.#ns[b]!);
    return d !== 0 ? d : tie;
  }

  #databaseName(): string {
    const at = this.#find(DATABASE_LABEL);
    if (at < 0) return this.#config.defaultDatabase;
    const value = decodeUtf8(this.#src[at]!, this.#vs[at]!, this.#ve[at]!);
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
      const prefix = this.#schema.hash === undefined ? `${database}_${table}` : `${database}_${table}_${this.#schema.hash}`;
      this.#tableInfo.push({ database, table, prefix });
      tables.set(table, id);
    }
    return id;
  }

  #targetById(id: number): TableBytes {
    let t = this.#targets[id];
    if (t === undefined) {
      const { database, table, prefix } = this.#tableInfo[id]!;
      t = this.#targets[id] = { prefix, database, table, out: new ByteOut(), rows: 0 };
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
    const order = this.#order;
    const n = this.#n;
    const id = this.#idInput;
    id.len = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      id.bytes(this.#src[i]!, this.#ns[i]!, this.#ne[i]!);
      id.bytes(this.#src[i]!, this.#vs[i]!, this.#ve[i]!);
    }
    const m = this.#middle;
    m.len = 0;
    m.byte(0x2c);
    m.ascii(BigInt.asIntN(64, this.#hash.h64Raw(id.buf.subarray(0, id.len))).toString());
    for (const lifted of this.#liftedNames) {
      m.byte(0x2c);
      const i = this.#findLower(lifted);
      if (i >= 0) writeCsvField(m, this.#src[i]!, this.#vs[i]!, this.#ve[i]!);
    }
    m.ascii(',"{');
    let first = true;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const src = this.#src[i]!;
      const ns = this.#ns[i]!;
      const ne = this.#ne[i]!;
      if (rangeEquals(src, ns, ne, NAME) || rangeStartsWith(src, ns, ne, ADXMON_PREFIX) || this.#isLifted(src, ns, ne)) {
        checkUtf8(src, ns, ne);
        checkUtf8(src, this.#vs[i]!, this.#ve[i]!);
        continue;
      }
      if (!first) m.byte(0x2c);
      first = false;
      m.ascii('""');
      writeJsonInCsv(m, src, ns, ne);
      m.ascii('"":""');
      writeJsonInCsv(m, src, this.#vs[i]!, this.#ve[i]!);
      m.ascii('""');
    }
    m.ascii('}",');
  }

  #isLifted(src: Uint8Array, ns: number, ne: number): boolean {
    for (const l of this.#liftedNames) if (rangeEqualsLower(src, ns, ne, l)) return true;
    return false;
  }

  /** The label a lifted column takes its value from: the last match in label order (`Pod` and `pod` both match). */
  #findLower(lowerName: Uint8Array): number {
    let found = -1;
    for (let k = 0; k < this.#n; k++) {
      const i = this.#order[k]!;
      if (rangeEqualsLower(this.#src[i]!, this.#ns[i]!, this.#ne[i]!, lowerName)) found = i;
    }
    return found;
  }
}

function rangeEquals(src: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (src[start + i] !== want[i]) return false;
  return true;
}

function rangeStartsWith(src: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (src[start + i] !== prefix[i]) return false;
  return true;
}

/** Case-insensitive (ASCII) equality with an already lower-cased name. */
function rangeEqualsLower(src: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const b = src[start + i]!;
    if ((b >= 0x41 && b <= 0x5a ? b + 32 : b) !== lower[i]) return false;
  }
  return true;
}
