/**
 * Helpers for the real-sender integration tests (Prometheus, vmagent): finding their binaries,
 * running them as bounded child processes on loopback, a scrape target that serves a fixed set of
 * awkward metrics, and an independent oracle for the rows the ingestor must write.
 *
 * Every process started here is killed at teardown and, as a last resort, when the test process
 * exits, so a failing assertion never leaves a daemon behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { request, type WalRow } from './server.js';
import { seriesId } from './rows.js';

// ---------------------------------------------------------------------------------------------
// Binaries

const BIN_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/sbin', '/bin'];

/** Absolute path of an executable on PATH (or the usual bin folders); undefined when absent. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...BIN_DIRS];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Binaries {
  readonly paths: Record<string, string>;
  /** Why the test is skipped (binary missing outside CI); false when it runs. */
  readonly skip: string | false;
  /** Binaries missing under CI: the test must fail, not skip. */
  readonly missing: string[];
}

/**
 * Looks up the binaries a test needs. Missing ones skip the test with a reason, except when the
 * environment variable CI is set: then they must make the test fail (`missing` is non-empty).
 */
export function needBinaries(...names: string[]): Binaries {
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of names) {
    const p = findBinary(n);
    if (p === undefined) missing.push(n);
    else paths[n] = p;
  }
  const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
  if (missing.length === 0) return { paths, skip: false, missing };
  if (ci) return { paths, skip: false, missing };
  return { paths, skip: `${missing.join(', ')} not installed (run scripts/install-test-deps.sh); CI is not set`, missing };
}

// ---------------------------------------------------------------------------------------------
// Processes

const live = new Set<ChildProcess>();
function killAll(): void {
  for (const p of live) p.kill('SIGKILL');
}
process.on('exit', killAll);
// tap ends a timed-out test process with a signal, which skips 'exit': kill the children first,
// then, unless someone else handles the signal, die of it as before.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  const onSignal = () => {
    killAll();
    if (process.listenerCount(sig) === 1) {
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    }
  };
  process.on(sig, onSignal);
}

