/**
 * The load shape of the k6 scenarios, read from environment variables named after loadgen's flags
 * (`RATE` is `--rate`, `RAMP` is `--ramp`, `VUS` is `--connections`, ...) with the same defaults, so
 * a k6 run and a `node dist/perf/loadgen.js` run can be asked for the same load (perf/k6/README.md).
 *
 * Runs inside k6 (its JavaScript runtime, not Node): no Node APIs, no `console`.
 */
import type { Options, Scenario } from 'k6/options';

export type Model = 'closed' | 'constant' | 'ramping';

export interface LoadShape {
  url: string;
  /** `RATE=0` (default): closed; `RATE=N`: constant arrival rate; `RAMP=FROM:TO:D`: ramping. */
  model: Model;
  /** Samples/s offered at the start (and during the warm-up) and after the ramp; 0 in the closed model. */
  fromSps: number;
  toSps: number;
  rampMs: number;
  /** Measured time; defaults to the ramp length when ramping, else 30 s. */
  durationMs: number;
  /** Unmeasured time before it, at `fromSps` (closed model: the same VUs). */
  warmupMs: number;
  /** VUs, each with its own keep-alive connections: loadgen's `--connections`. */
  vus: number;
  /** Arrival-rate models: VUs k6 may add when all are busy; default `vus` (no more connections than loadgen). */
  maxVus: number;
  series: number;
  metrics: number;
  labels: number;
  labelValues: number;
  samplesPerRequest: number;
  /** k6 request timeout (`"30s"`). */
  timeout: string;
  /** Threshold on the measured p99 request duration, ms. */
  p99Ms: number;
}

/** The measured scenario; thresholds and the samples counter are filtered on it. */
export const MEASURE = 'measure';
export const WARMUP = 'warmup';

/** Counter of samples in requests answered 2xx; `count / DURATION` is loadgen's `samplesPerSec`. */
export const SAMPLES_ACKED = 'samples_acked';

function env(name: string, fallback: string): string {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/** "1500000", "1.5M", "500k" → number. */
export function parseCount(name: string, s: string, min = 0): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  const n = m ? Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6) : NaN;
  if (!(n >= min)) throw new Error(`${name}: expected a number >= ${min}, got "${s}"`);
  return n;
}

function parseInteger(name: string, s: string, min: number): number {
  const n = parseCount(name, s, min);
  if (!Number.isInteger(n)) throw new Error(`${name}: expected an integer, got "${s}"`);
  return n;
}

/** "30s", "500ms", "2m", "1h", or a bare number of seconds → ms. */
export function parseDurationMs(name: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`${name}: not a duration: "${s}"`);
  const unit = (m[2] ?? 's') as 'ms' | 's' | 'm' | 'h';
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit];
}

export function loadShape(): LoadShape {
  const rate = parseCount('RATE', env('RATE', '0'));
  const ramp = __ENV.RAMP;
  let model: Model = rate > 0 ? 'constant' : 'closed';
  let fromSps = rate;
  let toSps = rate;
  let rampMs = 0;
  if (ramp !== undefined && ramp !== '') {
    if (rate > 0) throw new Error('RAMP and RATE exclude each other');
    const parts = ramp.split(':');
    if (parts.length !== 3) throw new Error(`RAMP expects FROM:TO:DURATION, got "${ramp}"`);
    model = 'ramping';
    fromSps = parseCount('RAMP', parts[0]!);
    toSps = parseCount('RAMP', parts[1]!, 1);
    rampMs = parseDurationMs('RAMP', parts[2]!);
  }
  const vus = parseInteger('VUS', env('VUS', '8'), 1);
  const durationMs = __ENV.DURATION ? parseDurationMs('DURATION', __ENV.DURATION) : rampMs > 0 ? rampMs : 30_000;
  if (durationMs < rampMs) throw new Error(`DURATION (${durationMs} ms) is shorter than the ramp (${rampMs} ms)`);
  return {
    url: env('URL', 'http://127.0.0.1:9090/api/v1/write'),
    model,
    fromSps,
    toSps,
    rampMs,
    durationMs,
    warmupMs: parseDurationMs('WARMUP', env('WARMUP', '3s')),
    vus,
    maxVus: parseInteger('MAX_VUS', env('MAX_VUS', String(vus)), vus),
    series: parseInteger('SERIES', env('SERIES', '100000'), 1),
    metrics: parseInteger('METRICS', env('METRICS', '100'), 1),
    labels: parseInteger('LABELS', env('LABELS', '8'), 0),
    labelValues: parseInteger('LABEL_VALUES', env('LABEL_VALUES', '300'), 1),
    samplesPerRequest: parseInteger('SAMPLES_PER_REQUEST', env('SAMPLES_PER_REQUEST', '2000'), 1),
    timeout: env('TIMEOUT', '30s'),
    p99Ms: parseCount('P99_MS', env('P99_MS', '50'), 0),
  };
}

