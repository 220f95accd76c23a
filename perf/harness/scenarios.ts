/**
 * What `npm run perf -- <scenario>` measures. A scenario is one or more legs; a leg is one load
 * (who sends, how) against a list of receivers, each measured `runs` times (fresh receiver process
 * per run, receivers interleaved run by run). Adding a scenario = adding an object here.
 */
import type { ReceiverName, SenderName } from './report-types.js';
import type { Protocol } from './receivers.js';

export interface ProbeTiming {
  /** Unmeasured time first (connections, JIT, the receiver's caches filling). */
  warmupMs: number;
  /** Measured window. */
  durationMs: number;
}

/** `perf/loadgen.ts` as the sender: closed-model maximum, then a search in the open model. */
export interface LoadgenLoad {
  kind: 'loadgen';
  series: number;
  metrics: number;
  labels: number;
  samplesPerRequest: number;
  /** Requests in flight at most, in both models. */
  connections: number;
  /** Open model: a request starting this much after its due time is late (the sender fell behind). */
  lateAfterMs: number;
  search: {
    /** First probe at this fraction of the closed-model maximum. */
    startFraction: number;
    stepFactor: number;
    /** Bisect until the bracket is within this fraction. */
    tolerance: number;
    /** Bounds the search's time: each probe lasts `searchProbe`. */
    maxProbes: number;
  };
  maxProbe: ProbeTiming;
  searchProbe: ProbeTiming;
  /** The probes at 50 % and 80 % of the sustained rate. */
  latencyProbe: ProbeTiming;
}

/** A real sender scraping synthetic targets (`scrape-targets.ts`): fixed rates, no search. */
export interface ScrapeLoad {
  kind: 'scrape';
  sender: Exclude<SenderName, 'loadgen'>;
  targets: number;
  /** Metric families per target page. */
  metrics: number;
  scrapeIntervalS: number;
  /** Rates tried in this order (series per target = rate × interval / targets); stops at the first the sender does not keep up with. */
  ratesSps: readonly number[];
  step: ProbeTiming;
  latencyProbe: ProbeTiming;
}

/**
 * A real sender draining a backlog: vmagent scrapes the synthetic targets while no receiver
 * answers, buffering to its on-disk queue (once per leg); each run then starts a receiver and a
 * vmagent with a copy of that queue and no scrape jobs, which sends it as fast as the receiver
 * takes it (closed model: `-remoteWrite.queues` requests in flight, vmagent's own batches). The
 * receiver is the limit, so this measures its maximum with a real sender, as after an outage.
 */
export interface BacklogLoad {
  kind: 'backlog';
  sender: 'vmagent';
  targets: number;
  metrics: number;
  scrapeIntervalS: number;
  /** Rate scraped while filling (series = rate × interval) and for how long. */
  fillSps: number;
  fillS: number;
  /** Requests in flight while draining (vmagent's -remoteWrite.queues). */
  queues: number;
  /** After the sender starts: not measured (start-up, the receiver's caches filling). */
  warmupMs: number;
  /** Measured until the backlog is gone or for this long (slow receivers). */
  maxWindowMs: number;
  /** A shorter measured window is an error (the backlog was too small for the receiver). */
  minWindowMs: number;
  /** vmagent's -remoteWrite.rateLimit while draining, bytes/s (the smoke test's tiny backlog would be gone at once). */
  rateLimitBytesPerS?: number;
}

export interface Leg {
  protocol: Protocol;
  receivers: readonly ReceiverName[];
  /** `taskset -c` lists. */
  receiverCpus: string;
  senderCpus: string;
  /**
   * `nice -n` for loadgen where it shares a core with the receiver: the receiver's busy threads
   * would otherwise delay loadgen's own sends and reads, and that delay would be measured as the
   * receiver's latency (a real sender has its own machine). Needs root to go below 0; without it
   * `nice` says so and runs loadgen at normal priority.
   */
  senderNice?: number;
  // Later stages plug in as further kinds of load next to these two, each with its own measurer
  // (dispatched in run-scenario.ts) returning the same Figures (plus optional fields): e.g.
  // { kind: 'ack-to-queryable' } (time from a 2xx to the rows being queryable in ADX) or
  // { kind: 'upload' } (the WAL → ADX upload rate).
  load: LoadgenLoad | ScrapeLoad | BacklogLoad;
  /** Copied into every result of the leg. */
  notes: readonly string[];
}

export interface Scenario {
  name: string;
  description: string;
  /** Default for `--runs`. */
  runs: number;
  legs: readonly Leg[];
}

const ALL_RECEIVERS: readonly ReceiverName[] = ['adx-ingestor', 'victoria-metrics', 'prometheus'];

