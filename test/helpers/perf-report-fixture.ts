import type { Figures, PerfReport, ReceiverName, ReceiverResult, SenderName } from '../../perf/harness/report-types.js';

/** Figures with every field set; `over` replaces some. */
export function figures(over: Partial<Figures>): Figures {
  return { sustainedSps: 0, maxSps: 0, p50At50Ms: 0, p99At50Ms: 0, p50At80Ms: 0, p99At80Ms: 0, cpuCores: 0, peakRssMiB: 0, ...over };
}

export function result(
  receiver: ReceiverName,
  median: Partial<Figures>,
  spread: { min?: Partial<Figures>; max?: Partial<Figures>; activeSeries?: number; receiverCpus?: string; protocol?: '1.0' | '2.0'; sender?: SenderName } = {},
): ReceiverResult {
  const med = figures(median);
  return {
    receiver,
    sender: spread.sender ?? 'loadgen',
    protocol: spread.protocol ?? '1.0',
    receiverCpus: spread.receiverCpus ?? '0',
    senderCpus: '1',
    activeSeries: spread.activeSeries ?? 100_000,
    runs: [med, med, med],
    median: med,
    min: figures({ ...median, ...spread.min }),
    max: figures({ ...median, ...spread.max }),
    notes: [],
  };
}

export function report(scenario: string, date: string, results: ReceiverResult[]): PerfReport {
  return {
    scenario,
    description: `Scenario ${scenario}, written by hand for the tests.`,
    date,
    machine: { cpuModel: 'Test CPU @ 2.0GHz', cores: 2, memGiB: 7.8, kernel: '6.1.0-test', os: 'Debian GNU/Linux 12 (bookworm)' },
    versions: { node: 'v20.20.2', 'adx-ingestor': '0.1.0', 'victoria-metrics': '1.79.0' },
    commands: [`node dist/perf/harness/run.js --scenario ${scenario}`, 'taskset -c 1 node dist/perf/loadgen.js --rate 1.5M'],
    results,
    ratios: {},
  };
}

/**
 * Two scenarios. rw1-100k: adx-ingestor 1.6 M/s on one core (per-core target met), 1.6× VictoriaMetrics
 * (met), 3.2× Prometheus (not met), p99 42 ms (met); and adx-ingestor fed by vmagent, 1.55 M/s (met),
 * p99 48 ms (met), compared with no peer. rw1-1m: 1.2 M/s (not met), p99 75 ms (not met), peak RSS
 * 500 MiB = 524 MB (not met: the target is 512 MB, not MiB).
 */
export function fixtureReports(): { current: PerfReport[]; older: PerfReport } {
  const rw1_100k = report('rw1-100k', '2026-11-22T10:00:00Z', [
    result('prometheus', { sustainedSps: 500_000, maxSps: 620_000, p50At50Ms: 4, p99At50Ms: 30, p50At80Ms: 6, p99At80Ms: 120, cpuCores: 1, peakRssMiB: 900 }, { min: { sustainedSps: 450_000 }, max: { sustainedSps: 520_000 } }),
    result('adx-ingestor', { sustainedSps: 1_600_000, maxSps: 2_100_000, p50At50Ms: 2.1, p99At50Ms: 9.8, p50At80Ms: 3.4, p99At80Ms: 42, cpuCores: 0.97, peakRssMiB: 300 }, { min: { sustainedSps: 1_500_000 }, max: { sustainedSps: 1_700_000 } }),
    result('victoria-metrics', { sustainedSps: 1_000_000, maxSps: 1_200_000, p50At50Ms: 3, p99At50Ms: 15, p50At80Ms: 5, p99At80Ms: 60, cpuCores: 1, peakRssMiB: 400 }, { min: { sustainedSps: 900_000 }, max: { sustainedSps: 1_100_000 } }),
    result('adx-ingestor', { sustainedSps: 1_550_000, p50At50Ms: 2.5, p99At50Ms: 11, p50At80Ms: 4, p99At80Ms: 48, cpuCores: 0.95, peakRssMiB: 310 }, { sender: 'vmagent' }),
  ]);
  const rw1_1m = report('rw1-1m', '2026-11-22T11:00:00Z', [
    result('adx-ingestor', { sustainedSps: 1_200_000, p50At50Ms: 3, p99At50Ms: 20, p50At80Ms: 8, p99At80Ms: 75, cpuCores: 1, peakRssMiB: 480 }, { activeSeries: 1_000_000, min: { sustainedSps: 1_100_000 }, max: { sustainedSps: 1_250_000, peakRssMiB: 500 } }),
  ]);
  const older = report('rw1-100k', '2026-11-01T10:00:00Z', [result('adx-ingestor', { sustainedSps: 777_000, p99At80Ms: 33, cpuCores: 1, peakRssMiB: 250 })]);
  return { current: [rw1_100k, rw1_1m], older };
}
