import type { NativeHistogram } from './histogram.js';
import { decodeUtf8 } from './utf8.js';

/**
 * Receives the series of a decoded remote-write request, in order, without intermediate objects.
 *
 * Call order per series (guaranteed by every decoder, whatever the field order on the wire):
 *   beginSeries, seriesKey, label* (every label of the series, unless seriesKey returned false),
 *   then sample* / histogram* / exemplar* in any interleaving, then endSeries.
 *
 * Within a series, samples, histograms and exemplars arrive in wire order. Labels arrive as
 * sent: decoders neither sort nor check them (empty or duplicate names are the sink's to reject).
 *
 * Labels arrive as byte ranges of `buf` (the decompressed request): `[nameStart, nameEnd)` and
 * `[valueStart, valueEnd)`, UTF-8 *not yet validated* — the sink validates what it uses. The
 * ranges stay valid for the whole decode call (the buffer is not reused during it), so a sink may
 * keep them until `endSeries`. Passing ranges instead of strings lets the CSV writer copy label
 * bytes straight into rows without creating a JS string per label. A `NativeHistogram` passed to `histogram` and its arrays are only valid during the
 * call (decoders reuse them); it is passed as decoded, not validated (`histogramToRows` validates).
 *
 * If a decoder throws, the sink may already have received part of the request (even half a
 * series, without `endSeries`): the caller must discard everything it received for the request.
 */
export interface SeriesSink {
  beginSeries(): void;
  label(buf: Uint8Array, nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void;
  /**
   * Before the labels: `buf[start, end)` identifies the series' label set exactly, usable as a
   * cache key — for 1.0 the encoded bytes of its Label fields when contiguous on the wire;
   * For 2.0 the key is built from stable ids of the referenced symbols (see remote-write-v2.ts).
   * `start` is -1 when there is no key: labels interleaved with other fields, or a series with
   * native histograms (those always get their labels). Returns whether the sink wants the
   * `label` calls; a sink that returns false must do without them for this series.
   */
  seriesKey(buf: Uint8Array, start: number, end: number): boolean;
  /** `timestampMs` is milliseconds since the Unix epoch, an integer (may be negative). */
  sample(value: number, timestampMs: number): void;
  histogram(h: NativeHistogram): void;
  /** Exemplars are counted, not stored. */
  exemplar(): void;
  endSeries(): void;
}

/**
 * Base for sinks that want labels as strings (tests, tools, the reference row builder): decodes
 * each range strictly (`invalid_utf8` on bad bytes) and calls `labelString`.
 */
export abstract class StringLabelSink implements SeriesSink {
  label(buf: Uint8Array, nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    this.labelString(decodeUtf8(buf, nameStart, nameEnd), decodeUtf8(buf, valueStart, valueEnd));
  }
  abstract labelString(name: string, value: string): void;
  seriesKey(_buf: Uint8Array, _start: number, _end: number): boolean {
    return true;
  }
  abstract beginSeries(): void;
  abstract sample(value: number, timestampMs: number): void;
  abstract histogram(h: NativeHistogram): void;
  abstract exemplar(): void;
  abstract endSeries(): void;
}
