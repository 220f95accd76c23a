import type { NativeHistogram } from './histogram.js';

/**
 * Receives the series of a decoded remote-write request, in order, without intermediate objects.
 *
 * Call order per series (guaranteed by every decoder, whatever the field order on the wire):
 *   beginSeries, label* (every label of the series), then sample* / histogram* / exemplar* in any
 *   interleaving, then endSeries.
 *
 * Within a series, samples, histograms and exemplars arrive in wire order. Labels arrive as
 * sent: decoders neither sort nor check them (empty or duplicate names are the sink's to reject).
 *
 * Strings passed to `label` are ordinary immutable JS strings the sink may keep; they are often
 * shared (interned) instances, the same string object for the same bytes across series and
 * requests. A `NativeHistogram` passed to `histogram` and its arrays are only valid during the
 * call (decoders reuse them); it is passed as decoded, not validated (`histogramToRows` validates).
 *
 * If a decoder throws, the sink may already have received part of the request (even half a
 * series, without `endSeries`): the caller must discard everything it received for the request.
 */
export interface SeriesSink {
  beginSeries(): void;
  label(name: string, value: string): void;
  /** `timestampMs` is milliseconds since the Unix epoch, an integer (may be negative). */
  sample(value: number, timestampMs: number): void;
  histogram(h: NativeHistogram): void;
  /** Exemplars are counted, not stored. */
  exemplar(): void;
  endSeries(): void;
}
