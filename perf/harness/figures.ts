/**
 * Aggregation of per-run figures: median, min and max per figure over a receiver's runs, the
 * spread, and adx-ingestor's ratio to each peer. Pure functions of the results.
 */
import type { Figures, PerfReport, ReceiverName, ReceiverResult } from './report-types.js';

/** Every figure, in the order tables show them. */
export const FIGURE_KEYS = ['sustainedSps', 'maxSps', 'p50At50Ms', 'p99At50Ms', 'p50At80Ms', 'p99At80Ms', 'cpuCores', 'peakRssMiB'] as const satisfies readonly (keyof Figures)[];

/** Median of `xs` (mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function perFigure(runs: readonly Figures[], pick: (xs: number[]) => number): Figures {
  const out = {} as Figures;
  for (const k of FIGURE_KEYS) out[k] = runs.length === 0 ? 0 : round(pick(runs.map((r) => r[k])));
  return out;
}

/** Median, min and max of each figure over `runs` (all zero when there are no runs). */
export function summarize(runs: readonly Figures[]): { median: Figures; min: Figures; max: Figures } {
  return {
    median: perFigure(runs, median),
    min: perFigure(runs, (xs) => Math.min(...xs)),
    max: perFigure(runs, (xs) => Math.max(...xs)),
  };
}

/** (max - min) / median, in percent: how far apart the runs were; 0 when the median is 0. */
export function spreadPct(min: number, max: number, mid: number): number {
  return mid === 0 ? 0 : round(((max - min) / Math.abs(mid)) * 100);
}

/** Rounds to 3 significant decimals for figures under 1000 and to integers above (keeps JSON readable). */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  return Math.abs(x) >= 1000 ? Math.round(x) : Math.round(x * 1000) / 1000;
}

/**
 * adx-ingestor median / peer median per figure, for each peer measured with the same sender and
 * protocol as an adx-ingestor result (the first such pair counts). Figures where the peer's
 * median is 0 (not measured) are left out.
 */
export function computeRatios(results: readonly ReceiverResult[]): PerfReport['ratios'] {
  const ratios: PerfReport['ratios'] = {};
  for (const peer of results) {
    if (peer.receiver === 'adx-ingestor' || ratios[peer.receiver] !== undefined) continue;
    const ours = results.find((r) => r.receiver === 'adx-ingestor' && r.sender === peer.sender && r.protocol === peer.protocol);
    if (ours === undefined) continue;
    const entry: Partial<Record<keyof Figures, number>> = {};
    for (const k of FIGURE_KEYS) {
      if (peer.median[k] !== 0 && Number.isFinite(peer.median[k])) entry[k] = Math.round((ours.median[k] / peer.median[k]) * 1000) / 1000;
    }
    ratios[peer.receiver as ReceiverName] = entry;
  }
  return ratios;
}
