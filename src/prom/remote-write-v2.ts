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
import { SymbolIds } from './symbol-ids.js';

/**
 * Decodes a serialized `io.prometheus.write.v2.Request`. Throws `IngestError`: `bad_protobuf`,
 * `invalid_utf8`, or `invalid_request` (symbols[0] not "", a label reference out of range, an odd
 * number of label references in a series).
 */
export function decodeWriteRequestV2(buf: Uint8Array, sink: SeriesSink, symbolIds: SymbolIds = threadSymbolIds): void {
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
  const symbolCount = bounds.length / 2;
  const state: DecodeState = {
    r, sink, bounds, symbolCount, symbolIds, refs: scratchRefs, ids: new Int32Array(symbolCount), idGeneration: new Int32Array(symbolCount),
    keyWords: scratchKey, keyBytes: new Uint8Array(scratchKey.buffer), histograms: undefined,
  };
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
  readonly symbolIds: SymbolIds;
  /** Label references of the current series. */
  refs: Int32Array;
  /** Per symbol of this request: its stable id, valid while `idGeneration[i]` is the table's generation. */
  readonly ids: Int32Array;
  readonly idGeneration: Int32Array;
  /** The current series' key: marker, generation, then a stable id per reference. */
  keyWords: Int32Array;
  keyBytes: Uint8Array;
  /** Created on the first histogram of the request. */
  histograms: HistogramDecoder | undefined;
}

/**
 * Series keys are 32-bit words: a marker (0xff in the first byte, which a 1.0 key, a protobuf
 * Label field starting with 0x0a, never has), the symbol table generation, then the stable id of
 * every label reference in wire order. Equal keys mean equal label bytes in equal order.
 */
const KEY_MARKER = 0xff;
/** Symbol ids kept across requests, per thread: 16 MiB of symbol bytes, up to 256 Ki symbols. */
const threadSymbolIds = new SymbolIds(16 << 20, 1 << 19);
let scratchRefs = new Int32Array(128);
let scratchKey = new Int32Array(130);

/** Writes the current series' key into `state.keyBytes`; returns its length in bytes, or -1 for none. */
function seriesKeyOf(state: DecodeState, count: number): number {
  if (state.keyWords.length < count + 2) {
    scratchKey = state.keyWords = new Int32Array(count + 2);
    state.keyBytes = new Uint8Array(scratchKey.buffer);
  }
  const { refs, ids, idGeneration, bounds, keyWords: words, symbolIds } = state;
  const buf = state.r.buf;
  for (let attempt = 0; attempt < 2; attempt++) {
    const gen = symbolIds.generation;
    let k = 0;
    for (; k < count; k++) {
      const ref = refs[k]!;
      if (idGeneration[ref] !== gen) {
        const id = symbolIds.idOf(buf, bounds[2 * ref]!, bounds[2 * ref + 1]!);
        if (id < 0) return -1;
        if (symbolIds.generation !== gen) break; // the table started over: the ids so far are stale
        ids[ref] = id;
        idGeneration[ref] = gen;
      }
      words[k + 2] = ids[ref]!;
    }
    if (k === count) {
      words[0] = KEY_MARKER;
      words[1] = gen;
      return 4 * (count + 2);
    }
  }
  return -1;
}

function grow(a: Int32Array): Int32Array {
  const next = new Int32Array(a.length * 2);
  next.set(a);
  scratchRefs = next;
  return next;
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
  // Pass 1: collect the label references (name/value pairs across all packed and unpacked runs)
  // and find the first data field.
  let refs = state.refs;
  let count = 0;
  let dataStart = -1;
  let histograms = false;
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
        if (count === refs.length) refs = state.refs = grow(refs);
        refs[count++] = ref;
      }
      r.end = end;
    } else if (tag === 0x08) {
      // 1 labels_refs, one unpacked element
      const ref = r.uint32();
      if (ref >= symbolCount) throw badRef(ref, symbolCount);
      if (count === refs.length) refs = state.refs = grow(refs);
      refs[count++] = ref;
    } else {
      if (dataStart < 0 && (tag === 0x12 || tag === 0x1a || tag === 0x22)) dataStart = at;
      if (tag === 0x1a) histograms = true;
      r.skip(tag);
    }
  }
  if (count % 2 !== 0) throw new IngestError('invalid_request', 'odd number of label references in a series');
  // A series with histograms offers no key: the sink then always gets its labels.
  const keyLength = histograms ? -1 : seriesKeyOf(state, count);
  if (sink.seriesKey(state.keyBytes, keyLength < 0 ? -1 : 0, keyLength)) {
    const b = state.bounds;
    for (let k = 0; k < count; k += 2) {
      const name = refs[k]!;
      const value = refs[k + 1]!;
      sink.label(r.buf, b[2 * name]!, b[2 * name + 1]!, b[2 * value]!, b[2 * value + 1]!);
    }
  }
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
