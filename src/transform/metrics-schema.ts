import type { Hash64 } from './metrics-rows.js';

/**
 * The metrics CSV schema: `Timestamp:datetime,SeriesId:long,<lifted>:string...,Labels:dynamic,Value:real`.
 * Without lifted labels this is adx-mon's default mapping and segment names carry no schema hash;
 * with lifted labels the hash (xxhash64 of every column name and type, hex) is part of the
 * segment prefix so rows of different schemas never share a segment.
 */
export interface MetricsSchema {
  readonly lifted: readonly { readonly name: string; readonly column: string }[];
  /** Header line, with its newline. */
  readonly headerLine: string;
  readonly hash: string | undefined;
  /** Index of the lifted column for a label name (case-insensitive), or -1. */
  liftedIndex(labelName: string): number;
}

export const DEFAULT_METRICS_COLUMNS = [
  ['Timestamp', 'datetime'],
  ['SeriesId', 'long'],
  ['Labels', 'dynamic'],
  ['Value', 'real'],
] as const;

export function metricsColumns(lifted: readonly { readonly column: string }[]): [string, string][] {
  const [ts, id, labels, value] = DEFAULT_METRICS_COLUMNS;
  return [[...ts], [...id], ...lifted.map((l) => [l.column, 'string'] as [string, string]), [...labels], [...value]];
}

export function metricsSchema(lifted: readonly { readonly name: string; readonly column: string }[], hash64?: Hash64): MetricsSchema {
  const columns = metricsColumns(lifted);
  const lowered = new Map(lifted.map((l, i) => [l.name.toLowerCase(), i]));
  let hash: string | undefined;
  if (lifted.length > 0) {
    if (!hash64) throw new Error('a schema with lifted labels needs a hash function');
    hash = hash64.h64(columns.map(([c, t]) => c + t).join('')).toString(16).padStart(16, '0');
  }
  return {
    lifted,
    headerLine: columns.map(([c, t]) => `${c}:${t}`).join(',') + '\n',
    hash,
    liftedIndex: (name) => lowered.get(name.toLowerCase()) ?? -1,
  };
}
