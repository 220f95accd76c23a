/** What every measurer gets and returns: one run of one receiver under one leg of a scenario. */
import type { Figures } from './report-types.js';

export interface RunContext {
  /** Prefix of progress lines, e.g. "rw1-one-core run 1/3 adx-ingestor". */
  label: string;
  /** One progress line to stderr. */
  log(line: string): void;
}

export interface RunOutcome {
  figures: Figures;
  /** Things the reader must know about this run. */
  notes: string[];
  /** Commands this run executed (receiver, sender, config files), for the report's `commands`. */
  commands: string[];
}

/** 1234567 → "1.23M", 41234 → "41.2k". */
export function si(x: number): string {
  const a = Math.abs(x);
  return a >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : a >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : `${Math.round(x * 100) / 100}`;
}

/** A latency for humans: "0.42 ms", "12.3 ms", "1234 ms". */
export function ms(x: number): string {
  return x < 1 ? `${x.toFixed(2)} ms` : x < 100 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`;
}
