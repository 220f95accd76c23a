/**
 * The performance targets of adx-ingestor, judged from the median figures of one report (one run
 * of the harness, so peers are compared on the same machine at the same time).
 */
import { median } from '../harness/figures.js';
import type { Figures, PerfReport, ReceiverName, ReceiverResult } from '../harness/report-types.js';
import { formatCount, formatMs, formatRatio, formatSps } from './format.js';

export const TARGETS = {
  /** Remote write 1.0, samples/s per CPU the receiver is pinned to (on `throughputKey`: sustained, or a backlog drain's maximum). */
  spsPerCore: 1_500_000,
  /** Remote write 1.0, adx-ingestor samples/s (on `throughputKey`) over the peer's, same run, same series count. */
  timesVictoriaMetrics: 1.3,
  timesPrometheus: 4,
  /** Any protocol: p99 request latency at 80 % of the sustained rate, below. */
  p99At80Ms: 50,
  /** Peak RSS below this many bytes (512 MB, decimal) in every run with at least `rssActiveSeries`. */
  rssBytes: 512e6,
  rssActiveSeries: 1_000_000,
} as const;

export type TargetStatus = 'met' | 'not met' | 'not measured';

export interface TargetCheck {
  target: string;
  /** Scenario and result it was judged on; empty when nothing measured it. */
  scenario: string;
  measured: string;
  status: TargetStatus;
}

const ADX: ReceiverName = 'adx-ingestor';

/** The CPUs of a `taskset -c` list ("0", "0,1", "0-3,6"); undefined when it is not one. */
export function cpuList(list: string): number[] | undefined {
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return undefined;
    for (let c = from; c <= to; c++) cpus.push(c);
  }
  return cpus;
}

/** How many CPUs a `taskset -c` list names; undefined when it is not one. */
export function cpuListSize(list: string): number | undefined {
  return cpuList(list)?.length;
}

/** The adx-ingestor result a peer's result is compared with: same sender, protocol and series count. */
export function adxCounterpart(report: PerfReport, peer: ReceiverResult): ReceiverResult | undefined {
  return report.results.find(
    (r) => r.receiver === ADX && r.sender === peer.sender && r.protocol === peer.protocol && r.activeSeries === peer.activeSeries,
  );
}

/** adx-ingestor median / peer median of `key`; undefined without a counterpart or with a figure of 0 (not measured). */
export function adxRatio(report: PerfReport, peer: ReceiverResult, key: keyof Figures): number | undefined {
  const adx = adxCounterpart(report, peer);
  if (adx === undefined || peer.median[key] <= 0 || adx.median[key] <= 0) return undefined;
  return adx.median[key] / peer.median[key];
}

type TargetKey = 'perCore' | 'vsVictoriaMetrics' | 'vsPrometheus' | 'p99At80' | 'rss';

interface Judged {
  key: TargetKey;
  scenario: string;
  measured: string;
  status: TargetStatus;
}

const TARGET_TEXT: Readonly<Record<TargetKey, string>> = {
  perCore: `remote write 1.0: ≥ ${formatSps(TARGETS.spsPerCore)} samples/s per core`,
  vsVictoriaMetrics: `remote write 1.0: ≥ ${formatRatio(TARGETS.timesVictoriaMetrics)} VictoriaMetrics in the same run`,
  vsPrometheus: `remote write 1.0: ≥ ${formatRatio(TARGETS.timesPrometheus)} Prometheus in the same run`,
  p99At80: `p99 < ${TARGETS.p99At80Ms} ms at 80 % of the sustained rate`,
  rss: `peak RSS < ${TARGETS.rssBytes / 1e6} MB at ${formatCount(TARGETS.rssActiveSeries)} active series`,
};

const PEERS = [
  ['vsVictoriaMetrics', 'victoria-metrics', TARGETS.timesVictoriaMetrics],
  ['vsPrometheus', 'prometheus', TARGETS.timesPrometheus],
] as const;

/**
 * The throughput figure a result is judged and compared on: the sustained rate, or where only
 * the closed-model maximum was measured (a real sender draining a backlog) that maximum.
 */
export function throughputKey(f: Figures): 'sustainedSps' | 'maxSps' {
  return f.sustainedSps <= 0 && f.maxSps > 0 ? 'maxSps' : 'sustainedSps';
}

