/**
 * A small load driver for integration tests: N concurrent senders posting remote-write 1.0
 * requests whose every sample is identifiable, recording which requests were acknowledged (2xx).
 *
 * Identity of a sample: the series labels `load_sender`, `load_seq` (the request's number for
 * that sender) and `load_series`, and the value `sender * 1e9 + seq * 1e3 + index` where `index`
 * is the sample's position in the request; its timestamp is `baseMs + index`. A retried request is
 * the same request (same seq, byte-identical body), as a remote-write sender retries a batch.
 *
 * `check(readWal(dir))` proves what a WAL holds against what was sent: every sample of every
 * acknowledged request present, no sample more often than its request was attempted, an
 * acknowledged request sent only once present exactly once, and no row that was never sent.
 */
import http from 'node:http';
import snappy from 'snappy';
import { encodeWriteRequestV1, type EncodeSeries } from '../../src/prom/remote-write-encode.js';
import type { WalRow } from './server.js';

export interface LoadOptions {
  senders: number;
  seriesPerRequest?: number;
  samplesPerSeries?: number;
  /** `__name__` of every series (one table). */
  metric?: string;
  /** Bytes of incompressible hex in a `load_pad` label per series (to fill disks quickly). */
  padBytes?: number;
  /** Resend an unacknowledged request until it is acknowledged (as Prometheus does); default true. */
  retry?: boolean;
  /** Pause between a failed attempt and its retry. */
  backoffMs?: number;
  /** Per-attempt deadline; a hung request counts as a failed attempt. */
  timeoutMs?: number;
}

/** One request (sender, seq) and what happened to each attempt of it. */
export interface SentRequest {
  readonly sender: number;
  readonly seq: number;
  readonly samples: number;
  attempts: number;
  acks: number;
  /** Status code per attempt, or the error code when there was no answer. */
  readonly outcomes: (number | string)[];
  /** Body of the last non-2xx answer (for messages in assertions). */
  lastError?: string;
}

export interface Attempt {
  readonly request: SentRequest;
  readonly status: number | undefined;
  readonly error?: string;
  readonly headers?: http.IncomingHttpHeaders;
  readonly body?: string;
}

export interface CheckResult {
  requestsSent: number;
  requestsAcked: number;
  attempts: number;
  samplesAcked: number;
  /** Samples of acknowledged requests found in the WAL (each counted once). */
  samplesVerified: number;
  rows: number;
  /** Samples of acknowledged requests not in the WAL: each is a lost acknowledged write. */
  missing: string[];
  /** Rows that do not decode to a sample that was sent (with its exact labels, value, timestamp). */
  garbage: string[];
  /** Samples found more often than their request was attempted. */
  overCounted: string[];
  /** Acknowledged requests sent exactly once whose samples are present more than once. */
  duplicatedSingleAttempt: string[];
  /** Samples present more than once (allowed when the request was attempted more than once). */
  duplicatedSamples: number;
  /** Samples of requests never acknowledged that are in the WAL anyway (allowed). */
  unackedPresent: number;
}

const MAX_SAMPLES_PER_REQUEST = 1000;

export class LoadDriver {
  readonly baseMs = Date.now() - 60_000;
  readonly requests = new Map<string, SentRequest>();
  readonly #o: Required<LoadOptions>;
  readonly #agent = new http.Agent({ keepAlive: true });
  readonly #current: (SentRequest | undefined)[] = [];
  readonly #nextSeq: number[] = [];
  #target: string | undefined;
  #running = false;
  #acks = 0;
  #loops: Promise<void>[] = [];