/** loadgen's defaults (2000 samples/request is Prometheus's max_samples_per_send). */
const LOADGEN: LoadgenLoad = {
  kind: 'loadgen',
  series: 100_000,
  metrics: 100,
  labels: 8,
  samplesPerRequest: 2000,
  connections: 32,
  lateAfterMs: 10,
  search: { startFraction: 0.8, stepFactor: 1.25, tolerance: 0.05, maxProbes: 6 },
  maxProbe: { warmupMs: 5000, durationMs: 10_000 },
  searchProbe: { warmupMs: 3000, durationMs: 10_000 },
  latencyProbe: { warmupMs: 8000, durationMs: 20_000 },
};

const SCRAPE_TIMING = { step: { warmupMs: 6000, durationMs: 10_000 }, latencyProbe: { warmupMs: 6000, durationMs: 15_000 } };

const ONE_CORE = { receiverCpus: '0', senderCpus: '1' };

const REAL_SENDER_NOTE =
  'Real sender: fixed rates, not a search (the sender costs far more CPU than the receiver); sustainedSps is the sender\'s measured intake at the highest rate it kept up with. ' +
  'Latencies are its remote-write request durations (from its own histogram); maxSps is not measured. ' +
  'Each rate is a new set of series, which the sender takes in at a full core for a few seconds whatever the receiver; each window starts once it has (every target up, every last scrape within half the interval; at most 20 s after the warm-up).';

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'rw1-one-core',
    description: 'Remote write 1.0, 100 k active series: each receiver on core 0, loadgen on core 1.',
    runs: 3,
    legs: [{ protocol: '1.0', receivers: ALL_RECEIVERS, ...ONE_CORE, load: LOADGEN, notes: [] }],
  },
  {
    name: 'rw1-two-cores',
    description: 'Remote write 1.0, 100 k active series: each receiver on cores 0-1 (adx-ingestor with 2 workers), loadgen also on core 1.',
    runs: 3,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        receiverCpus: '0,1',
        senderCpus: '1',
        senderNice: -10,
        load: LOADGEN,
        notes: ['loadgen shares core 1 with the receiver, so the receiver has somewhat less than 2 cores; loadgen runs at nice -10 so that its own sends and reads are on time.'],
      },
    ],
  },
  {
    name: 'rw2-one-core',
    description: 'Remote write 2.0, 100 k active series: adx-ingestor on core 0, loadgen on core 1.',
    runs: 3,
    legs: [
      {
        protocol: '2.0',
        receivers: ['adx-ingestor'],
        ...ONE_CORE,
        load: LOADGEN,
        notes: ['adx-ingestor only: VictoriaMetrics 1.79 and Prometheus 2.42 (the Debian packages) do not accept remote write 2.0.'],
      },
    ],
  },
  {
    name: 'rw1-1m-series',
    description: 'Remote write 1.0, 1 000 000 active series (peak RSS matters; adx-ingestor targets < 512 MiB): receiver on core 0, loadgen on core 1.',
    runs: 3,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        ...ONE_CORE,
        load: { ...LOADGEN, series: 1_000_000, maxProbe: { warmupMs: 10_000, durationMs: 10_000 }, searchProbe: { warmupMs: 5000, durationMs: 10_000 }, latencyProbe: { warmupMs: 10_000, durationMs: 20_000 } },
        notes: ['Target for adx-ingestor: peak RSS < 512 MiB at 1 M series.'],
      },
    ],
  },
  {
    name: 'rw1-1000-tables',
    description: 'Remote write 1.0, 100 k active series over 1000 metric names (tables): receiver on core 0, loadgen on core 1.',
    runs: 3,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        ...ONE_CORE,
        load: { ...LOADGEN, metrics: 1000 },
        notes: ["Each metric name is a table in adx-mon's data model: a request of 2000 samples touches ~860 tables with ~2 rows each, so per-table costs (a block, a write) weigh as much as per-row ones. Real fleets expose hundreds to thousands of metric names."],
      },
    ],
  },
  {
    name: 'vmagent',
    description: 'vmagent (core 1) scraping 100 synthetic targets every second, remote write 1.0 to each receiver (core 0).',
    runs: 3,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        ...ONE_CORE,
        load: { kind: 'scrape', sender: 'vmagent', targets: 100, metrics: 20, scrapeIntervalS: 1, ratesSps: [100_000, 150_000, 200_000, 300_000, 400_000, 500_000, 600_000], ...SCRAPE_TIMING },
        notes: [REAL_SENDER_NOTE, 'The synthetic targets share core 1 with vmagent.'],
      },
    ],
  },
  {
    name: 'vmagent-backlog',
    description:
      'vmagent (core 1) sending a 60 M-sample backlog of 300 k series (100 targets × 3000, scraped every second for 200 s while no receiver answered) to each receiver (core 0), as fast as it takes it.',
    runs: 3,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        ...ONE_CORE,
        load: { kind: 'backlog', sender: 'vmagent', targets: 100, metrics: 20, scrapeIntervalS: 1, fillSps: 300_000, fillS: 200, queues: 4, warmupMs: 5000, maxWindowMs: 60_000, minWindowMs: 5000 },
        notes: [
          'Real sender, closed model: the figure is maxSps, the receiver\'s storing rate while vmagent (4 requests in flight, its default on 2 cores; ~10 k samples per request) drains its on-disk queue; sustained rate and latency at 50 %/80 % do not apply.',
          'The same backlog (filled once, copied for each run) goes to every receiver; vmagent alone shares core 1 with nothing else while draining.',
        ],
      },
    ],
  },
  {
    name: 'prometheus-agent',
    description: 'Prometheus 2.42 in agent mode (core 1) scraping 100 synthetic targets every second, remote write 1.0 to each receiver (core 0).',
    runs: 3,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        ...ONE_CORE,
        load: { kind: 'scrape', sender: 'prometheus-agent', targets: 100, metrics: 20, scrapeIntervalS: 1, ratesSps: [50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 350_000, 400_000], ...SCRAPE_TIMING },
        notes: [REAL_SENDER_NOTE, 'The synthetic targets share core 1 with Prometheus.'],
      },
    ],
  },
  {
    name: 'smoke',
    description: 'Everything tiny, to prove the harness works end to end (not a measurement).',
    runs: 1,
    legs: [
      {
        protocol: '1.0',
        receivers: ALL_RECEIVERS,
        ...ONE_CORE,
        load: {
          ...LOADGEN,
          // Each series at most once among the requests in flight (Prometheus refuses out-of-order samples).
          series: 4000,
          metrics: 20,
          labels: 4,
          samplesPerRequest: 200,
          connections: 8,
          lateAfterMs: 100,
          search: { startFraction: 0.25, stepFactor: 2, tolerance: 0.5, maxProbes: 3 },
          maxProbe: { warmupMs: 500, durationMs: 1000 },
          searchProbe: { warmupMs: 300, durationMs: 1000 },
          latencyProbe: { warmupMs: 300, durationMs: 1000 },
        },
        notes: ['Smoke run: tiny probes, the figures mean nothing.'],
      },
      {
        protocol: '1.0',
        receivers: ['adx-ingestor'],
        ...ONE_CORE,
        load: { kind: 'scrape', sender: 'vmagent', targets: 8, metrics: 5, scrapeIntervalS: 1, ratesSps: [20_000], step: { warmupMs: 2500, durationMs: 3000 }, latencyProbe: { warmupMs: 1500, durationMs: 3000 } },
        notes: ['Smoke run: tiny probes, the figures mean nothing.'],
      },
      {
        protocol: '1.0',
        receivers: ['adx-ingestor'],
        ...ONE_CORE,
        // ~80 k samples (~2 MB queued) drained at 512 KB/s: a few seconds.
        load: { kind: 'backlog', sender: 'vmagent', targets: 8, metrics: 5, scrapeIntervalS: 1, fillSps: 20_000, fillS: 4, queues: 2, warmupMs: 1000, maxWindowMs: 15_000, minWindowMs: 1000, rateLimitBytesPerS: 512 * 1024 },
        notes: ['Smoke run: a tiny backlog, drained at a limited rate; the figures mean nothing.'],
      },
    ],
  },
];