export interface Proc {
  readonly name: string;
  readonly proc: ChildProcess;
  /** stdout and stderr so far. */
  logs(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Safe to call twice. */
  stop(graceMs?: number): Promise<number | string | null>;
  signal(sig: NodeJS.Signals): void;
}

/** Kills `proc` along with ours if the test process exits or is signalled (e.g. the ingestor's). */
export function trackChild(proc: ChildProcess): void {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

/** Spawns a child process with its output kept in memory; it is tracked for cleanup. */
export function startProcess(name: string, bin: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const proc = spawn(bin, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let logs = '';
  const keep = (d: Buffer) => {
    logs += d.toString();
    if (logs.length > 4_000_000) logs = logs.slice(-2_000_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string | null>((resolve) => {
    proc.once('exit', (code, sig) => {
      live.delete(proc);
      resolve(code ?? sig);
    });
    proc.once('error', (err) => {
      live.delete(proc);
      logs += `\nspawn error: ${err.message}\n`;
      resolve(null);
    });
  });
  return {
    name,
    proc,
    logs: () => logs,
    exited,
    signal: (sig) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}

/** The part of a tap test startOnFreePort uses. */
export interface TestLike {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
}

/** Starts a binary that cannot listen on port 0 on a free port; retries when the port was taken meanwhile. */
export async function startOnFreePort(t: TestLike, name: string, bin: string, args: (port: number) => string[], ready: (base: string) => Promise<unknown>): Promise<{ proc: Proc; base: string }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = startProcess(name, bin, args(port));
    t.teardown(() => proc.stop(5_000));
    const ok = await Promise.race([waitFor(`${name} ready`, () => ready(base).then(() => true), 20_000), proc.exited.then(() => false)]);
    if (ok) return { proc, base };
    t.comment(`${name} exited early:\n${proc.logs().slice(-2000)}`);
  }
  throw new Error(`${name} did not start`);
}

/** Runs a command to completion (bounded by `timeoutMs`) and returns its stdout. */
export function runToCompletion(bin: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(p);
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('exit', (code, sig) => {
      clearTimeout(timer);
      live.delete(p);
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${bin} ${args.join(' ')} exited with ${code ?? sig}:\n${err}`));
    });
  });
}

/** A port that was free a moment ago on 127.0.0.1 (for programs that cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined/false, or throws
 * after `timeoutMs` with `what` and the last error seen.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

/** GET a URL on loopback; throws unless the status is 2xx. */
export async function httpGet(url: string): Promise<string> {
  const r = await request(url, { method: 'GET' });
  if (r.status < 200 || r.status > 299) throw new Error(`GET ${url}: ${r.status} ${r.body.slice(0, 500)}`);
  return r.body;
}

// ---------------------------------------------------------------------------------------------
// Scrape target

export interface ScrapeTarget {
  readonly port: number;
  readonly address: string;
  /** Scrapes answered so far. */
  scrapes(): number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 answering every GET with `render(n)`, n counting from 1. */
export async function startScrapeTarget(render: (n: number, nowMs: number) => string): Promise<ScrapeTarget> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    n++;
    const body = render(n, Date.now());
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    scrapes: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The awkward label value: quotes, comma, backslash, newline, HTML characters, non-ASCII. */
export const ODD_LABEL_VALUE = 'a,"b"\\c\nd <&> ünï 日本 🚀';

function escapeLabel(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

export interface ExpositionOptions {
  /** Include special values (±Inf, NaN, > 1e21, < 1e-9). */
  special: boolean;
}

/**
 * Prometheus text exposition for scrape `n`: a counter that grows every scrape, a gauge with
 * several label sets (mixed-case names), a name that needs normalising, a label value with
 * quotes/commas/unicode, a classic histogram, a series present on some scrapes only (its
 * disappearance makes the sender emit a staleness marker), a sample with its own timestamp, and a
 * series routed to another database by its `adxmon_database` label.
 */
export function exposition(n: number, nowMs: number, opts: ExpositionOptions = { special: true }): string {
  const lines = [
    '# HELP adxi_requests_total Requests served.',
    '# TYPE adxi_requests_total counter',
    `adxi_requests_total{code="200",method="GET"} ${n * 3}`,
    `adxi_requests_total{code="500",method="POST"} ${n}`,
    '# TYPE adxi_temperature_celsius gauge',
    'adxi_temperature_celsius{floor="1",room="kitchen"} 21.25',
    `adxi_temperature_celsius{floor="-1",room="cellar"} ${-3.5 + n * 0.125}`,
    'adxi_temperature_celsius{Zone="north",alpha="x",floor="2",room="attic",zeta="z"} 0.001',
    '# TYPE adxi:weird__name_2xx:ratio gauge',
    `adxi:weird__name_2xx:ratio{a_b="1"} ${n % 2 === 0 ? 0.5 : 0.75}`,
    '# TYPE adxi_label_escapes gauge',
    `adxi_label_escapes{path="${escapeLabel(ODD_LABEL_VALUE)}"} 7`,
    '# HELP adxi_latency_seconds Latency.',
    '# TYPE adxi_latency_seconds histogram',
    `adxi_latency_seconds_bucket{le="0.1"} ${n}`,
    `adxi_latency_seconds_bucket{le="0.5"} ${2 * n}`,
    `adxi_latency_seconds_bucket{le="+Inf"} ${3 * n}`,
    `adxi_latency_seconds_sum ${(0.375 * n).toString()}`,
    `adxi_latency_seconds_count ${3 * n}`,
    '# TYPE adxi_routed gauge',
    'adxi_routed{adxmon_database="Other-DB",x="y"} 1',
    '# TYPE adxi_explicit_timestamp gauge',
    `adxi_explicit_timestamp ${n} ${nowMs - 1500}`,
  ];
  if (n % 4 === 1 || n % 4 === 2) lines.push('# TYPE adxi_flapping gauge', `adxi_flapping{phase="on"} ${n}`);
  if (opts.special) {
    lines.push(
      '# TYPE adxi_special gauge',
      'adxi_special{kind="inf"} +Inf',
      'adxi_special{kind="neginf"} -Inf',
      'adxi_special{kind="nan"} NaN',
      'adxi_special{kind="big"} 1.5e+22',
      'adxi_special{kind="tiny"} 1e-12',
      'adxi_special{kind="negzero"} -0',
    );
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Oracle: what the ingestor must write for a sample, computed independently of src/

/** One sample as the sender has it: all labels (with __name__), value, timestamp in ms. */
export interface SentSample {
  labels: Record<string, string>;
  value: number;
  timestampMs: number;
}

/** adx-mon table name: non-alphanumerics dropped, a lower-case letter after one upper-cased, first letter upper. */
export function expectedTable(metric: string): string {
  return metric.replace(/[^A-Za-z0-9]([a-z]?)/g, (_m, c: string) => c.toUpperCase()).replace(/^[a-z]/, (c) => c.toUpperCase());
}

/** Go `strconv.FormatFloat(v, 'f', 9, 64)`. */
export function expectedValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Math.abs(v) >= 1e21) return `${BigInt(v)}.000000000`;
  const s = v.toFixed(9);
  return Object.is(v, -0) || (v < 0 && !s.startsWith('-')) ? '-' + s : s;
}

/** Go `time.RFC3339Nano` of a millisecond timestamp (fraction without trailing zeros). */
export function expectedTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

function compareLower(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical key of one WAL row: database, table, SeriesId, labels JSON (keys in order), timestamp, value. */
export function rowKey(r: { database: string; table: string; seriesId: string; labels: Record<string, string>; timestamp: string; value: string }): string {
  return JSON.stringify([r.database, r.table, r.seriesId, Object.entries(r.labels), r.timestamp, r.value]);
}

/** The WAL row the ingestor must write for a sample (default flags: no lifted labels). */
export function expectedRow(s: SentSample, defaultDatabase = 'Metrics'): Omit<WalRow, 'lifted'> {
  const pairs = Object.entries(s.labels)
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => compareLower(a, b));
  const db = s.labels.adxmon_database?.replace(/[^A-Za-z0-9]/g, '');
  return {
    database: db || defaultDatabase,
    table: expectedTable(s.labels.__name__!),
    seriesId: seriesId(pairs),
    labels: Object.fromEntries(pairs.filter(([k]) => k !== '__name__' && !k.startsWith('adxmon_'))),
    timestamp: expectedTimestamp(s.timestampMs),
    value: expectedValue(onTheWire(s.value)),
  };
}

/**
 * The value as remote write 1.0 carries it: senders' proto3 encoders skip a double field equal to
 * zero (Go `if m.Value != 0`), so a stored -0 arrives as +0.
 */
export function onTheWire(v: number): number {
  return Object.is(v, -0) ? 0 : v;
}

export interface SetDiff {
  missing: string[];
  extra: string[];
  expected: number;
  actual: number;
}

/** Multiset difference of row keys: what is expected but absent, and what is present but unexpected. */
export function diffRows(expected: string[], actual: string[]): SetDiff {
  const counts = new Map<string, number>();
  for (const k of expected) counts.set(k, (counts.get(k) ?? 0) + 1);
  const extra: string[] = [];
  for (const k of actual) {
    const c = counts.get(k) ?? 0;
    if (c === 0) extra.push(k);
    else counts.set(k, c - 1);
  }
  const missing: string[] = [];
  for (const [k, c] of counts) for (let i = 0; i < c; i++) missing.push(k);
  return { missing, extra, expected: expected.length, actual: actual.length };
}

/** A short human-readable report of a diff (first few keys each way). */
export function describeDiff(d: SetDiff, max = 15): string {
  return [
    `expected ${d.expected} rows, WAL has ${d.actual}; ${d.missing.length} missing, ${d.extra.length} unexpected`,
    ...d.missing.slice(0, max).map((k) => `  missing:    ${k}`),
    ...d.extra.slice(0, max).map((k) => `  unexpected: ${k}`),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Parsing the senders' own views of what they stored

/** Parses a Go `strconv.Quote`d string starting at `s[i]` (the opening quote); returns it and the index after. */
export function parseGoQuoted(s: string, i: number): [string, number] {
  if (s[i] !== '"') throw new Error(`expected a quote at ${i} in ${s}`);
  const bytes: number[] = [];
  const pushText = (t: string) => bytes.push(...Buffer.from(t, 'utf8'));
  i++;
  for (;;) {
    const c = s[i];
    if (c === undefined) throw new Error(`unterminated string in ${s}`);
    if (c === '"') return [Buffer.from(bytes).toString('utf8'), i + 1];
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      pushText(String.fromCodePoint(cp));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = s[i + 1];
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };
    if (e !== undefined && e in simple) {
      bytes.push(simple[e]!);
      i += 2;
    } else if (e === 'x') {
      bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e === 'u') {
      pushText(String.fromCodePoint(parseInt(s.slice(i + 2, i + 6), 16)));
      i += 6;
    } else if (e === 'U') {
      pushText(String.fromCodePoint(parseInt(s.slice(i + 2, i + 10), 16)));
      i += 10;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 4;
    } else throw new Error(`bad escape at ${i} in ${s}`);
  }
}

/** Parses a Go-value float as Prometheus prints it (`%g`, `+Inf`, `-Inf`, `NaN`). */
export function parseGoFloat(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`not a number: ${s}`);
  return v;
}

/**
 * Parses `promtool tsdb dump` output: one `{name="value", ...} VALUE TIMESTAMP_MS` line per sample,
 * stale markers included (as NaN).
 */
export function parsePromtoolDump(text: string): SentSample[] {
  const out: SentSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line[0] !== '{') throw new Error(`unexpected dump line: ${line}`);
    const labels: Record<string, string> = {};
    let i = 1;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      const name = line.slice(i, eq);
      const [value, next] = parseGoQuoted(line, eq + 1);
      labels[name] = value;
      i = next;
      if (line.startsWith(', ', i)) i += 2;
      else if (line[i] !== '}') throw new Error(`unexpected dump line: ${line}`);
    }
    const [v, ts] = line.slice(i + 2).split(' ');
    out.push({ labels, value: parseGoFloat(v!), timestampMs: Number(ts) });
  }
  return out;
}

/**
 * Parses VictoriaMetrics `/api/v1/export` JSON lines. Values may be the bare tokens `+Inf`,
 * `-Inf`, `NaN` (not JSON) or `null`, which is how VictoriaMetrics returns a staleness marker:
 * that becomes NaN, as the sender sent it.
 */
export function parseVmExport(text: string): SentSample[] {
  const out: SentSample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    // Only the values array can hold the non-JSON tokens; label values are left alone.
    const at = line.lastIndexOf('"values":[');
    const fixed = line.slice(0, at) + line.slice(at).replace(/(?<=[[,])(\+Inf|-Inf|NaN)(?=[,\]])/g, '"$1"');
    const o = JSON.parse(fixed) as { metric: Record<string, string>; values: (number | string | null)[]; timestamps: number[] };
    o.values.forEach((v, i) => {
      out.push({ labels: o.metric, value: v === null ? NaN : typeof v === 'string' ? parseGoFloat(v) : v, timestampMs: o.timestamps[i]! });
    });
  }
  return out;
}

/**
 * Values of one metric in a Prometheus text exposition, summed over all its series. Throws when
 * the metric is absent, so a renamed metric cannot make an assertion pass vacuously.
 */
export function sumMetric(text: string, name: string): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    seen = true;
  }
  if (!seen) throw new Error(`metric ${name} is not exposed`);
  return sum;
}

/** Writes `content` to `dir/name` and returns the path. */
export function writeFile(dir: string, name: string, content: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

/**
 * Prometheus (server mode) config for the sender tests: 1 s scrapes of `target` (none: an empty
 * target list, not an empty job list, so the scrape loop ends with stale markers) and remote
 * write to `writeUrl` with short backoffs and metadata sent every second (metadata-only requests
 * must be accepted and write nothing).
 */
export function prometheusConfig(job: string, target: string | undefined, writeUrl: string): string {
  return JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1m' },
    scrape_configs: [{ job_name: job, static_configs: [{ targets: target === undefined ? [] : [target] }] }],
    remote_write: [
      {
        url: writeUrl,
        remote_timeout: '10s',
        queue_config: { batch_send_deadline: '1s', retry_on_http_429: true, min_backoff: '100ms', max_backoff: '1s' },
        metadata_config: { send: true, send_interval: '1s' },
      },
    ],
  });
}
