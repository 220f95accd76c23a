import snappy from 'snappy';
import { METRIC_TYPE_NUMBER, SeriesCatalog, mulberry32, type SeriesCatalogOptions } from './series-catalog.js';

/**
 * Builds Prometheus remote-write request bodies fast: label bytes (v1) and symbol bytes (v2) are
 * encoded once; per request only samples, the v2 symbol table and the framing are written into a
 * reused scratch buffer, which is then snappy-compressed (block format).
 *
 * Remote write 1.0 (prometheus/prompb/remote.proto, types.proto):
 *
 *   message WriteRequest { repeated TimeSeries timeseries = 1; }
 *   message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   message Label        { string name = 1; string value = 2; }
 *   message Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 *
 * Remote write 2.0 (prometheus/prompb/io/prometheus/write/v2/types.proto):
 *
 *   message Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }  // symbols[0] == ""
 *   message TimeSeries { repeated uint32 labels_refs = 1; repeated Sample samples = 2; Metadata metadata = 5; }
 *   message Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
 *
 * One series entry as written here (fields in number order, as Go's gogoproto writes them):
 *
 *   v1: ┌0x0a len┬ labels (pre-encoded) ┬0x12 len┬0x09 value:f64le┬0x10 ts:varint┐
 *   v2: ┌0x2a len┬0x0a len refs:varint…┬0x12 len┬0x09 value:f64le┬0x10 ts:varint┬0x2a len┬0x08 type┬0x18 help┐
 */
export const TAG = {
  v1WriteRequestTimeseries: 0x0a, // field 1, length-delimited
  v1TimeSeriesLabels: 0x0a, // field 1, length-delimited
  v1LabelName: 0x0a,
  v1LabelValue: 0x12, // field 2, length-delimited
  timeSeriesSamples: 0x12, // field 2, length-delimited (v1 and v2)
  sampleValue: 0x09, // field 1, 64-bit
  sampleTimestamp: 0x10, // field 2, varint
  v2RequestSymbols: 0x22, // field 4, length-delimited
  v2RequestTimeseries: 0x2a, // field 5, length-delimited
  v2TimeSeriesLabelsRefs: 0x0a, // field 1, packed varints
  v2TimeSeriesMetadata: 0x2a, // field 5, length-delimited
  v2MetadataType: 0x08, // field 1, varint
  v2MetadataHelpRef: 0x18, // field 3, varint
} as const;

export type Protocol = 1 | 2;

export interface RequestBuilderOptions extends SeriesCatalogOptions {
  protocol: Protocol;
  /** Samples per request, one per series, walking the series round-robin. Capped at `series`. */
  samplesPerRequest: number;
  /** v2 only: attach Metadata (type, help_ref) to every series, as Prometheus does. Default true. */
  metadata?: boolean;
  /** Clock for sample timestamps, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Memory for per-group body templates. The walk has `series / gcd(series, samplesPerRequest)`
   * distinct starting points; when a body per starting point fits in this budget, each is encoded
   * once and later requests only overwrite sample values and timestamps in place (about twice as
   * fast). Default 256 MiB; 0 disables.
   */
  templateBudgetBytes?: number;
}

export interface BuiltRequest {
  /** Snappy block-compressed body, owned by the caller. */
  body: Buffer;
  samples: number;
  /** The uncompressed protobuf; a view of the builder's scratch buffer, valid until the next `next()`. */
  raw: Uint8Array;
}

const SAMPLE_MAX_BYTES = 1 + 8 + 1 + 10;

/** A group's last body. `valueOffsets[i]` is where the i-th sample's f64 starts; its timestamp follows 1 byte later. */
interface Template {
  raw: Buffer;
  valueOffsets: Uint32Array;
  tsLen: number;
}

export class RequestBuilder {
  readonly protocol: Protocol;
  readonly samplesPerRequest: number;
  readonly catalog: SeriesCatalog;
  readonly #metadata: boolean;
  readonly #now: () => number;
  readonly #rng: () => number;
  /** Current value of each series; counters only grow. */
  readonly #values: Float64Array;
  readonly #isCounter: Uint8Array;
  #cursor = 0;
  #scratch: Buffer;
  /** Value offsets of the body last written into `#scratch`. */
  readonly #valueOffsets: Uint32Array;
  /** Keyed by the series index a request starts at; undefined when the budget does not allow it. */
  readonly #templates: Map<number, Template> | undefined;
  /** The current request's timestamp as a varint. */
  readonly #tsBytes = new Uint8Array(10);
  #tsLen = 0;
  readonly #f64 = new Float64Array(1);
  readonly #f64Bytes = new Uint8Array(this.#f64.buffer);

