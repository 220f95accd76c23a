/**
 * Prometheus remote-write load generator (1.0 and 2.0), loopback targets only.
 *
 *   npx tsx perf/loadgen.ts --protocol 2 --rate 1.5M --duration 30s
 *
 * Progress goes to stderr once a second; the result is one JSON object on stdout.
 * See perf/README.md for the flags and what the numbers mean.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ArrivalSchedule } from './lib/arrival-schedule.js';
import { RequestBuilder, type Protocol } from './lib/request-builder.js';
import { runLoad, type Progress } from './lib/sender.js';
import { REMOTE_WRITE_HEADERS } from './k6/lib/remote-write-headers.js';

const USER_AGENT = 'adx-ingestor-loadgen/0.1';

const USAGE = `usage: npx tsx perf/loadgen.ts [flags]
  --url URL                  loopback remote-write endpoint (http://127.0.0.1:9090/api/v1/write)
  --protocol 1|2             remote write 1.0 or 2.0 (1)
  --rate N                   open model: N samples/s (k/M suffixes ok); 0 = closed model, as fast as
                             the connections allow (0)
  --ramp FROM:TO:DURATION    open model with a rate ramping linearly, e.g. 100k:2M:60s; warmup runs
                             at FROM, then TO holds until --duration ends (default: ramp length)
  --duration D               measured time, e.g. 30s, 2m, 500ms (30s)
  --warmup D                 unmeasured time before it (3s)
  --connections N            concurrent requests / keep-alive connections (8)
  --series N                 active series, walked round-robin (100000)
  --metrics N                distinct metric names (100)
  --labels N                 labels per series besides __name__, at most 20 (8)
  --label-values N           distinct values per label name (300)
  --samples-per-request N    one sample per series per request (2000)
  --seed N                   series and values are reproducible per seed (1)
  --timeout D                socket idle time before a request counts as "timeout" (30s)
  --late-after D             open model: a request starting this long after it was due is "late" (10ms)
  --no-metadata              2.0: leave out per-series metadata (type, help)
  --dump-body FILE           write one uncompressed request body to FILE and exit
  --latency-log FILE         write one line per measured request to FILE: seconds since the
                             start when it was sent, latency in ms, status (find when slow ones came)
  --quiet                    no progress lines
`;

interface Cli {
  url: URL;
  protocol: Protocol;
  rampFromSps: number;
  rampToSps: number;
  rampMs: number;
  durationMs: number;
  warmupMs: number;
  connections: number;
  series: number;
  metrics: number;
  labels: number;
  labelValues: number;
  samplesPerRequest: number;
  seed: number;
  timeoutMs: number;
  lateAfterMs: number;
  metadata: boolean;
  dumpBody: string | undefined;
  latencyLog: string | undefined;
  quiet: boolean;
}

class UsageError extends Error {}

/** "30s", "500ms", "2m", "1h", or a bare number of seconds → ms. */
function parseDuration(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new UsageError(`--${flag}: not a duration: ${s}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

/** "1500000", "1.5M", "500k" → number. */
function parseCount(flag: string, s: string, min = 0): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  const n = m ? Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6) : NaN;
  if (!(n >= min)) throw new UsageError(`--${flag}: expected a number >= ${min}, got ${s}`);
  return n;
}

function parseInteger(flag: string, s: string, min: number): number {
  const n = parseCount(flag, s, min);
  if (!Number.isInteger(n)) throw new UsageError(`--${flag}: expected an integer, got ${s}`);
  return n;
}

function loopbackUrl(s: string): URL {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new UsageError(`--url: not a URL: ${s}`);
  }
  const host = url.hostname;
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (url.protocol !== 'http:' || !loopback) throw new UsageError(`--url must be http:// on loopback (127.0.0.0/8, localhost, [::1]), got ${s}`);
  return url;
}

function parseCli(argv: string[]): Cli | undefined {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:9090/api/v1/write' },
      protocol: { type: 'string', default: '1' },
      rate: { type: 'string', default: '0' },
      ramp: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string', default: '3s' },
      connections: { type: 'string', default: '8' },
      series: { type: 'string', default: '100000' },
      metrics: { type: 'string', default: '100' },
      labels: { type: 'string', default: '8' },
      'label-values': { type: 'string', default: '300' },
      'samples-per-request': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '30s' },
      'late-after': { type: 'string', default: '10ms' },
      'no-metadata': { type: 'boolean', default: false },
      'dump-body': { type: 'string' },
      'latency-log': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return undefined;
  if (v.protocol !== '1' && v.protocol !== '2') throw new UsageError(`--protocol must be 1 or 2, got ${v.protocol}`);
  let rampFromSps = parseCount('rate', v.rate);
  let rampToSps = rampFromSps;
  let rampMs = 0;
  if (v.ramp !== undefined) {
    if (v.rate !== '0') throw new UsageError('--ramp and --rate exclude each other');
    const parts = v.ramp.split(':');
    if (parts.length !== 3) throw new UsageError(`--ramp expects FROM:TO:DURATION, got ${v.ramp}`);
    rampFromSps = parseCount('ramp', parts[0]!);
    rampToSps = parseCount('ramp', parts[1]!, 1);
    rampMs = parseDuration('ramp', parts[2]!);
  }
  return {
    url: loopbackUrl(v.url),
    protocol: Number(v.protocol) as Protocol,
    rampFromSps,
    rampToSps,
    rampMs,
    durationMs: v.duration !== undefined ? parseDuration('duration', v.duration) : rampMs > 0 ? rampMs : 30_000,
    warmupMs: parseDuration('warmup', v.warmup),
    connections: parseInteger('connections', v.connections, 1),
    series: parseInteger('series', v.series, 1),
    metrics: parseInteger('metrics', v.metrics, 1),
    labels: parseInteger('labels', v.labels, 0),
    labelValues: parseInteger('label-values', v['label-values'], 1),
    samplesPerRequest: parseInteger('samples-per-request', v['samples-per-request'], 1),
    seed: parseInteger('seed', v.seed, 0),
    timeoutMs: parseDuration('timeout', v.timeout),
    lateAfterMs: parseDuration('late-after', v['late-after']),
    metadata: !v['no-metadata'],
    dumpBody: v['dump-body'],
    latencyLog: v['latency-log'],
    quiet: v.quiet,
  };
}

