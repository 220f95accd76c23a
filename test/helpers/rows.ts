import xxhash from 'xxhash-wasm';
import { loadConfig, type TransformConfig } from '../../src/config/config.js';
import { MetricsRowBuilder } from '../../src/transform/metrics-rows.js';

export const hasher = await xxhash();

export function transformConfig(args: string[] = []): TransformConfig {
  return loadConfig(args, {}).transform;
}

export interface TestSeries {
  labels: [string, string][];
  samples?: [number, number][]; // [value, timestampMs]
}

/** Runs series through a fresh builder and returns CSV text per segment prefix. */
export function buildRows(series: TestSeries[], args: string[] = []): { tables: Record<string, string>; builder: MetricsRowBuilder } {
  const b = new MetricsRowBuilder(transformConfig(args), hasher);
  for (const s of series) {
    b.beginSeries();
    for (const [n, v] of s.labels) b.labelString(n, v);
    for (const [v, ts] of s.samples ?? []) b.sample(v, ts);
    b.endSeries();
  }
  const tables: Record<string, string> = {};
  for (const t of b.tables()) tables[t.prefix] = t.csv;
  return { tables, builder: b };
}

/** SeriesId computed independently: xxhash64 over the bytes of name+value pairs in the given order, signed. */
export function seriesId(sortedPairs: [string, string][]): string {
  const bytes = Buffer.from(sortedPairs.map(([n, v]) => n + v).join(''), 'utf8');
  return BigInt.asIntN(64, hasher.h64Raw(bytes)).toString();
}
