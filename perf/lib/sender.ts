import http from 'node:http';
import type { ArrivalSchedule } from './arrival-schedule.js';

/**
 * The load generator's sender loop: keeps `connections` keep-alive HTTP/1.1 connections busy with
 * remote-write POSTs, either as fast as responses come back (closed model) or at the times an
 * `ArrivalSchedule` gives (open model), and measures what the receiver acknowledged.
 *
 * Windows: the run is `warmupMs` then `durationMs`. Requests completing inside the measured window
 * count in throughput, latency and status counts; requests started inside it count in
 * `samplesSent`, `bytesSent` and `late`. After the window, in-flight requests are drained for at
 * most `drainMs` and not counted.
 */

export interface BodySource {
  /** The returned body is owned by the caller; `samples` is the sample count inside it. */
  next(): { body: Buffer; samples: number };
}

export interface SenderOptions {
  /** Loopback only: the caller checks. */
  url: URL;
  headers: Readonly<Record<string, string>>;
  connections: number;
  /** Open model when set; closed model (next request as soon as a connection frees) when undefined. */
  schedule: ArrivalSchedule | undefined;
  warmupMs: number;
  durationMs: number;
  /** Socket idle time after which a request is abandoned and counted as `timeout`. */
  timeoutMs: number;
  /** Open model: a request started this much after its due time counts as late. */
  lateThresholdMs: number;
  /** Bodies kept ready ahead of the sender. */
  prebuild: number;
  drainMs: number;
  progressIntervalMs: number;
  onProgress?: (p: Progress) => void;
  /** Aborting ends the measured window early; the result covers the time until then. */
  signal?: AbortSignal;
  /** Called for every HTTP exchange completed in the measured window: when it was sent (ms since the start) and how long it took. */
  onLatency?: (sentAtMs: number, latencyMs: number, status: string) => void;
}

export interface Progress {
  elapsedS: number;
  /** Where most of the interval fell. */
  phase: 'warmup' | 'measure';
  sentSamplesPerSec: number;
  ackedSamplesPerSec: number;
  requestsPerSec: number;
  /** Completions by status (or error code) in this interval. */
  statusCounts: Record<string, number>;
  inFlight: number;
  /** Open model: requests due but not yet started. */
  backlog: number;
  lateTotal: number;
}

export interface LoadResult {
  durationS: number;
  requests: number;
  samplesSent: number;
  samplesAcked: number;
  samplesPerSec: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** HTTP status code, `timeout`, or a socket error code, to completions. */
  statusCounts: Record<string, number>;
  late: number;
  /** Open model: largest delay between a request's due time and its start. */
  maxStartLagMs: number;
  /** Open model: requests due in the window that never started. */
  unsent: number;
  bytesSent: number;
  generatorCpuS: number;
  /** `samplesSent / generatorCpuS`: what one core could offer if the generator were the only limit. */
  samplesPerGeneratorCpuS: number;
  /** Sum of `X-Prometheus-Remote-Write-Samples-Written` over 2xx responses, and 2xx responses without it. */
  samplesWrittenHeader: number;
  writtenHeaderMissing: number;
  /**
   * Requests whose body was built on the spot because the prebuilt queue was empty: normal when the
   * closed model saturates the generator, or after a pause (GC, catch-up burst) in the open model.
   */
  builderStalls: number;
}

const LATENCY_RESERVOIR = 1 << 20;

/** Keeps every latency up to `LATENCY_RESERVOIR`, then a uniform sample of them (reservoir sampling). */
class LatencyRecorder {
  readonly #values = new Float64Array(LATENCY_RESERVOIR);
  #seen = 0;
  #max = 0;

  record(ms: number): void {
    if (ms > this.#max) this.#max = ms;
    const i = this.#seen++;
    if (i < LATENCY_RESERVOIR) this.#values[i] = ms;
    else {
      const j = Math.floor(Math.random() * (i + 1));
      if (j < LATENCY_RESERVOIR) this.#values[j] = ms;
    }
  }

