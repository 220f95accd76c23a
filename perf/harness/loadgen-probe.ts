/**
 * One loadgen probe: `node dist/perf/loadgen.js` pinned to the sender CPUs for a warm-up and a
 * measured window, the receiver's CPU time sampled over exactly that window, and the verdict on
 * whether the receiver sustained the offered rate.
 */
import { performance } from 'node:perf_hooks';
import { spawnChild } from './child-processes.js';
import type { Protocol } from './receivers.js';
import type { LoadgenLoad, ProbeTiming } from './scenarios.js';

/** What the harness reads from loadgen's JSON result (see perf/README.md, "Output"). */
export interface LoadgenResult {
  durationS: number;
  requests: number;
  samplesSent: number;
  samplesAcked: number;
  samplesPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  statusCounts: Record<string, number>;
  late: number;
  unsent: number;
  generatorCpuS: number;
}

/** What "sustained" allows. */
export const SUSTAINED_LIMITS = Object.freeze({
  /** p99 request latency must stay under this. */
  maxP99Ms: 1000,
  /** Requests started late (the sender fell behind) may be at most this fraction of requests. */
  maxLateFraction: 0.01,
});

export interface Verdict {
  ok: boolean;
  /** Why not, in words; empty when ok. */
  reasons: string[];
}

/**
 * An open-model probe passes when every completed request was answered 2xx, every due request was
 * sent, every sample sent was acknowledged, at most 1 % of requests started late and p99 stayed
 * under 1 s.
 *
 * Two allowances for how loadgen counts at the window's edges: samples are counted sent by
 * request start and acknowledged by response end inside the window, so up to
 * `connections × samplesPerRequest` sent near the end are still in flight when it closes (a
 * refused or lost request shows in the status counts instead); and one request due in the last
 * timer tick may not have started when the window-end timer fires (`unsent` 1).
 */
export function judgeOpenProbe(r: LoadgenResult, shape: { connections: number; samplesPerRequest: number }): Verdict {
  const reasons: string[] = [];
  const refused = Object.entries(r.statusCounts).filter(([status]) => !/^2\d\d$/.test(status));
  if (r.requests === 0) reasons.push('no request completed');
  if (refused.length > 0) reasons.push(`not 2xx: ${refused.map(([s, n]) => `${s}×${n}`).join(' ')}`);
  if (r.unsent > 1) reasons.push(`${r.unsent} requests due were never sent`);
  if (r.samplesAcked < r.samplesSent - shape.connections * shape.samplesPerRequest) reasons.push(`acknowledged ${r.samplesAcked} of ${r.samplesSent} samples sent`);
  if (r.late > SUSTAINED_LIMITS.maxLateFraction * Math.max(1, r.requests)) reasons.push(`${r.late} of ${r.requests} requests started late`);
  if (r.latencyMs.p99 >= SUSTAINED_LIMITS.maxP99Ms) reasons.push(`p99 ${Math.round(r.latencyMs.p99)} ms`);
  return { ok: reasons.length === 0, reasons };
}

export interface LoadgenProbe {
  writeUrl: string;
  protocol: Protocol;
  /** 0 = closed model. */
  rateSps: number;
  load: LoadgenLoad;
  timing: ProbeTiming;
  cpus: string;
  /** `nice -n` for loadgen (see Leg.senderNice). */
  nice?: number;
}

export interface LoadgenMeasurement {
  result: LoadgenResult;
  /** Receiver CPU time / wall time over loadgen's measured window. */
  receiverCpuCores: number;
  /** loadgen's "first <status> response: <body>" lines: why the receiver refused. */
  firstErrors: string[];
  command: string;
}

export function loadgenArgv(p: LoadgenProbe): string[] {
  const l = p.load;
  return [
    'node', 'dist/perf/loadgen.js',
    '--url', p.writeUrl,
    '--protocol', p.protocol === '2.0' ? '2' : '1',
    '--rate', String(Math.round(p.rateSps)),
    '--connections', String(l.connections),
    '--warmup', `${p.timing.warmupMs}ms`,
    '--duration', `${p.timing.durationMs}ms`,
    '--series', String(l.series),
    '--metrics', String(l.metrics),
    '--labels', String(l.labels),
    '--samples-per-request', String(l.samplesPerRequest),
    '--late-after', `${l.lateAfterMs}ms`,
  ];
}

const PROGRESS_LINE = /^loadgen\s+(\d+(?:\.\d+)?)s /m;
const FIRST_ERROR_LINE = /^loadgen: (first \S+ response: .*)$/gm;

interface CpuMark {
  atMs: number;
  cpuS: number;
}

/**
 * Runs loadgen to completion. Its first progress line (one per second from its start) fixes when
 * its warm-up ends, so the receiver's CPU is sampled at the window's start and end.
 */
export async function runLoadgenProbe(p: LoadgenProbe, receiverCpuSeconds: () => number): Promise<LoadgenMeasurement> {
  const child = spawnChild('loadgen', loadgenArgv(p), { cpus: p.cpus, nice: p.nice, pipeStdout: true });
  const mark = (): CpuMark => ({ atMs: performance.now(), cpuS: receiverCpuSeconds() });
  let start: CpuMark | undefined;
  let end: CpuMark | undefined;
  const timers: NodeJS.Timeout[] = [];
  let t0: number | undefined;
  const firstErrors: string[] = [];
  child.proc.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    for (const e of text.matchAll(FIRST_ERROR_LINE)) firstErrors.push(e[1]!.slice(0, 200));
    const m = t0 === undefined ? PROGRESS_LINE.exec(text) : null;
    if (m === null) return;
    t0 = performance.now() - Number(m[1]) * 1000;
    const startAt = t0 + p.timing.warmupMs - performance.now();
    timers.push(setTimeout(() => (start = mark()), Math.max(0, startAt)));
    timers.push(setTimeout(() => (end ??= mark()), Math.max(0, startAt + p.timing.durationMs)));
  });
  let stdout = '';
  child.proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await child.exited;
  for (const t of timers) clearTimeout(t);
  if (start !== undefined) end ??= mark();
  let result: LoadgenResult;
  try {
    result = JSON.parse(stdout) as LoadgenResult;
  } catch {
    throw new Error(`loadgen exited with ${code} without a result:\n${child.command}\n${child.logTail().slice(-2000)}`);
  }
  const wallS = start !== undefined && end !== undefined ? (end.atMs - start.atMs) / 1000 : 0;
  return { result, receiverCpuCores: wallS > 0 ? (end!.cpuS - start!.cpuS) / wallS : 0, firstErrors, command: child.command };
}
