import type { TransformConfig } from '../config/config.js';
import { IngestError } from '../errors.js';
import { histogramToRows, type NativeHistogram } from '../prom/histogram.js';
import { StringLabelSink } from '../prom/series-sink.js';
import { csvField, csvQuoted, formatTimestamp, formatValue, isTimestampInRange, jsonString } from './csv-format.js';
import { normalizeIdentifier, normalizeMetricName } from './metric-name.js';
import { segmentPrefix } from '../wal/segment-name.js';
import { metricsSchema, type MetricsSchema } from './metrics-schema.js';

/** The xxhash64 we need; xxhash-wasm's API satisfies it. */
export interface Hash64 {
  h64(input: string): bigint;
}

/** Rows of one (database, table, schema), as CSV text without the header line. */
export interface TableRows {
  readonly database: string;
  readonly table: string;
  /** `<Database>_<Table>[_<SchemaHash>]`, the WAL segment prefix. */
  readonly prefix: string;
  csv: string;
  rows: number;
}

const NAME = '__name__';
const DATABASE_LABEL = 'adxmon_database';
const ADXMON_PREFIX = 'adxmon_';

/**
 * Turns decoded series into metrics CSV rows grouped by table, following the adx-mon data model
 * (docs/data-model.md). One builder per worker; `reset()` between requests.
 *
 * Lifetime: label arrays are reused across series; `tables()` is valid until `reset()`.
 */
export class MetricsRowBuilder extends StringLabelSink {
  readonly #config: TransformConfig;
  readonly #hash: Hash64;
  readonly #schema: MetricsSchema;
  readonly #dropMetrics: RegExp | undefined;
  readonly #dropLabels: readonly (readonly [RegExp, RegExp])[];
  readonly #addNames: readonly string[];
  #tables = new Map<string, TableRows>();
  #names: string[] = [];
  #values: string[] = [];
  #n = 0;
  /** The current series' rows target and `,SeriesId,lifted...,"Labels",` text; undefined until prepared. */
  #target: TableRows | undefined;
  #middle = '';
  #database = '';
  #table = '';
  #prepared = false;
  #dropped = false;
  samples = 0;
  histograms = 0;
  exemplars = 0;
  rows = 0;
  droppedSeries = 0;

  constructor(config: TransformConfig, hash: Hash64) {
    super();
    this.#config = config;
    this.#hash = hash;
    this.#schema = metricsSchema(config.liftLabels, hash);
    this.#dropMetrics = config.dropMetrics.length > 0 ? new RegExp(`^(?:${config.dropMetrics.join('|')})$`) : undefined;
    this.#dropLabels = config.dropLabels.map(([m, l]) => [new RegExp(`^(?:${m})$`), new RegExp(`^(?:${l})$`)] as const);
    this.#addNames = config.addLabels.map(([n]) => n);
  }

  get schema(): MetricsSchema {
    return this.#schema;
  }

  reset(): void {
    this.#tables = new Map();
    this.samples = this.histograms = this.exemplars = this.rows = this.droppedSeries = 0;
  }

  tables(): IterableIterator<TableRows> {
    return this.#tables.values();
  }

  beginSeries(): void {
    this.#n = 0;
    this.#prepared = false;
    this.#dropped = false;
    this.#target = undefined;
  }

  labelString(name: string, value: string): void {
    if (name === '') throw new IngestError('invalid_labels', 'a label has an empty name');
    const max = this.#config.maxLabelBytes;
    if (utf8Length(name) > max || utf8Length(value) > max) {
      throw new IngestError('label_too_long', `label ${name.slice(0, 64)} is longer than ${max} bytes`);
    }
    if (value === '') return; // an empty value is the same as no label
    this.#names[this.#n] = name;
    this.#values[this.#n] = value;
    this.#n++;
  }