  summary(): LoadResult['latencyMs'] {
    const sorted = this.#values.slice(0, Math.min(this.#seen, LATENCY_RESERVOIR)).sort();
    const q = (p: number) => (sorted.length === 0 ? 0 : round3(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!));
    return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: round3(this.#max) };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

interface Counters {
  sentSamples: number;
  ackedSamples: number;
  completed: number;
  status: Map<string, number>;
}

function newCounters(): Counters {
  return { sentSamples: 0, ackedSamples: 0, completed: 0, status: new Map() };
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

export function runLoad(source: BodySource, opts: SenderOptions): Promise<LoadResult> {
  return new Promise((resolve) => new LoadRun(source, opts, resolve).start());
}

class LoadRun {
  readonly #src: BodySource;
  readonly #o: SenderOptions;
  readonly #resolve: (r: LoadResult) => void;
  readonly #agent: http.Agent;
  readonly #t0 = performance.now();
  readonly #endMs: number;
  #windowEndMs: number;
  #cpu0: NodeJS.CpuUsage | undefined;
  #cpuS = 0;
  #ready: Array<{ body: Buffer; samples: number }> = [];
  #refillScheduled = false;
  #inFlight = 0;
  #issued = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #progressTimer: NodeJS.Timeout | undefined;
  #endTimer: NodeJS.Timeout | undefined;
  #warmupTimer: NodeJS.Timeout | undefined;
  readonly #latency = new LatencyRecorder();
  readonly #total = newCounters();
  #interval = newCounters();
  #late = 0;
  #maxLag = 0;
  #dueAtWindowEnd = 0;
  #bytesSent = 0;
  #writtenHeader = 0;
  #writtenMissing = 0;
  #stalls = 0;
  readonly #errorBodiesShown = new Set<string>();

  constructor(src: BodySource, opts: SenderOptions, resolve: (r: LoadResult) => void) {
    this.#src = src;
    this.#o = opts;
    this.#resolve = resolve;
    this.#endMs = opts.warmupMs + opts.durationMs;
    this.#windowEndMs = this.#endMs;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections, maxFreeSockets: opts.connections, scheduling: 'fifo' });
  }

  start(): void {
    for (let i = 0; i < this.#o.prebuild; i++) this.#ready.push(this.#src.next());
    this.#o.signal?.addEventListener('abort', () => this.#finishWindow(), { once: true });
    this.#warmupTimer = setTimeout(() => {
      this.#cpu0 = process.cpuUsage();
    }, this.#o.warmupMs);
    this.#progressTimer = setInterval(() => this.#progress(), this.#o.progressIntervalMs);
    this.#endTimer = setTimeout(() => this.#finishWindow(), this.#endMs);
    this.#pump();
  }

  #now(): number {
    return performance.now() - this.#t0;
  }

  /** Starts every request that is due and has a free connection, then arms the timer for the next one. */
  #pump(): void {
    if (this.#stopped) return;
    const now = this.#now();
    if (now >= this.#endMs) return this.#finishWindow();
    const schedule = this.#o.schedule;
    if (schedule === undefined) {
      while (this.#inFlight < this.#o.connections) this.#send(now, now);
    } else {
      const due = schedule.requestsDueBy(now);
      while (this.#issued < due && this.#inFlight < this.#o.connections) this.#send(now, schedule.startOf(this.#issued));
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      // With requests overdue, the next completion pumps; otherwise wake at the next due time.
      if (this.#issued >= due) this.#timer = setTimeout(() => this.#pump(), Math.max(0, schedule.startOf(this.#issued) - now));
    }
  }

  #send(now: number, dueMs: number): void {
    const inWindow = dueMs >= this.#o.warmupMs;
    this.#issued++;
    if (inWindow) {
      const lag = now - dueMs;
      if (lag > this.#maxLag) this.#maxLag = lag;
      if (lag > this.#o.lateThresholdMs) this.#late++;
    }
    let built = this.#ready.shift();
    if (built === undefined) {
      this.#stalls++;
      built = this.#src.next();
    }
    this.#scheduleRefill();
    const { body, samples } = built;
    this.#inFlight++;
    this.#interval.sentSamples += samples;
    if (inWindow) {
      this.#total.sentSamples += samples;
      this.#bytesSent += body.length;
    }
    const sentAt = performance.now();
    let done = false;
    /** `httpStatus` is 0 when no HTTP response arrived; `key` is then the error code. */
    const finish = (key: string, httpStatus: number, written: string | string[] | undefined) => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#complete(key, httpStatus, samples, sentAt, performance.now() - sentAt, written);
      this.#pump();
    };
    const { url } = this.#o;
    const req = http.request({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 80,
      path: url.pathname + url.search,
      method: 'POST',
      agent: this.#agent,
      timeout: this.#o.timeoutMs,
      headers: { ...this.#o.headers, 'Content-Length': String(body.length) },
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const key = String(status);
      if (status >= 400 && !this.#errorBodiesShown.has(key)) {
        this.#errorBodiesShown.add(key);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 300) text += chunk;
        });
        res.on('end', () => process.stderr.write(`loadgen: first ${status} response: ${text.slice(0, 300).trim()}\n`));
      } else {
        res.resume();
      }
      res.on('end', () => finish(key, status, res.headers['x-prometheus-remote-write-samples-written']));
      res.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'response_error', 0, undefined));
    });
    req.on('timeout', () => {
      req.destroy();
      finish('timeout', 0, undefined);
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'request_error', 0, undefined));
    req.end(body);
  }

  #complete(key: string, httpStatus: number, samples: number, sentAt: number, latencyMs: number, written: string | string[] | undefined): void {
    const ok = httpStatus >= 200 && httpStatus < 300;
    this.#interval.completed++;
    bump(this.#interval.status, key);
    if (ok) this.#interval.ackedSamples += samples;
    const now = this.#now();
    if (now < this.#o.warmupMs || now > this.#windowEndMs) return;
    this.#total.completed++;
    bump(this.#total.status, key);
    // Latency of HTTP exchanges only: a refused connection is not a fast response.
    if (httpStatus > 0) {
      this.#latency.record(latencyMs);
      this.#o.onLatency?.(sentAt - this.#t0, latencyMs, key);
    }
    if (!ok) return;
    this.#total.ackedSamples += samples;
    if (typeof written === 'string') this.#writtenHeader += Number(written);
    else this.#writtenMissing++;
  }

  /** Builds bodies one per event-loop turn so responses are handled between builds. */
  #scheduleRefill(): void {
    if (this.#refillScheduled || this.#stopped) return;
    this.#refillScheduled = true;
    setImmediate(() => {
      this.#refillScheduled = false;
      if (this.#stopped || this.#ready.length >= this.#o.prebuild) return;
      this.#ready.push(this.#src.next());
      this.#scheduleRefill();
    });
  }

  #progress(): void {
    const c = this.#interval;
    this.#interval = newCounters();
    const perS = 1000 / this.#o.progressIntervalMs;
    const now = this.#now();
    this.#o.onProgress?.({
      elapsedS: now / 1000,
      phase: now - this.#o.progressIntervalMs / 2 < this.#o.warmupMs ? 'warmup' : 'measure',
      sentSamplesPerSec: c.sentSamples * perS,
      ackedSamplesPerSec: c.ackedSamples * perS,
      requestsPerSec: c.completed * perS,
      statusCounts: Object.fromEntries(c.status),
      inFlight: this.#inFlight,
      backlog: this.#o.schedule === undefined ? 0 : Math.max(0, this.#o.schedule.requestsDueBy(now) - this.#issued),
      lateTotal: this.#late,
    });
  }

  #finishWindow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const now = Math.min(this.#now(), this.#endMs);
    this.#windowEndMs = now;
    if (this.#cpu0 !== undefined) {
      const cpu = process.cpuUsage(this.#cpu0);
      this.#cpuS = (cpu.user + cpu.system) / 1e6;
    }
    // Due strictly before the end: the request due at the end instant belongs to the next window.
    if (this.#o.schedule !== undefined) this.#dueAtWindowEnd = this.#o.schedule.requestsDueBy(now - 1e-6);
    clearTimeout(this.#timer);
    clearTimeout(this.#endTimer);
    clearTimeout(this.#warmupTimer);
    clearInterval(this.#progressTimer);
    const drainUntil = performance.now() + this.#o.drainMs;
    const waitDrain = () => {
      if (this.#inFlight > 0 && performance.now() < drainUntil) return void setTimeout(waitDrain, 5);
      this.#agent.destroy();
      this.#resolve(this.#result(now));
    };
    waitDrain();
  }

  #result(windowEndMs: number): LoadResult {
    const durationS = Math.max(0, windowEndMs - this.#o.warmupMs) / 1000;
    const t = this.#total;
    const perS = (x: number) => (durationS > 0 ? Math.round(x / durationS) : 0);
    return {
      durationS: round3(durationS),
      requests: t.completed,
      samplesSent: t.sentSamples,
      samplesAcked: t.ackedSamples,
      samplesPerSec: perS(t.ackedSamples),
      requestsPerSec: perS(t.completed),
      latencyMs: this.#latency.summary(),
      statusCounts: Object.fromEntries([...t.status].sort()),
      late: this.#late,
      maxStartLagMs: round3(this.#maxLag),
      unsent: this.#o.schedule === undefined ? 0 : Math.max(0, this.#dueAtWindowEnd - this.#issued),
      bytesSent: this.#bytesSent,
      generatorCpuS: round3(this.#cpuS),
      samplesPerGeneratorCpuS: this.#cpuS > 0 ? Math.round(t.sentSamples / this.#cpuS) : 0,
      samplesWrittenHeader: this.#writtenHeader,
      writtenHeaderMissing: this.#writtenMissing,
      builderStalls: this.#stalls,
    };
  }
}