const MODEL_TEXT = { sustainedSps: 'sustained', maxSps: 'closed-model maximum' } as const;

/** Samples/s per CPU the receiver was pinned to (per CPU used when the pinning is unknown), on `throughputKey`. */
export function spsPerCore(r: ReceiverResult): { sps: number; cores: number; pinned: boolean; key: 'sustainedSps' | 'maxSps' } | undefined {
  const pinned = cpuListSize(r.receiverCpus);
  const cores = pinned ?? r.median.cpuCores;
  const key = throughputKey(r.median);
  return cores > 0 && r.median[key] > 0 ? { sps: r.median[key] / cores, cores, pinned: pinned !== undefined, key } : undefined;
}

/**
 * Samples/s per CPU core the receiver used: each run's throughput (`throughputKey`) over its CPU
 * cores at that rate, median over runs; undefined when no run measured both. Where a real sender
 * is the limit the receiver idles part of its core, and this, not the pinned-core figure, is the
 * CPU each receiver spends per sample.
 */
export function spsPerCoreUsed(r: ReceiverResult): number | undefined {
  const key = throughputKey(r.median);
  const each = r.runs.filter((f) => f[key] > 0 && f.cpuCores > 0).map((f) => f[key] / f.cpuCores);
  return each.length > 0 ? median(each) : undefined;
}

/** The targets one adx-ingestor result measures; figures of 0 count as not measured. */
function judgeResult(report: PerfReport, adx: ReceiverResult): Judged[] {
  const out: Judged[] = [];
  const scenario = `${report.scenario} (remote write ${adx.protocol}, ${formatCount(adx.activeSeries)} series, from ${adx.sender})`;
  const add = (key: TargetKey, measured: string, ok: boolean) => out.push({ key, scenario, measured, status: ok ? 'met' : 'not met' });
  const m = adx.median;
  if (adx.protocol === '1.0') {
    const perCore = spsPerCore(adx);
    if (perCore !== undefined) {
      const on = perCore.pinned ? `pinned to CPUs ${adx.receiverCpus}` : `using ${perCore.cores.toFixed(2)} cores`;
      const model = perCore.key === 'maxSps' ? `${MODEL_TEXT.maxSps}, ` : '';
      add('perCore', `${formatSps(perCore.sps)} samples/s per core (${model}${formatSps(m[perCore.key])}, ${on})`, perCore.sps >= TARGETS.spsPerCore);
    }
    const rate = throughputKey(m);
    for (const [key, name, min] of PEERS) {
      const peer = report.results.find((r) => r.receiver === name && adxCounterpart(report, r) === adx);
      const ratio = peer === undefined ? undefined : adxRatio(report, peer, rate);
      if (peer !== undefined && ratio !== undefined) {
        add(key, `${formatRatio(ratio)} (${MODEL_TEXT[rate]}: ${formatSps(m[rate])} vs ${formatSps(peer.median[rate])} samples/s)`, ratio >= min);
      }
    }
  }
  if (m.p99At80Ms > 0) add('p99At80', `${formatMs(m.p99At80Ms)} ms at ${formatSps(0.8 * m.sustainedSps)} samples/s`, m.p99At80Ms < TARGETS.p99At80Ms);
  if (adx.activeSeries >= TARGETS.rssActiveSeries && adx.max.peakRssMiB > 0) {
    const bytes = adx.max.peakRssMiB * 1024 * 1024;
    add('rss', `${(bytes / 1e6).toFixed(0)} MB (${adx.max.peakRssMiB.toFixed(0)} MiB), worst of ${Math.max(1, adx.runs.length)} runs`, bytes < TARGETS.rssBytes);
  }
  return out;
}

/** Every target, judged on every adx-ingestor result that measures it, in target order; "not measured" when none does. */
export function checkTargets(reports: PerfReport[]): TargetCheck[] {
  const judged = reports.flatMap((report) => report.results.filter((r) => r.receiver === ADX).flatMap((r) => judgeResult(report, r)));
  return (Object.keys(TARGET_TEXT) as TargetKey[]).flatMap((key) => {
    const target = TARGET_TEXT[key];
    const mine = judged.filter((j) => j.key === key).map(({ scenario, measured, status }) => ({ target, scenario, measured, status }));
    return mine.length > 0 ? mine : [{ target, scenario: '', measured: '', status: 'not measured' as const }];
  });
}
