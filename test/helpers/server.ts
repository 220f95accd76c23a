import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import snappy from 'snappy';
import { readSegment } from '../../src/wal/segment-reader.js';
import { tryParseSegmentName } from '../../src/wal/segment-name.js';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const CLI = path.join(ROOT, 'dist/src/cli.js');

export interface TestServer {
  readonly dir: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly url: string;
  readonly proc: ChildProcess;
  /** Everything the server logged so far. */
  logs(): string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export function tempDir(prefix = 'adxi-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts the built server (dist/) on loopback with free ports and waits until it serves. */
export async function startServer(args: string[] = [], opts: { dir?: string; env?: NodeJS.ProcessEnv; prefix?: string[] } = {}): Promise<TestServer> {
  const dir = opts.dir ?? tempDir();
  const argv = [...(opts.prefix ?? []), process.execPath, CLI, 'serve', '--storage-dir', dir, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', ...args];
  const proc = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  let started = () => {};
  const ports = await new Promise<[number, number]>((resolve, reject) => {
    let ingest = 0;
    let metricsPort = 0;
    let loaded = false;
    proc.stderr!.on('data', (d: Buffer) => {
      logs += d.toString();
      for (const line of logs.split('\n')) {
        if (line.includes('"ingest endpoints listening"')) ingest = JSON.parse(line).port;
        if (line.includes('"decode workers loaded"')) loaded = true;
        if (line.includes('"metrics and probes listening"')) metricsPort = JSON.parse(line).port;
        // Ready: /readyz answers 200 only once every decode worker has loaded.
        if (ingest && metricsPort && loaded) {
          started();
          resolve([ingest, metricsPort]);
        }
      }
    });
    const onExit = (code: number | null) => reject(new Error(`server exited with ${code} before serving:\n${logs}`));
    proc.once('exit', onExit);
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${logs}`));
    }, 20_000);
    started = () => {
      clearTimeout(timer);
      proc.off('exit', onExit);
    };
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  // A test process killed by tap (timeout) must not leave servers behind.
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  void exited.then(() => process.off('exit', reap));
  return {
    dir,
    port: ports[0],
    metricsPort: ports[1],
    url: `http://127.0.0.1:${ports[0]}/api/v1/write`,
    proc,
    logs: () => logs,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on a fresh connection. */
export function request(url: string, opts: { method?: string; headers?: Record<string, string | number>; body?: Uint8Array | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', (e) => reject(Object.assign(e, { message: `${opts.method ?? 'POST'} ${url}: ${e.message}` })));
    req.end(opts.body === undefined ? undefined : Buffer.from(opts.body as Uint8Array));
  });
}

export const V2_CONTENT_TYPE = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';

/** POSTs a remote-write request (snappy-compressing the protobuf bytes). */
export function remoteWrite(url: string, proto: Uint8Array, version: 1 | 2 = 1, extra: Record<string, string> = {}): Promise<Reply> {
  const body = snappy.compressSync(Buffer.from(proto));
  return request(url, {
    headers: {
      'Content-Type': version === 2 ? V2_CONTENT_TYPE : 'application/x-protobuf',
      'Content-Encoding': 'snappy',
      'X-Prometheus-Remote-Write-Version': version === 2 ? '2.0.0' : '0.1.0',
      ...extra,
    },
    body,
  });
}

export async function scrape(port: number, p = '/metrics'): Promise<Reply> {
  return request(`http://127.0.0.1:${port}${p}`, { method: 'GET' });
}

/** Value of one sample line of a Prometheus text exposition (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (want.every((w) => rest.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

export interface WalRow {
  database: string;
  table: string;
  timestamp: string;
  seriesId: string;
  labels: Record<string, string>;
  value: string;
  lifted: string[];
}

/** Every data row in every segment of a WAL directory (headers skipped), parsed. */
export function readWal(dir: string): WalRow[] {
  const rows: WalRow[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const name = tryParseSegmentName(f);
    if (!name) continue;
    for (const b of readSegment(path.join(dir, f)).blocks) {
      const lines = b.csv.toString().split('\n');
      for (const line of lines.slice(1)) {
        if (line === '') continue;
        const fields = parseCsvLine(line);
        rows.push({
          database: name.database,
          table: name.table,
          timestamp: fields[0]!,
          seriesId: fields[1]!,
          lifted: fields.slice(2, -2),
          labels: JSON.parse(fields[fields.length - 2]!),
          value: fields[fields.length - 1]!,
        });
      }
    }
  }
  return rows;
}

export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (line[q + 1] === '"') {
          v += line.slice(i, q + 1);
          i = q + 2;
        } else {
          v += line.slice(i, q);
          i = q + 2;
          break;
        }
      }
      out.push(v);
    } else {
      const c = line.indexOf(',', i);
      const end = c === -1 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}