function si(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

function progressLine(p: Progress): string {
  const status = Object.entries(p.statusCounts).map(([k, n]) => `${k}:${n}`).join(' ') || '-';
  return (
    `loadgen ${p.elapsedS.toFixed(1).padStart(6)}s ${p.phase.padEnd(7)} sent ${si(p.sentSamplesPerSec).padStart(6)}/s ` +
    `acked ${si(p.ackedSamplesPerSec).padStart(6)}/s req ${si(p.requestsPerSec).padStart(5)}/s ` +
    `in-flight ${p.inFlight} backlog ${p.backlog} late ${p.lateTotal} status ${status}\n`
  );
}

async function main(): Promise<number> {
  let cli: Cli | undefined;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError) && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw err;
    process.stderr.write(`loadgen: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  let builder: RequestBuilder;
  try {
    builder = new RequestBuilder(cli);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    process.stderr.write(`loadgen: ${err.message}\n`);
    return 2;
  }
  if (cli.dumpBody !== undefined) {
    const built = builder.next();
    writeFileSync(cli.dumpBody, built.raw);
    process.stderr.write(`loadgen: wrote ${built.raw.length} bytes (${built.samples} samples, ${built.body.length} compressed) to ${cli.dumpBody}\n`);
    return 0;
  }
  const spr = builder.samplesPerRequest;
  const open = cli.rampToSps > 0;
  const peakReqPerS = Math.max(cli.rampFromSps, cli.rampToSps) / spr;
  const latencyLog: string[] | undefined = cli.latencyLog === undefined ? undefined : [];
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const result = await runLoad(builder, {
    url: cli.url,
    headers: { ...REMOTE_WRITE_HEADERS[cli.protocol], 'User-Agent': USER_AGENT },
    connections: cli.connections,
    schedule: open
      ? new ArrivalSchedule({ fromSps: cli.rampFromSps, toSps: cli.rampToSps, warmupMs: cli.warmupMs, rampMs: cli.rampMs, samplesPerRequest: spr })
      : undefined,
    warmupMs: cli.warmupMs,
    durationMs: cli.durationMs,
    timeoutMs: cli.timeoutMs,
    lateThresholdMs: cli.lateAfterMs,
    // ~20 ms of requests ready ahead keeps timestamps fresh at low rates.
    prebuild: open ? Math.min(cli.connections, Math.max(2, Math.ceil(peakReqPerS * 0.02))) : cli.connections,
    drainMs: Math.min(cli.timeoutMs, 5000),
    progressIntervalMs: 1000,
    onProgress: cli.quiet ? undefined : (p) => process.stderr.write(progressLine(p)),
    signal: abort.signal,
    onLatency: latencyLog === undefined ? undefined : (sentAtMs, latencyMs, status) => latencyLog.push(`${(sentAtMs / 1000).toFixed(3)} ${latencyMs.toFixed(2)} ${status}\n`),
  });
  if (latencyLog !== undefined) writeFileSync(cli.latencyLog!, latencyLog.join(''));
  const { samplesWrittenHeader, writtenHeaderMissing, ...common } = result;
  const output = {
    protocol: cli.protocol === 1 ? '1.0' : '2.0',
    ...common,
    ...(cli.protocol === 2 ? { samplesWrittenHeader, writtenHeaderMissing } : {}),
    config: {
      url: cli.url.href,
      model: open ? 'open' : 'closed',
      rate: open ? (cli.rampMs > 0 ? `${cli.rampFromSps}:${cli.rampToSps}:${cli.rampMs}ms` : cli.rampToSps) : 0,
      connections: cli.connections,
      series: cli.series,
      metrics: cli.metrics,
      labels: cli.labels,
      labelValues: cli.labelValues,
      samplesPerRequest: spr,
      seed: cli.seed,
      warmupS: cli.warmupMs / 1000,
    },
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
  return result.samplesAcked > 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loadgen: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