  constructor(options: LoadOptions) {
    this.#o = { seriesPerRequest: 5, samplesPerSeries: 4, metric: 'load_test', padBytes: 0, retry: true, backoffMs: 20, timeoutMs: 10_000, ...options };
    if (this.#o.seriesPerRequest * this.#o.samplesPerSeries >= MAX_SAMPLES_PER_REQUEST) throw new Error('too many samples per request for the value encoding');
    for (let s = 0; s < this.#o.senders; s++) this.#nextSeq.push(0);
  }

  /** 2xx answers so far, over all senders. */
  get acks(): number {
    return this.#acks;
  }

  /** Resolves at the next 2xx answer (or rejects after `timeoutMs`): the load is flowing. */
  async nextAck(timeoutMs = 20_000): Promise<void> {
    const start = this.#acks;
    const deadline = Date.now() + timeoutMs;
    while (this.#acks === start) {
      if (Date.now() > deadline) throw new Error(`no request acknowledged within ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  /** Where to send; `undefined` while the server is down (senders wait, nothing is attempted). */
  setTarget(url: string | undefined): void {
    this.#target = url;
    if (url === undefined) this.#agent.destroy();
  }

  /** Starts one loop per sender: send, and on failure back off and resend the same request. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loops = Array.from({ length: this.#o.senders }, (_, s) => this.#loop(s));
  }

  /** Stops the loops after their current attempt settles. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  close(): void {
    this.#agent.destroy();
  }

  async #loop(sender: number): Promise<void> {
    while (this.#running) {
      if (this.#target === undefined) {
        await sleep(10);
        continue;
      }
      const a = await this.sendNext(sender);
      if (a.status === undefined || a.status < 200 || a.status >= 300) await sleep(this.#o.backoffMs);
    }
  }

  /**
   * Sends the sender's current request once: the unacknowledged one again (with `retry`), or a
   * new one. Resolves with the answer (a network error is an attempt without a status); throws only
   * when no target is set.
   */
  async sendNext(sender = 0): Promise<Attempt> {
    const url = this.#target;
    if (url === undefined) throw new Error('no target set');
    let r = this.#current[sender];
    if (r === undefined) {
      const seq = this.#nextSeq[sender]!++;
      r = { sender, seq, samples: this.#o.seriesPerRequest * this.#o.samplesPerSeries, attempts: 0, acks: 0, outcomes: [] };
      this.requests.set(key(sender, seq), r);
      this.#current[sender] = r;
    }
    r.attempts++;
    const body = snappy.compressSync(Buffer.from(encodeWriteRequestV1(this.series(sender, r.seq))));
    const attempt = await this.#post(url, body, r);
    if (attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300) {
      r.acks++;
      this.#acks++;
      this.#current[sender] = undefined;
    } else {
      r.lastError = attempt.body ?? attempt.error;
      if (!this.#o.retry) this.#current[sender] = undefined;
    }
    return attempt;
  }

  /** The series of request (sender, seq), deterministic so that rows can be checked against it. */
  series(sender: number, seq: number): EncodeSeries[] {
    const o = this.#o;
    const out: EncodeSeries[] = [];
    for (let i = 0; i < o.seriesPerRequest; i++) {
      const labels: [string, string][] = [['__name__', o.metric], ['load_sender', String(sender)], ['load_seq', String(seq)], ['load_series', String(i)]];
      if (o.padBytes > 0) labels.push(['load_pad', pad(sender, seq, i, o.padBytes)]);
      const samples = [];
      for (let k = 0; k < o.samplesPerSeries; k++) {
        const index = i * o.samplesPerSeries + k;
        samples.push({ value: sampleValue(sender, seq, index), timestampMs: this.baseMs + index });
      }
      out.push({ labels, samples });
    }
    return out;
  }

  #post(url: string, body: Buffer, r: SentRequest): Promise<Attempt> {
    return new Promise((resolve) => {
      const req = http.request(
        url,
        {
          method: 'POST',
          agent: this.#agent,
          headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0', 'Content-Length': body.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            r.outcomes.push(res.statusCode!);
            resolve({ request: r, status: res.statusCode!, headers: res.headers, body: text });
          });
          res.on('error', (e) => fail(e));
        },
      );
      const fail = (e: Error) => {
        const code = (e as NodeJS.ErrnoException).code ?? e.message;
        r.outcomes.push(code);
        resolve({ request: r, status: undefined, error: code });
      };
      req.setTimeout(this.#o.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', fail);
      req.end(body);
    });
  }

  /** Checks rows read from the WAL (`readWal`) against everything sent; rows of other tables are garbage. */
  check(rows: readonly WalRow[]): CheckResult {
    const o = this.#o;
    const table = tableName(o.metric);
    const counts = new Map<string, number>();
    const garbage: string[] = [];
    for (const row of rows) {
      const why = row.table === table ? this.#explain(row) : 'another table';
      if (typeof why === 'string') garbage.push(`${why}: ${JSON.stringify(row)}`);
      else counts.set(why.id, (counts.get(why.id) ?? 0) + 1);
    }
    const res: CheckResult = { requestsSent: 0, requestsAcked: 0, attempts: 0, samplesAcked: 0, samplesVerified: 0, rows: rows.length, missing: [], garbage, overCounted: [], duplicatedSingleAttempt: [], duplicatedSamples: 0, unackedPresent: 0 };
    for (const r of this.requests.values()) {
      if (r.attempts === 0) continue;
      res.requestsSent++;
      res.attempts += r.attempts;
      if (r.acks > 0) {
        res.requestsAcked++;
        res.samplesAcked += r.samples;
      }
      for (let index = 0; index < r.samples; index++) {
        const id = `${r.sender}/${r.seq}/${index}`;
        const n = counts.get(id) ?? 0;
        if (n > 1) res.duplicatedSamples++;
        if (n > r.attempts) res.overCounted.push(`${id} found ${n} times, attempted ${r.attempts} (${r.outcomes.join(',')})`);
        if (r.acks > 0) {
          if (n === 0) res.missing.push(`${id} (outcomes ${r.outcomes.join(',')})`);
          else res.samplesVerified++;
          if (n > 1 && r.attempts === 1) res.duplicatedSingleAttempt.push(`${id} found ${n} times`);
        } else if (n > 0) res.unackedPresent++;
      }
    }
    return res;
  }

  /** The sample id a row is, or why it is not one that was sent. */
  #explain(row: WalRow): { id: string } | string {
    const o = this.#o;
    const sender = Number(row.labels.load_sender);
    const seq = Number(row.labels.load_seq);
    const series = Number(row.labels.load_series);
    if (!Number.isInteger(sender) || !Number.isInteger(seq) || !Number.isInteger(series)) return 'no load labels';
    const r = this.requests.get(key(sender, seq));
    if (r === undefined || r.attempts === 0) return 'request never sent';
    if (series < 0 || series >= o.seriesPerRequest) return 'series out of range';
    const want: Record<string, string> = { load_sender: String(sender), load_seq: String(seq), load_series: String(series) };
    if (o.padBytes > 0) want.load_pad = pad(sender, seq, series, o.padBytes);
    if (JSON.stringify(sortKeys(row.labels)) !== JSON.stringify(sortKeys(want))) return 'labels differ';
    if (row.database !== 'Metrics') return 'wrong database';
    const index = Number(row.value) - sampleValue(sender, seq, 0);
    if (!Number.isInteger(index) || index < series * o.samplesPerSeries || index >= (series + 1) * o.samplesPerSeries) return 'value is not a sample of this series';
    if (Date.parse(row.timestamp) !== this.baseMs + index) return 'timestamp differs';
    return { id: `${sender}/${seq}/${index}` };
  }
}

/** A one-line summary of a check, for test comments. */
export function summarize(c: CheckResult): string {
  return `${c.requestsAcked}/${c.requestsSent} requests acked (${c.attempts} attempts), ${c.samplesVerified}/${c.samplesAcked} acked samples verified in ${c.rows} rows; ` + `${c.duplicatedSamples} samples present more than once (retried), ${c.unackedPresent} samples of unacked requests present; ` + `missing ${c.missing.length}, garbage ${c.garbage.length}, over-counted ${c.overCounted.length}`;
}

function key(sender: number, seq: number): string {
  return `${sender}/${seq}`;
}

function sampleValue(sender: number, seq: number, index: number): number {
  return sender * 1e9 + seq * 1e3 + index;
}

/** Deterministic incompressible hex (xorshift32 seeded by the series identity). */
function pad(sender: number, seq: number, series: number, bytes: number): string {
  let x = (sender * 2654435761 + seq * 40503 + series * 97 + 1) >>> 0 || 1;
  let out = '';
  while (out.length < bytes) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out.slice(0, bytes);
}

function sortKeys(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The table a metric name lands in (`load_test` → `LoadTest`); only for simple snake_case names. */
function tableName(metric: string): string {
  return metric.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