  // v1: every series' `labels` fields, back to back.
  #labelBytes: Buffer = Buffer.alloc(0);
  #labelOffsets = new Uint32Array(1);

  // v2: every interned string encoded as a `symbols` field (tag, length, UTF-8), back to back.
  #symbolBytes: Buffer = Buffer.alloc(0);
  #symbolOffsets = new Uint32Array(1);
  /** Local (per-request) symbol id of each global string id; valid where `#symbolEpoch[g] === #epoch`. */
  #localId = new Uint32Array(0);
  #symbolEpoch = new Uint32Array(0);
  #epoch = 0;
  #usedSymbols = new Uint32Array(0);

  constructor(opts: RequestBuilderOptions) {
    if (opts.protocol !== 1 && opts.protocol !== 2) throw new RangeError(`protocol must be 1 or 2, got ${opts.protocol}`);
    if (!Number.isInteger(opts.samplesPerRequest) || opts.samplesPerRequest <= 0) {
      throw new RangeError(`samplesPerRequest must be a positive integer, got ${opts.samplesPerRequest}`);
    }
    this.protocol = opts.protocol;
    this.catalog = new SeriesCatalog(opts);
    this.samplesPerRequest = Math.min(opts.samplesPerRequest, opts.series);
    this.#metadata = opts.metadata ?? true;
    this.#now = opts.now ?? Date.now;
    this.#rng = mulberry32(opts.seed ^ 0x5eed);
    this.#values = new Float64Array(opts.series);
    this.#isCounter = new Uint8Array(opts.series);
    for (let s = 0; s < opts.series; s++) {
      const type = this.catalog.metricTypes[this.catalog.seriesMetric[s]!];
      this.#isCounter[s] = type === 'gauge' ? 0 : 1;
      this.#values[s] = 1 + (this.#rng() % 100_000);
    }
    this.#scratch = Buffer.allocUnsafe(this.protocol === 1 ? this.#prepareV1() : this.#prepareV2());
    this.#valueOffsets = new Uint32Array(this.samplesPerRequest);
    const groups = opts.series / gcd(opts.series, this.samplesPerRequest);
    const budget = opts.templateBudgetBytes ?? 256 * 1024 * 1024;
    this.#templates = groups * this.#scratch.length <= budget ? new Map() : undefined;
  }

  /** Builds the next request: the next `samplesPerRequest` series, each with one fresh sample. */
  next(): BuiltRequest {
    const n = this.samplesPerRequest;
    const first = this.#cursor;
    this.#cursor = (first + n) % this.catalog.series;
    this.#advanceValues(first, n);
    this.#tsLen = writeVarint(this.#tsBytes, 0, this.#now());
    let raw: Buffer;
    const template = this.#templates?.get(first);
    if (template !== undefined && template.tsLen === this.#tsLen) {
      this.#patch(template, first, n);
      raw = template.raw;
    } else {
      const len = this.protocol === 1 ? this.#writeV1(first, n) : this.#writeV2(first, n);
      raw = this.#scratch.subarray(0, len);
      if (this.#templates !== undefined) {
        raw = Buffer.from(raw);
        this.#templates.set(first, { raw, valueOffsets: this.#valueOffsets.slice(), tsLen: this.#tsLen });
      }
    }
    // copyOutputData: napi-rs external output buffers made compressSync 20x slower after a few
    // hundred calls here (allocator churn); copying into a V8 buffer is stable.
    return { body: snappy.compressSync(raw, { copyOutputData: true }), samples: n, raw };
  }

