/**
 * Decoder for Prometheus remote write 2.0 (`io.prometheus.write.v2.Request`), straight into a
 * `SeriesSink`, without building message objects.
 *
 * Field order on the wire is not guaranteed, so the request is read in two passes: the first
 * records where each symbol's bytes are, the second decodes the series. Labels reach the sink as
 * the byte ranges of their symbols; the sink validates the UTF-8 of what it uses, so symbols no
 * label references are never checked.
 * Within a series, labels are emitted before samples whatever their wire order (two passes over
 * the series, as in remote-write-v1.ts).
 *
 * Lifetime: `buf` is borrowed for the call; the sink receives byte ranges of it (labels), numbers,
 * and a reused `NativeHistogram` valid during its `histogram` call. If the decoder throws, the sink may
 * already have received part of the request and must discard it.
 */
import { IngestError } from '../errors.js';
import { HistogramDecoder } from './histogram.js';
import { ProtoReader } from './protobuf-reader.js';
import { decodeSample } from './remote-write-v1.js';
import type { SeriesSink } from './series-sink.js';

/**
 * Decodes a serialized `io.prometheus.write.v2.Request`. Throws `IngestError`: `bad_protobuf`,
 * `invalid_utf8`, or `invalid_request` (symbols[0] not "", a label reference out of range, an odd
 * number of label references in a series).
 */
export function decodeWriteRequestV2(buf: Uint8Array, sink: SeriesSink): void {
  const r = new ProtoReader(buf);
  // message Request {
  //   reserved 1 to 3;
  //   repeated string symbols = 4;
  //   repeated TimeSeries timeseries = 5;
  // }
  // Pass 1: where the symbols are, and where the first series is.
  const bounds: number[] = []; // start and end offset of each symbol, in order
  let firstSeries = -1;
  while (r.pos < r.end) {
    const at = r.pos;
    const tag = r.tag();
    if (tag === 0x22) {
      // 4 symbols
      const len = r.len();
      bounds.push(r.pos, r.pos + len);
      r.pos += len;
    } else {
      if (tag === 0x2a && firstSeries < 0) firstSeries = at;
      r.skip(tag);
    }
  }
  if (bounds.length > 0 && bounds[1] !== bounds[0]) {
    throw new IngestError('invalid_request', 'symbols[0] must be the empty string');
  }
  if (firstSeries < 0) return;
  const state: DecodeState = { r, sink, bounds, symbolCount: bounds.length / 2, histograms: undefined };
  // Pass 2: the series.
  r.pos = firstSeries;
  while (r.pos < r.end) {
    const tag = r.tag();
    if (tag === 0x2a) {
      // 5 timeseries
      const len = r.len();
      decodeTimeSeries(state, r.pos + len);
    } else {
      r.skip(tag);
    }
  }
}

interface DecodeState {
  readonly r: ProtoReader;
  readonly sink: SeriesSink;
  readonly bounds: number[];
  readonly symbolCount: number;
  /** Created on the first histogram of the request. */
  histograms: HistogramDecoder | undefined;
}

function badRef(ref: number, count: number): IngestError {
  return new IngestError('invalid_request', `label reference ${ref} out of range (${count} symbols)`);
}

// message TimeSeries {
//   repeated uint32 labels_refs = 1;
//   repeated Sample samples = 2;
//   repeated Histogram histograms = 3;
//   repeated Exemplar exemplars = 4;
//   Metadata metadata = 5;
//   int64 created_timestamp = 6;
// }
function decodeTimeSeries(state: DecodeState, end: number): void {
  const { r, sink, symbolCount } = state;
  const outer = r.end;
  r.end = end;
  sink.beginSeries();
  sink.seriesKey(r.buf, -1, -1); // refs index a per-request symbol table: no stable key
  // Pass 1: labels. References form name/value pairs across all packed and unpacked runs.
  let name = -1; // name reference waiting for its value
  let dataStart = -1;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag();
    if (tag === 0x0a) {
      // 1 labels_refs, packed
      const runEnd = r.len() + r.pos;
      r.end = runEnd;
      while (r.pos < runEnd) {
        const ref = r.uint32();
        if (ref >= symbolCount) throw badRef(ref, symbolCount);
        if (name < 0) name = ref;
        else {
          sink.label(r.buf, state.bounds[2 * name]!, state.bounds[2 * name + 1]!, state.bounds[2 * ref]!, state.bounds[2 * ref + 1]!);
          name = -1;
        }
      }
      r.end = end;
    } else if (tag === 0x08) {
      // 1 labels_refs, one unpacked element
      const ref = r.uint32();
      if (ref >= symbolCount) throw badRef(ref, symbolCount);
      if (name < 0) name = ref;
      else {
        sink.label(r.buf, state.bounds[2 * name]!, state.bounds[2 * name + 1]!, state.bounds[2 * ref]!, state.bounds[2 * ref + 1]!);
        name = -1;
      }
    } else {
      if (dataStart < 0 && (tag === 0x12 || tag === 0x1a || tag === 0x22)) dataStart = at;
      r.skip(tag);
    }
  }
  if (name >= 0) throw new IngestError('invalid_request', 'odd number of label references in a series');
  // Pass 2: samples, histograms, exemplars, from the first of them on.
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
        case 0x1a: { // 3 histograms
          const len = r.len();
          state.histograms ??= new HistogramDecoder();
          sink.histogram(state.histograms.decode(r, r.pos + len));
          break;
        }
        case 0x22: // 4 exemplars: counted, not decoded
          r.skip(tag);
          sink.exemplar();
          break;
        default:
          r.skip(tag); // labels_refs (done in pass 1), metadata, created_timestamp, unknown fields
      }
    }
  }
  sink.endSeries();
  r.end = outer;
}
