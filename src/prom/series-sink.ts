import type { NativeHistogram } from './histogram.js';

/**
 * Receives the series of a decoded remote-write request, in order, without intermediate objects.
 *
 * Call order per series (guaranteed by every decoder, whatever the field order on the wire):
 *   beginSeries, label* (every label of the series), then sample* / histogram* / exemplar* in any
 *   interleaving, then endSeries.
 *
 * Strings passed to `label` are fresh JS strings owned by the sink. A `NativeHistogram` passed to
 * `histogram` is only valid during the call (decoders may reuse it).
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