  #patch(template: Template, first: number, n: number): void {
    const { raw, valueOffsets } = template;
    const values = this.#values;
    const series = this.catalog.series;
    const f64 = this.#f64;
    const f64Bytes = this.#f64Bytes;
    const tsBytes = this.#tsBytes;
    const tsLen = this.#tsLen;
    for (let i = 0, s = first; i < n; i++, s = s + 1 === series ? 0 : s + 1) {
      let o = valueOffsets[i]!;
      f64[0] = values[s]!;
      for (let k = 0; k < 8; k++) raw[o++] = f64Bytes[k]!;
      o++; // sampleTimestamp tag
      for (let k = 0; k < tsLen; k++) raw[o++] = tsBytes[k]!;
    }
  }

  #advanceValues(first: number, n: number): void {
    const series = this.catalog.series;
    const values = this.#values;
    for (let i = 0, s = first; i < n; i++, s = s + 1 === series ? 0 : s + 1) {
      const r = this.#rng();
      if (this.#isCounter[s] === 1) values[s] = values[s]! + (r & 15);
      else {
        const g = values[s]! + ((r & 1023) - 511) / 8; // gauges wander, staying positive
        values[s] = g >= 1 ? g : 1 + (r >>> 28);
      }
    }
  }

  /** Pre-encodes labels; returns the scratch size a request can need. */
  #prepareV1(): number {
    const { strings, refs, pairsPerSeries, series } = this.catalog;
    const encoded = strings.map((s) => Buffer.from(s, 'utf8'));
    const offsets = new Uint32Array(series + 1);
    let total = 0;
    for (let s = 0; s < series; s++) {
      for (let p = 0; p < pairsPerSeries; p++) {
        total += fieldSize(labelSize(encoded, refs, (s * pairsPerSeries + p) * 2));
      }
      offsets[s + 1] = total;
    }
    const bytes = Buffer.allocUnsafe(total);
    let o = 0;
    let maxSeries = 0;
    for (let s = 0; s < series; s++) {
      for (let p = 0; p < pairsPerSeries; p++) {
        const r = (s * pairsPerSeries + p) * 2;
        const name = encoded[refs[r]!]!;
        const value = encoded[refs[r + 1]!]!;
        bytes[o++] = TAG.v1TimeSeriesLabels;
        o = writeVarint(bytes, o, labelSize(encoded, refs, r));
        bytes[o++] = TAG.v1LabelName;
        o = writeVarint(bytes, o, name.length);
        o += name.copy(bytes, o);
        bytes[o++] = TAG.v1LabelValue;
        o = writeVarint(bytes, o, value.length);
        o += value.copy(bytes, o);
      }
      maxSeries = Math.max(maxSeries, offsets[s + 1]! - offsets[s]!);
    }
    this.#labelBytes = bytes;
    this.#labelOffsets = offsets;
    return this.samplesPerRequest * (1 + 5 + maxSeries + 2 + SAMPLE_MAX_BYTES);
  }

  #writeV1(first: number, n: number): number {
    const buf = this.#scratch;
    const labels = this.#labelBytes;
    const offsets = this.#labelOffsets;
    const values = this.#values;
    const series = this.catalog.series;
    const sampleLen = 1 + 8 + 1 + this.#tsLen;
    let o = 0;
    for (let i = 0, s = first; i < n; i++, s = s + 1 === series ? 0 : s + 1) {
      const start = offsets[s]!;
      const end = offsets[s + 1]!;
      buf[o++] = TAG.v1WriteRequestTimeseries;
      o = writeVarint(buf, o, end - start + 2 + sampleLen);
      o += labels.copy(buf, o, start, end);
      o = this.#writeSample(buf, o, i, sampleLen, values[s]!);
    }
    return o;
  }

  /** Writes the `samples` field of the i-th series of the request (one Sample, the current timestamp). */
  #writeSample(buf: Buffer, o: number, i: number, sampleLen: number, value: number): number {
    buf[o++] = TAG.timeSeriesSamples;
    buf[o++] = sampleLen;
    buf[o++] = TAG.sampleValue;
    this.#valueOffsets[i] = o;
    buf.writeDoubleLE(value, o);
    o += 8;
    buf[o++] = TAG.sampleTimestamp;
    for (let k = 0; k < this.#tsLen; k++) buf[o++] = this.#tsBytes[k]!;
    return o;
  }

  /** Pre-encodes every string as a `symbols` field; returns the scratch size a request can need. */
  #prepareV2(): number {
    const { strings, pairsPerSeries } = this.catalog;
    const encoded = strings.map((s) => Buffer.from(s, 'utf8'));
    const offsets = new Uint32Array(strings.length + 1);
    let total = 0;
    for (let g = 0; g < encoded.length; g++) offsets[g + 1] = total += fieldSize(encoded[g]!.length);
    const bytes = Buffer.allocUnsafe(total);
    for (let g = 0, o = 0; g < encoded.length; g++) {
      bytes[o++] = TAG.v2RequestSymbols;
      o = writeVarint(bytes, o, encoded[g]!.length);
      o += encoded[g]!.copy(bytes, o);
    }
    this.#symbolBytes = bytes;
    this.#symbolOffsets = offsets;
    this.#localId = new Uint32Array(strings.length);
    this.#symbolEpoch = new Uint32Array(strings.length);
    this.#usedSymbols = new Uint32Array(strings.length + 1);
    const refsMax = pairsPerSeries * 2 * 5;
    const seriesMax = 1 + 5 + (1 + 5 + refsMax) + (2 + SAMPLE_MAX_BYTES) + (2 + 2 + 1 + 5);
    return 2 + total + this.samplesPerRequest * seriesMax;
  }

  /** Assigns request-local symbol ids in order of first use (as Prometheus does); returns the count. */
  #internV2(first: number, n: number): number {
    const { refs, pairsPerSeries, series, seriesMetric, metricHelp } = this.catalog;
    const localId = this.#localId;
    const epochOf = this.#symbolEpoch;
    const used = this.#usedSymbols;
    const epoch = ++this.#epoch;
    let count = 1; // symbols[0] is ""
    const stride = pairsPerSeries * 2;
    for (let i = 0, s = first; i < n; i++, s = s + 1 === series ? 0 : s + 1) {
      for (let r = s * stride, end = r + stride; r < end; r++) {
        const g = refs[r]!;
        if (epochOf[g] !== epoch) {
          epochOf[g] = epoch;
          localId[g] = count;
          used[count++] = g;
        }
      }
      if (this.#metadata) {
        const g = metricHelp[seriesMetric[s]!]!;
        if (epochOf[g] !== epoch) {
          epochOf[g] = epoch;
          localId[g] = count;
          used[count++] = g;
        }
      }
    }
    return count;
  }

  #writeV2(first: number, n: number): number {
    const symbols = this.#internV2(first, n);
    const { refs, pairsPerSeries, series, seriesMetric, metricHelp, metricTypes } = this.catalog;
    const buf = this.#scratch;
    const symbolBytes = this.#symbolBytes;
    const symbolOffsets = this.#symbolOffsets;
    const used = this.#usedSymbols;
    const localId = this.#localId;
    const values = this.#values;
    const stride = pairsPerSeries * 2;
    const sampleLen = 1 + 8 + 1 + this.#tsLen;
    let o = 0;
    buf[o++] = TAG.v2RequestSymbols;
    buf[o++] = 0;
    for (let l = 1; l < symbols; l++) {
      const g = used[l]!;
      o += symbolBytes.copy(buf, o, symbolOffsets[g]!, symbolOffsets[g + 1]!);
    }
    for (let i = 0, s = first; i < n; i++, s = s + 1 === series ? 0 : s + 1) {
      let refsLen = 0;
      for (let r = s * stride, end = r + stride; r < end; r++) refsLen += varintSize(localId[refs[r]!]!);
      let metaLen = 0;
      let helpRef = 0;
      if (this.#metadata) {
        helpRef = localId[metricHelp[seriesMetric[s]!]!]!;
        metaLen = 2 + 1 + varintSize(helpRef);
      }
      const entryLen = fieldSize(refsLen) + 2 + sampleLen + (this.#metadata ? fieldSize(metaLen) : 0);
      buf[o++] = TAG.v2RequestTimeseries;
      o = writeVarint(buf, o, entryLen);
      buf[o++] = TAG.v2TimeSeriesLabelsRefs;
      o = writeVarint(buf, o, refsLen);
      for (let r = s * stride, end = r + stride; r < end; r++) o = writeVarint(buf, o, localId[refs[r]!]!);
      o = this.#writeSample(buf, o, i, sampleLen, values[s]!);
      if (this.#metadata) {
        buf[o++] = TAG.v2TimeSeriesMetadata;
        buf[o++] = metaLen;
        buf[o++] = TAG.v2MetadataType;
        buf[o++] = METRIC_TYPE_NUMBER[metricTypes[seriesMetric[s]!]!];
        buf[o++] = TAG.v2MetadataHelpRef;
        o = writeVarint(buf, o, helpRef);
      }
    }
    return o;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function labelSize(encoded: Buffer[], refs: Uint32Array, r: number): number {
  return fieldSize(encoded[refs[r]!]!.length) + fieldSize(encoded[refs[r + 1]!]!.length);
}

/** Size of a length-delimited field (1-byte tag) whose payload is `len` bytes. */
function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/** Byte count of `v` as a protobuf varint; `v` is a non-negative integer below 2^53. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` (non-negative integer below 2^53) as a varint at `o`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, o: number, v: number): number {
  while (v >= 0x80000000) {
    buf[o++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  while (v >= 128) {
    buf[o++] = (v & 127) | 0x80;
    v >>>= 7;
  }
  buf[o++] = v;
  return o;
}