/** Names that run several scenarios in sequence. */
export const SCENARIO_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  all: ['rw1-one-core', 'rw1-two-cores', 'rw2-one-core', 'rw1-1m-series', 'rw1-1000-tables', 'vmagent', 'prometheus-agent', 'vmagent-backlog'],
});

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

const shorter = (t: ProbeTiming, q: ProbeTiming): ProbeTiming => ({ warmupMs: Math.min(t.warmupMs, q.warmupMs), durationMs: Math.min(t.durationMs, q.durationMs) });

/** `--quick`: shorter probes and a shorter search, for trying the harness (figures are noisier). */
export function quickened(s: Scenario): Scenario {
  const legs = s.legs.map((leg): Leg => {
    const l = leg.load;
    if (l.kind === 'loadgen') {
      return {
        ...leg,
        load: {
          ...l,
          search: { ...l.search, maxProbes: Math.min(l.search.maxProbes, 4) },
          maxProbe: shorter(l.maxProbe, { warmupMs: 2000, durationMs: 5000 }),
          searchProbe: shorter(l.searchProbe, { warmupMs: 2000, durationMs: 5000 }),
          latencyProbe: shorter(l.latencyProbe, { warmupMs: 3000, durationMs: 8000 }),
        },
      };
    }
    // A third of the backlog (the drain is measured until it is gone).
    if (l.kind === 'backlog') return { ...leg, load: { ...l, fillS: Math.ceil(l.fillS / 3), warmupMs: Math.min(l.warmupMs, 3000), maxWindowMs: Math.min(l.maxWindowMs, 20_000) } };
    return { ...leg, load: { ...l, step: shorter(l.step, { warmupMs: 4000, durationMs: 6000 }), latencyProbe: shorter(l.latencyProbe, { warmupMs: 4000, durationMs: 6000 }) } };
  });
  return { ...s, legs };
}
