/**
 * Decoder for Prometheus remote write 1.0 (`prometheus.WriteRequest`), straight into a
 * `SeriesSink`, without building message objects.
 *
 * Field order on the wire is not guaranteed, but the sink must see every label of a series
 * before its samples. Each `TimeSeries` is therefore read in two passes: the first emits labels
 * and notes where the first sample, histogram or exemplar is; the second starts there and emits
 * those. A sender writing labels first (all known senders) costs one extra tag read per sample.
 *
 * Lifetime: `buf` is borrowed for the call; the sink receives byte ranges of it (labels, UTF-8
 * unvalidated), numbers, and a reused `NativeHistogram` valid during its `histogram` call. If the decoder throws, the sink may
 * already have received part of the request and must discard it.
 */
import { HistogramDecoder } from './histogram.js';
import { ProtoReader } from './protobuf-reader.js';
import type { SeriesSink } from './series-sink.js';

/** Decodes a serialized `prometheus.WriteRequest`. Throws `IngestError` (`bad_protobuf`, `invalid_utf8`, ...). */
export function decodeWriteRequestV1(buf: Uint8Array, sink: SeriesSink): void {
  const r = new ProtoReader(buf);
  const state: DecodeState = { r, sink, histograms: undefined };
  // message WriteRequest {
  //   repeated prometheus.TimeSeries timeseries = 1;
  //   reserved 2;
  //   repeated prometheus.MetricMetadata metadata = 3;
  // }
  while (r.pos < r.end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      // 1 timeseries
      const len = r.len();
      decodeTimeSeries(state, r.pos + len);
    } else {
      r.skip(tag); // metadata and unknown fields
    }
  }
}

interface DecodeState {
  readonly r: ProtoReader;
  readonly sink: SeriesSink;
  /** Created on the first histogram of the request. */
  histograms: HistogramDecoder | undefined;
}

// message TimeSeries {
//   repeated Label labels = 1;
//   repeated Sample samples = 2;
//   repeated Exemplar exemplars = 3;
//   repeated Histogram histograms = 4;
// }
function decodeTimeSeries(state: DecodeState, end: number): void {
  const { r, sink } = state;
  const outer = r.end;
  r.end = end;
  sink.beginSeries();
  // Pass 1: find the labels and the first data field. Contiguous label fields double as the
  // series' cache key; a sink that knows the series already skips the labels entirely.
  const seriesStart = r.pos;
  let dataStart = -1;
  let keyStart = -1;
  let keyEnd = -1;
  let contiguous = true;
  let histograms = false;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag();
    if (tag === 0x0a) {
      if (keyStart < 0) keyStart = at;
      else if (keyEnd !== at) contiguous = false;
      const len = r.len(); // (not `r.pos += r.len()`: that reads pos before len() moves it)
      r.pos += len;
      keyEnd = r.pos;
    } else {
      if (dataStart < 0 && (tag === 0x12 || tag === 0x1a || tag === 0x22)) dataStart = at;
      if (tag === 0x22) histograms = true;
      r.skip(tag);
    }
  }
  // A series with histograms offers no key: the sink then always gets its labels.
  if (sink.seriesKey(r.buf, contiguous && !histograms ? keyStart : -1, keyEnd)) {
    r.pos = seriesStart;
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 0x0a) emitLabel(r, sink);
      else r.skip(tag);
    }
  }
  // Pass 2: samples, exemplars, histograms, from the first of them on.
  if (dataStart >= 0) {
    r.pos = dataStart;
    while (r.pos < end) {
      const tag = r.tag();
      switch (tag) {
        case 0x12: { // 2 samples
          const len = r.len();
          decodeSample(r, sink, r.pos + len);
          break;
        }
        case 0x1a: // 3 exemplars: counted, not decoded
          r.skip(tag);
          sink.exemplar();
          break;
        case 0x22: { // 4 histograms
          const len = r.len();
          state.histograms ??= new HistogramDecoder();
          sink.histogram(state.histograms.decode(r, r.pos + len));
          break;
        }
        default:
          r.skip(tag); // labels (done in pass 1) and unknown fields
      }
    }
  }
  sink.endSeries();
  r.end = outer;
}

/** Byte ranges of the last Label read by `decodeLabel` (avoids allocating a pair per label). */
let nameStart = 0;
let nameEnd = 0;
let valueStart = 0;
let valueEnd = 0;

/**
 * Passes the Label fields in `buf[start, end)` (contiguous `labels` fields of one TimeSeries, as
 * a sink's series key) to `sink.label`; other fields there are skipped.
 */
export function emitLabels(buf: Uint8Array, start: number, end: number, sink: SeriesSink): void {
  const r = new ProtoReader(buf);
  r.pos = start;
  r.end = end;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) emitLabel(r, sink);
    else r.skip(tag);
  }
}

/** Reads one length-prefixed Label and passes its byte ranges to the sink. */
function emitLabel(r: ProtoReader, sink: SeriesSink): void {
  const len = r.len();
  decodeLabel(r, r.pos + len);
  sink.label(r.buf, nameStart, nameEnd, valueStart, valueEnd);
}

// message Label { string name = 1; string value = 2; }
function decodeLabel(r: ProtoReader, end: number): void {
  const outer = r.end;
  r.end = end;
  nameStart = nameEnd = valueStart = valueEnd = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const len = r.len();
      nameStart = r.pos;
      nameEnd = r.pos += len;
    } else if (tag === 0x12) {
      const len = r.len();
      valueStart = r.pos;
      valueEnd = r.pos += len;
    } else {
      r.skip(tag);
    }
  }
  r.end = outer;
}

// message Sample { double value = 1; int64 timestamp = 2; }   (2.0 adds start_timestamp = 3, skipped)
/** Decodes a 1.0 or 2.0 `Sample` and passes it to the sink. */
export function decodeSample(r: ProtoReader, sink: SeriesSink, end: number): void {
  const outer = r.end;
  r.end = end;
  let value = 0;
  let timestampMs = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x09) value = r.double();
    else if (tag === 0x10) timestampMs = r.int64();
    else r.skip(tag);
  }
  r.end = outer;
  sink.sample(value, timestampMs);
}