  sample(value: number, timestampMs: number): void {
    if (!this.#prepared) this.#prepare();
    this.samples++;
    if (this.#dropped) return;
    this.#target ??= this.#targetFor(this.#database, this.#table);
    this.#row(this.#target, this.#middle, value, timestampMs);
  }

  histogram(h: NativeHistogram): void {
    if (!this.#prepared) this.#prepare();
    this.histograms++;
    if (this.#dropped) return;
    this.#histogramRows(h);
  }

  exemplar(): void {
    this.exemplars++;
  }

  endSeries(): void {
    if (!this.#prepared) this.#prepare(); // validates label-only series too
  }

  #row(target: TableRows, middle: string, value: number, timestampMs: number): void {
    if (!isTimestampInRange(timestampMs)) {
      throw new IngestError('invalid_request', `sample timestamp ${timestampMs} is out of range`);
    }
    target.csv += formatTimestamp(timestampMs) + middle + formatValue(value) + '\n';
    target.rows++;
    this.rows++;
  }

  /** Applies drops and additions, validates, sorts; then fixes the series' table and middle text. */
  #prepare(): void {
    this.#prepared = true;
    const names = this.#names;
    const values = this.#values;
    let n = this.#n;
    const metric = indexOf(names, n, NAME);
    if (metric < 0) throw new IngestError('invalid_labels', 'a series has no __name__ label');
    const metricName = values[metric]!;
    if (this.#dropMetrics?.test(metricName)) {
      this.#dropped = true;
      this.droppedSeries++;
      return;
    }
    for (const [i, name] of this.#addNames.entries()) {
      const at = indexOf(names, n, name);
      const value = this.#config.addLabels[i]![1];
      if (at >= 0) values[at] = value;
      else {
        names[n] = name;
        values[n++] = value;
      }
    }
    for (const [metricRe, labelRe] of this.#dropLabels) {
      if (!metricRe.test(metricName)) continue;
      for (let i = n - 1; i >= 0; i--) {
        if (names[i] !== NAME && labelRe.test(names[i]!)) {
          names.splice(i, 1);
          values.splice(i, 1);
          n--;
        }
      }
    }
    if (n > this.#config.maxLabelsPerSeries) {
      throw new IngestError('too_many_labels', `series ${metricName} has ${n} labels, over the limit of ${this.#config.maxLabelsPerSeries}`);
    }
    sortLabels(names, values, n);
    for (let i = 1; i < n; i++) {
      if (names[i] === names[i - 1]) throw new IngestError('invalid_labels', `series ${metricName} has label ${names[i]} twice`);
    }
    this.#n = n;
    const table = normalizeMetricName(metricName);
    const made = this.#middleFor(table, '', -1, '');
    this.#database = made.database;
    this.#table = table;
    this.#middle = made.middle;
  }

  /**
   * Table target and `,SeriesId,lifted,"Labels",` for the current labels, with the metric name's
   * table replaced by `table` and, when `extraAt >= 0`, label `le`=`extraValue` inserted there.
   */
  #middleFor(table: string, nameSuffix: string, extraAt: number, extraValue: string): { database: string; middle: string } {
    const names = this.#names;
    const values = this.#values;
    const n = this.#n;
    if (table === '') throw new IngestError('invalid_labels', `metric name ${values[indexOf(names, n, NAME)]} has no letters or digits`);
    let database = this.#config.defaultDatabase;
    let idInput = '';
    let json = '';
    const lifted = this.#schema.lifted;
    const liftedValues: string[] = lifted.length > 0 ? new Array<string>(lifted.length).fill('') : [];
    for (let i = 0; i <= n; i++) {
      if (i === extraAt) {
        idInput += 'le' + extraValue;
        json += (json === '' ? '' : ',') + '"le":' + jsonString(extraValue);
      }
      if (i === n) break;
      const name = names[i]!;
      const value = name === NAME ? values[i]! + nameSuffix : values[i]!;
      idInput += name + value;
      if (name === NAME) continue;
      if (name.startsWith(ADXMON_PREFIX)) {
        if (name === DATABASE_LABEL) {
          database = normalizeIdentifier(value);
          if (database === '') throw new IngestError('invalid_labels', `adxmon_database "${value}" has no letters or digits`);
        }
        continue;
      }
      const liftedAt = lifted.length > 0 ? this.#schema.liftedIndex(name) : -1;
      if (liftedAt >= 0) {
        liftedValues[liftedAt] = value;
        continue;
      }
      json += (json === '' ? '' : ',') + jsonString(name) + ':' + jsonString(value);
    }
    const seriesId = BigInt.asIntN(64, this.#hash.h64(idInput)).toString();
    let middle = ',' + seriesId;
    for (const v of liftedValues) middle += ',' + csvField(v);
    middle += ',' + csvQuoted('{' + json + '}') + ',';
    return { database, middle };
  }

  #targetFor(database: string, table: string): TableRows {
    const prefix = segmentPrefix(database, table, this.#schema.hash);
    let t = this.#tables.get(prefix);
    if (t === undefined) {
      t = { database, table, prefix, csv: '', rows: 0 };
      this.#tables.set(prefix, t);
    }
    return t;
  }

  /**
   * A native histogram becomes classic series (docs/data-model.md): `<name>_count`, `<name>_sum`
   * and `<name>_bucket{le=...}` with cumulative counts, each in its own table.
   */
  #histogramRows(h: NativeHistogram): void {
    const { count, sum, buckets } = histogramToRows(h);
    const base = normalizeMetricName(this.#values[indexOf(this.#names, this.#n, NAME)]!);
    const ts = h.timestampMs;
    const c = this.#middleFor(base + 'Count', '_count', -1, '');
    this.#row(this.#targetFor(c.database, base + 'Count'), c.middle, count, ts);
    const s = this.#middleFor(base + 'Sum', '_sum', -1, '');
    this.#row(this.#targetFor(s.database, base + 'Sum'), s.middle, sum, ts);
    const leAt = sortedInsertIndex(this.#names, this.#n, 'le');
    for (const b of buckets) {
      const le = b.le === Infinity ? '+Inf' : String(b.le);
      const m = this.#middleFor(base + 'Bucket', '_bucket', leAt, le);
      this.#row(this.#targetFor(m.database, base + 'Bucket'), m.middle, b.cumulativeCount, ts);
    }
  }
}

/** UTF-8 byte length (label limits are in bytes). */
function utf8Length(s: string): number {
  return isAscii(s) ? s.length : Buffer.byteLength(s);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function indexOf(names: string[], n: number, name: string): number {
  for (let i = 0; i < n; i++) if (names[i] === name) return i;
  return -1;
}

/** Label order: by lower-cased name, then by the name itself (adx-mon's CompareLower). */
export function compareLabelNames(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Insertion sort of the first n pairs: label sets arrive (nearly) sorted, so this is ~linear. */
function sortLabels(names: string[], values: string[], n: number): void {
  for (let i = 1; i < n; i++) {
    const name = names[i]!;
    const value = values[i]!;
    let j = i - 1;
    while (j >= 0 && compareLabelNames(names[j]!, name) > 0) {
      names[j + 1] = names[j]!;
      values[j + 1] = values[j]!;
      j--;
    }
    names[j + 1] = name;
    values[j + 1] = value;
  }
}

function sortedInsertIndex(names: string[], n: number, name: string): number {
  let i = 0;
  while (i < n && compareLabelNames(names[i]!, name) < 0) i++;
  return i;
}
