/**
 * Synthetic scrape targets for the real senders (vmagent, Prometheus agent): one process serving
 * `--targets` targets, each on its own 127.0.0.1 port, each exposing `--series` series
 * (`target-exposition.ts`), plus a control port:
 *
 *   GET  /stats           → {"scrapes": pages served, "samples": samples in them, "bytes": …, "series": per target}
 *   POST /series?n=N      → every target exposes N series from its next scrape on (204)
 *
 *   node dist/perf/harness/scrape-targets.js --targets 100 --series 1000 [--metrics 100]
 *
 * Prints one JSON line on stdout once listening: {"controlPort": P, "targets": ["127.0.0.1:p", …]}.
 * Stops on SIGTERM / SIGINT, and by itself when its parent goes away.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { TargetExposition } from './target-exposition.js';

const HOST = '127.0.0.1';
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Shared {
  page: TargetExposition;
  metrics: number;
  scrapes: number;
  samples: number;
  bytes: number;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port));
  });
}

/** One target: its own scrape counter, so values move per target. */
function targetServer(shared: Shared): http.Server {
  let scrape = 0;
  return http.createServer((req, res) => {
    req.resume();
    const body = shared.page.render(++scrape);
    shared.scrapes++;
    shared.samples += shared.page.series;
    shared.bytes += body.length;
    res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': body.length });
    res.end(body);
  });
}

function controlServer(shared: Shared): http.Server {
  return http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    if (req.method === 'GET' && url.pathname === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ scrapes: shared.scrapes, samples: shared.samples, bytes: shared.bytes, series: shared.page.series }));
      return;
    }
    const n = Number(url.searchParams.get('n'));
    if (req.method === 'POST' && url.pathname === '/series' && Number.isInteger(n) && n >= 1) {
      if (n !== shared.page.series) shared.page = new TargetExposition({ series: n, metrics: shared.metrics });
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end('try GET /stats or POST /series?n=N\n');
  });
}

function positiveInt(flag: string, s: string | undefined): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${flag}: expected a positive integer, got ${s}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { targets: { type: 'string', default: '10' }, series: { type: 'string', default: '1000' }, metrics: { type: 'string', default: '100' } },
  });
  const targets = positiveInt('targets', values.targets);
  const metrics = positiveInt('metrics', values.metrics);
  const shared: Shared = { page: new TargetExposition({ series: positiveInt('series', values.series), metrics }), metrics, scrapes: 0, samples: 0, bytes: 0 };
  const servers = Array.from({ length: targets }, () => targetServer(shared));
  const ports = await Promise.all(servers.map(listen));
  const control = controlServer(shared);
  const controlPort = await listen(control);
  process.stdout.write(`${JSON.stringify({ controlPort, targets: ports.map((p) => `${HOST}:${p}`) })}\n`);

  const parent = process.ppid;
  const stop = () => {
    for (const s of [...servers, control]) s.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Orphaned (the harness was killed): reparented away from our parent.
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 1000).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`scrape-targets: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
