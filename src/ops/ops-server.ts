import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';

/** Why the server is not ready, or undefined when it is. */
export type ReadinessProbe = () => string | undefined;

/**
 * /metrics (Prometheus text), /readyz (503 with the reason while writes are refused) and /healthz
 * (200 while the process runs) on --metrics-listen. Plain node:http: this is not a hot path.
 */
export function startOpsServer(host: string, port: number, registry: Registry, ready: ReadinessProbe, log: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only\n');
    if (url === '/healthz') return send(res, 200, 'ok\n');
    if (url === '/readyz') {
      const why = ready();
      return send(res, why ? 503 : 200, why ? `not ready: ${why}\n` : 'ready\n');
    }
    if (url === '/metrics') {
      registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (e) => send(res, 500, `metrics failed: ${(e as Error).message}\n`),
      );
      return;
    }
    send(res, 404, 'not found: try /metrics, /readyz or /healthz\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = (server.address() as AddressInfo).port;
      log.info('metrics and probes listening', { host, port: actual, paths: ['/metrics', '/readyz', '/healthz'] });
      resolve({ port: actual, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
