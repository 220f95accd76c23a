/** The readable summary of a `PerfReport`: one table per leg (median, min–max, spread) and the ratios. */
import { FIGURE_KEYS, spreadPct } from './figures.js';
import type { Figures, PerfReport, ReceiverResult } from './report-types.js';
import { si } from './run-context.js';

const LABELS: Readonly<Record<keyof Figures, string>> = Object.freeze({
  sustainedSps: 'sustained samples/s',
  maxSps: 'max samples/s (closed)',
  p50At50Ms: 'p50 ms at 50 %',
  p99At50Ms: 'p99 ms at 50 %',
  p50At80Ms: 'p50 ms at 80 %',
  p99At80Ms: 'p99 ms at 80 %',
  cpuCores: 'cpu cores at sustained',
  peakRssMiB: 'peak RSS MiB',
});

function value(k: keyof Figures, x: number): string {
  if (k === 'sustainedSps' || k === 'maxSps') return si(x);
  if (k === 'cpuCores') return x.toFixed(2);
  return x >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10);
}

function cell(r: ReceiverResult, k: keyof Figures): string {
  if (r.runs.length === 0) return 'no run';
  const mid = value(k, r.median[k]);
  if (r.runs.length === 1) return mid;
  return `${mid} (${value(k, r.min[k])}–${value(k, r.max[k])}, spread ${Math.round(spreadPct(r.min[k], r.max[k], r.median[k]))} %)`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((s, c) => s.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

function legKey(r: ReceiverResult): string {
  return `${r.sender}|${r.protocol}|${r.receiverCpus}|${r.senderCpus}|${r.activeSeries}`;
}

export function renderTable(report: PerfReport): string {
  const out = [`${report.scenario}: ${report.description}`];
  const legs = new Map<string, ReceiverResult[]>();
  for (const r of report.results) legs.set(legKey(r), [...(legs.get(legKey(r)) ?? []), r]);
  for (const results of legs.values()) {
    const first = results[0]!;
    const series = first.activeSeries > 0 ? `, ${si(first.activeSeries)} series` : '';
    out.push('', `${first.sender} → receivers, remote write ${first.protocol}${series}; receivers on cpu ${first.receiverCpus}, sender on cpu ${first.senderCpus}; runs: ${results.map((r) => r.runs.length).join('/')}`);
    const rows = [['figure', ...results.map((r) => r.receiver)], ...FIGURE_KEYS.map((k) => [LABELS[k], ...results.map((r) => cell(r, k))])];
    out.push(table(rows));
    for (const r of results) for (const n of r.notes) out.push(`  note (${r.receiver}): ${n}`);
  }
  const peers = Object.entries(report.ratios);
  if (peers.length > 0) {
    out.push('', 'adx-ingestor median / peer median:');
    for (const [peer, ratios] of peers) {
      const parts = FIGURE_KEYS.filter((k) => ratios?.[k] !== undefined).map((k) => `${k} ${ratios![k]!.toFixed(2)}`);
      out.push(`  ${peer}: ${parts.join(', ')}`);
    }
  }
  return out.join('\n');
}
