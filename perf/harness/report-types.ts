/**
 * The shape of one harness run's results (`perf/results/<scenario>-<timestamp>.json`), shared by
 * the runner (`perf/harness/`) that writes it and the report (`perf/report.ts`) that turns the
 * latest results into `docs/performance.md` and its chart.
 */

/** Receivers measured side by side. */
export type ReceiverName = 'adx-ingestor' | 'victoria-metrics' | 'prometheus';
/** Who produces the load. */
export type SenderName = 'loadgen' | 'vmagent' | 'prometheus-agent';

/** Figures of one run of one receiver (or their median / min / max over runs). */
export interface Figures {
  /** Highest samples/s at which nothing was dropped or refused and the sender kept up. */
  sustainedSps: number;
  /** Closed model (as fast as the connections allow): samples/s acknowledged; 0 when not measured. */
  maxSps: number;
  /** Request latency at 50 % and 80 % of `sustainedSps` (open model), ms. */
  p50At50Ms: number;
  p99At50Ms: number;
  p50At80Ms: number;
  p99At80Ms: number;
  /** CPU cores the receiver used (user+system time / wall time) at the sustained rate. */
  cpuCores: number;
  /** Receiver's peak resident set (VmHWM) over the run, MiB. */
  peakRssMiB: number;
}

export interface ReceiverResult {
  receiver: ReceiverName;
  sender: SenderName;
  /** '1.0' or '2.0'. */
  protocol: '1.0' | '2.0';
  /** CPU list the receiver was pinned to (`taskset -c`), e.g. "0" or "0,1". */
  receiverCpus: string;
  /** CPU list of the sender. */
  senderCpus: string;
  activeSeries: number;
  /** Each run's figures, in order. */
  runs: Figures[];
  median: Figures;
  min: Figures;
  max: Figures;
  /** Anything the reader must know (e.g. "sender could not keep up above 400 k/s"). */
  notes: string[];
}

export interface PerfReport {
  scenario: string;
  /** One line on what the scenario measures. */
  description: string;
  /** ISO 8601 time the run started. */
  date: string;
  machine: { cpuModel: string; cores: number; memGiB: number; kernel: string; os: string };
  versions: Record<string, string>;
  /** Exact commands a reader can paste to repeat it (the harness command and what it ran). */
  commands: string[];
  results: ReceiverResult[];
  /**
   * adx-ingestor median / peer median for each figure, per peer and protocol,
   * e.g. ratios['victoria-metrics'].sustainedSps = 1.4.
   */
  ratios: Partial<Record<ReceiverName, Partial<Record<keyof Figures, number>>>>;
}
