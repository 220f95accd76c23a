/**
 * Encoder for remote-write 1.0 and 2.0 requests, for tests and the load generator. It writes the
 * same wire format as Prometheus's Go code: fields in field-number order, proto3 defaults
 * (0, -0 excepted, and "") omitted, repeated scalars packed, and both histogram `oneof`s (count,
 * zero count) always present so that the integer/float kind survives a round trip.
 *
 * Numbers: timestamps and counts must be integers of magnitude at most 2^53; histogram deltas
 * at most 2^52 (zigzag doubles them).
 */
import type { NativeHistogram } from './histogram.js';
import { WireType } from './protobuf-reader.js';

export interface EncodeSeries {
  labels: [string, string][];
  samples?: { value: number; timestampMs: number }[];
  histograms?: NativeHistogram[];
  /** Number of dummy exemplars to attach (value 1, timestamp of the first sample or 0). */
  exemplars?: number;
}

const TWO_POW_32 = 4294967296;
const textEncoder = new TextEncoder();

/** A growable buffer with protobuf primitives. Nested messages: `beginLen` … `endLen`. */
class ProtoWriter {
  buf = new Uint8Array(4096);
  pos = 0;
  #view = new DataView(this.buf.buffer);

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.#view = new DataView(next.buffer);
  }

  tag(field: number, wireType: number): void {
    this.uint32((field << 3) | wireType);
  }

  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    v >>>= 0;
    while (v > 0x7f) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  /** Non-negative integer up to 2^53. */
  uint64(v: number): void {
    if (v < TWO_POW_32) this.uint32(v);
    else this.#varint64(v >>> 0, Math.floor(v / TWO_POW_32) >>> 0);
  }

  /** Integer; negative values take 10 bytes (two's complement). */
  int64(v: number): void {
    if (v >= 0) {
      this.uint64(v);
      return;
    }
    const a = -v;
    let lo = a >>> 0;
    let hi = Math.floor(a / TWO_POW_32) >>> 0;
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    this.#varint64(lo, hi);
  }

  sint64(v: number): void {
    this.uint64(v >= 0 ? 2 * v : -2 * v - 1);
  }

  sint32(v: number): void {
    this.uint32((v << 1) ^ (v >> 31));
  }

  #varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    while (hi !== 0) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  double(v: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A length-prefixed UTF-8 string (lone surrogates become U+FFFD). */
  string(s: string): void {
    const n = s.length;
    if (n < 0x80) {
      // Optimistically write ASCII after a one-byte length; fall back at the first other char.
      this.ensure(n + 1);
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          this.bytes(textEncoder.encode(s));
          return;
        }
        buf[pos++] = c;
      }
      buf[start] = n;
      this.pos = pos;
      return;
    }
    this.bytes(textEncoder.encode(s));
  }

  bytes(b: Uint8Array): void {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Starts a LEN field's payload (after its tag); returns a mark for `endLen`. */
  beginLen(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length prefix reserved by `beginLen`, moving the payload if it needs more bytes. */
  endLen(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    let size = 1;
    while (len >= 2 ** (7 * size)) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(mark + size, mark + 1, this.pos);
    const end = this.pos + size - 1;
    this.pos = mark;
    this.uint32(len);
    this.pos = end;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

const { VARINT, I64, LEN } = WireType;

/** Field numbers of a TimeSeries' data parts; each version writes them in field-number order. */
const V1_FIELDS = { samples: 2, exemplars: 3, histograms: 4 } as const;
const V2_FIELDS = { samples: 2, histograms: 3, exemplars: 4 } as const;

/** Encodes a `prometheus.WriteRequest`. */
export function encodeWriteRequestV1(series: EncodeSeries[]): Uint8Array {
  const w = new ProtoWriter();
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    w.tag(1, LEN); // WriteRequest.timeseries
    const ts = w.beginLen();
    const labels = s.labels;
    for (let j = 0; j < labels.length; j++) {
      const name = labels[j]![0];
      const value = labels[j]![1];
      w.tag(1, LEN); // TimeSeries.labels: Label { string name = 1; string value = 2; }
      const label = w.beginLen();
      if (name !== '') (w.tag(1, LEN), w.string(name));
      if (value !== '') (w.tag(2, LEN), w.string(value));
      w.endLen(label);
    }
    writeSeriesData(w, s, V1_FIELDS);
    w.endLen(ts);
  }
  return w.finish();
}

/** Encodes an `io.prometheus.write.v2.Request`; symbols[0] is "", then symbols in first-use order. */
export function encodeWriteRequestV2(series: EncodeSeries[]): Uint8Array {
  const symbols = new Map<string, number>([['', 0]]);
  const body = new ProtoWriter();
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    body.tag(5, LEN); // Request.timeseries
    const ts = body.beginLen();
    const labels = s.labels;
    if (labels.length > 0) {
      body.tag(1, LEN); // TimeSeries.labels_refs, packed
      const refs = body.beginLen();
      for (let j = 0; j < labels.length; j++) {
        body.uint32(symbolRef(symbols, labels[j]![0]));
        body.uint32(symbolRef(symbols, labels[j]![1]));
      }
      body.endLen(refs);
    }
    writeSeriesData(body, s, V2_FIELDS);
    body.endLen(ts);
  }
  const w = new ProtoWriter();
  for (const symbol of symbols.keys()) (w.tag(4, LEN), w.string(symbol)); // Request.symbols
  w.ensure(body.pos);
  w.buf.set(body.buf.subarray(0, body.pos), w.pos);
  w.pos += body.pos;
  return w.finish();
}

function symbolRef(symbols: Map<string, number>, s: string): number {
  let id = symbols.get(s);
  if (id === undefined) symbols.set(s, (id = symbols.size));
  return id;
}

/** Samples, exemplars and histograms of a TimeSeries, in field-number order. */
function writeSeriesData(
  w: ProtoWriter, s: EncodeSeries, f: { samples: number; exemplars: number; histograms: number },
): void {
  const samples = s.samples;
  if (samples !== undefined) {
    for (let i = 0; i < samples.length; i++) {
      w.tag(f.samples, LEN);
      writeSample(w, samples[i]!.value, samples[i]!.timestampMs);
    }
  }
  if (f.exemplars < f.histograms) writeExemplars(w, s, f.exemplars);
  const histograms = s.histograms;
  if (histograms !== undefined) {
    for (let i = 0; i < histograms.length; i++) {
      w.tag(f.histograms, LEN);
      writeHistogram(w, histograms[i]!);
    }
  }
  if (f.exemplars > f.histograms) writeExemplars(w, s, f.exemplars);
}

/** Dummy exemplars without labels: Exemplar { labels(_refs) = 1; double value = 2; int64 timestamp = 3; } */
function writeExemplars(w: ProtoWriter, s: EncodeSeries, field: number): void {
  const n = s.exemplars ?? 0;
  const ts = s.samples !== undefined && s.samples.length > 0 ? s.samples[0]!.timestampMs : 0;
  for (let i = 0; i < n; i++) {
    w.tag(field, LEN);
    const m = w.beginLen();
    w.tag(2, I64);
    w.double(1);
    if (ts !== 0) (w.tag(3, VARINT), w.int64(ts));
    w.endLen(m);
  }
}

/** Sample { double value = 1; int64 timestamp = 2; }, length-prefixed. */
function writeSample(w: ProtoWriter, value: number, timestampMs: number): void {
  const m = w.beginLen();
  if (!Object.is(value, 0)) (w.tag(1, I64), w.double(value));
  if (timestampMs !== 0) (w.tag(2, VARINT), w.int64(timestampMs));
  w.endLen(m);
}

/** Histogram (same field numbers in 1.0 and 2.0), length-prefixed. */
function writeHistogram(w: ProtoWriter, h: NativeHistogram): void {
  const m = w.beginLen();
  if (h.isFloat) (w.tag(2, I64), w.double(h.count));
  else (w.tag(1, VARINT), w.uint64(h.count));
  if (!Object.is(h.sum, 0)) (w.tag(3, I64), w.double(h.sum));
  if (h.schema !== 0) (w.tag(4, VARINT), w.sint32(h.schema));
  if (!Object.is(h.zeroThreshold, 0)) (w.tag(5, I64), w.double(h.zeroThreshold));
  if (h.isFloat) (w.tag(7, I64), w.double(h.zeroCount));
  else (w.tag(6, VARINT), w.uint64(h.zeroCount));
  writeSide(w, 8, h.negativeSpans, h.negativeBuckets, h.isFloat);
  writeSide(w, 11, h.positiveSpans, h.positiveBuckets, h.isFloat);
  if (h.resetHint !== 0) (w.tag(14, VARINT), w.int64(h.resetHint));
  if (h.timestampMs !== 0) (w.tag(15, VARINT), w.int64(h.timestampMs));
  if (h.customValues.length > 0) writePackedDoubles(w, 16, h.customValues);
  w.endLen(m);
}

/** Spans at `field`, deltas at `field + 1` or counts at `field + 2`. */
function writeSide(w: ProtoWriter, field: number, spans: NativeHistogram['positiveSpans'], buckets: number[], isFloat: boolean): void {
  for (const span of spans) {
    w.tag(field, LEN); // BucketSpan { sint32 offset = 1; uint32 length = 2; }
    const m = w.beginLen();
    if (span.offset !== 0) (w.tag(1, VARINT), w.sint32(span.offset));
    if (span.length !== 0) (w.tag(2, VARINT), w.uint32(span.length));
    w.endLen(m);
  }
  if (buckets.length === 0) return;
  if (isFloat) {
    writePackedDoubles(w, field + 2, buckets);
    return;
  }
  w.tag(field + 1, LEN);
  const m = w.beginLen();
  for (const d of buckets) w.sint64(d);
  w.endLen(m);
}

function writePackedDoubles(w: ProtoWriter, field: number, values: number[]): void {
  w.tag(field, LEN);
  w.uint32(values.length * 8);
  for (const v of values) w.double(v);
}