/**
 * k6 arrival rates count iterations (= requests) per `timeUnit` and must be whole numbers: per
 * second when samples/s divide evenly into requests, else per minute (rounded).
 */
function arrival(sps: number[], samplesPerRequest: number): { rates: number[]; timeUnit: string } {
  const perSecond = sps.map((r) => r / samplesPerRequest);
  if (perSecond.every(Number.isInteger)) return { rates: perSecond, timeUnit: '1s' };
  return { rates: perSecond.map((r) => Math.max(1, Math.round(r * 60))), timeUnit: '1m' };
}

/**
 * A warm-up scenario (at the starting rate, or the same VUs in the closed model) followed by the
 * measured one, as loadgen runs `--warmup` then `--duration`.
 */
export function scenarios(shape: LoadShape): Record<string, Scenario> {
  const ms = (n: number) => `${Math.round(n)}ms`;
  const out: Record<string, Scenario> = {};
  const { rates, timeUnit } = arrival([shape.fromSps, shape.toSps], shape.samplesPerRequest);
  const [fromRate, toRate] = rates as [number, number];
  const startTime = shape.warmupMs > 0 && (shape.model === 'closed' || fromRate > 0) ? ms(shape.warmupMs) : '0s';
  const gracefulStop = shape.timeout;
  if (shape.model === 'closed') {
    if (startTime !== '0s') out[WARMUP] = { executor: 'constant-vus', vus: shape.vus, duration: startTime, gracefulStop };
    out[MEASURE] = { executor: 'constant-vus', vus: shape.vus, duration: ms(shape.durationMs), startTime, gracefulStop };
    return out;
  }
  const vus = { preAllocatedVUs: shape.vus, maxVUs: shape.maxVus };
  if (startTime !== '0s') {
    out[WARMUP] = { executor: 'constant-arrival-rate', rate: fromRate, timeUnit, duration: startTime, ...vus, gracefulStop };
  }
  if (shape.model === 'constant') {
    out[MEASURE] = { executor: 'constant-arrival-rate', rate: toRate, timeUnit, duration: ms(shape.durationMs), ...vus, startTime, gracefulStop };
    return out;
  }
  const stages = [{ target: toRate, duration: ms(shape.rampMs) }];
  if (shape.durationMs > shape.rampMs) stages.push({ target: toRate, duration: ms(shape.durationMs - shape.rampMs) });
  out[MEASURE] = { executor: 'ramping-arrival-rate', startRate: fromRate, timeUnit, stages, ...vus, startTime, gracefulStop };
  return out;
}

/** Pass/fail on the measured scenario only: < 1 % failed requests, p99 under `P99_MS`, checks passing. */
export function thresholds(shape: LoadShape): NonNullable<Options['thresholds']> {
  return {
    [`http_req_failed{scenario:${MEASURE}}`]: ['rate<0.01'],
    [`http_req_duration{scenario:${MEASURE}}`]: [`p(99)<${shape.p99Ms}`],
    [`checks{scenario:${MEASURE}}`]: ['rate>0.99'],
    // No limit: listed so the summary shows the measured count (samples/s = count / DURATION).
    [`${SAMPLES_ACKED}{scenario:${MEASURE}}`]: ['count>=0'],
  };
}

export function options(shape: LoadShape): Options {
  return {
    scenarios: scenarios(shape),
    thresholds: thresholds(shape),
    // Compressed protobuf in, nothing useful out.
    discardResponseBodies: true,
    summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
  };
}
