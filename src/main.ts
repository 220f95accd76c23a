import fs from 'node:fs';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config } from './config/config.js';
import { BodyStore } from './ingest/body-store.js';
import { DecodePool } from './ingest/decode-pool.js';
import { createIngestMetrics } from './ingest/ingest-metrics.js';
import { startIngestServer } from './ingest/ingest-server.js';
import { RemoteWriteHandler } from './ingest/remote-write-handler.js';
import type { Logger } from './log/logger.js';
import { startOpsServer } from './ops/ops-server.js';
import { loadNativeHotPath, selectHotPath } from './transform/native-hot-path.js';
import { WalCatalog } from './wal/wal-catalog.js';
import { startsWriteback } from './wal/wal-writer.js';

export interface RunningServer {
  readonly port: number;
  readonly metricsPort: number;
  /** Graceful stop: refuse new requests, finish the ones in flight, close the WAL. */
  shutdown(reason: string): Promise<void>;
}

const DRAIN_TIMEOUT_MS = 30_000;
/** How often a one-line summary of the last interval is logged (at info level). */
const STATS_LOG_INTERVAL_MS = 60_000;

/** Composition root of `adx-ingestor serve`: wires the parts together and nothing else. */
export async function serve(config: Config, log: Logger): Promise<RunningServer> {
  const addon = loadNativeHotPath();
  const hotPath = selectHotPath(config.transform.hotPath);
  if (hotPath instanceof Error) throw new Error(`--hot-path native: ${hotPath.message}`);
  if (hotPath === undefined && config.transform.hotPath === 'auto' && addon instanceof Error) {
    log.warn('native hot path unavailable: remote write 1.0 runs on the TypeScript writer (about half the throughput)', { reason: addon.message });
  }
  // Remote write 2.0 is rewritten as 1.0 in C, so both take the same path.
  const rows = hotPath === undefined ? 'typescript' : 'native';
  log.info('hot path', { remoteWrite1: rows, remoteWrite2: rows, walBlocks: addon instanceof Error ? 'snappy package' : 'native' });
  if (startsWriteback(config.wal) && addon instanceof Error) {
    log.warn('--wal-writeback needs the native addon; WAL pages are written back by the kernel alone (dirty pages can pile up to gigabytes under sustained load)', { reason: addon.message });
  }
  if (config.wal.dropCache && addon instanceof Error) {
    log.warn('--wal-drop-cache needs the native addon; WAL pages stay in the page cache until the kernel reclaims them', { reason: addon.message });
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const catalog = new WalCatalog(config.wal, log, registry);
  const recovered = catalog.recover();
  log.info('WAL recovered', { dir: config.wal.storageDir, ...recovered });

  // Large bodies (over a quarter of the ring) get their own buffers, up to one max-size request
  // or the ring's size in flight, whichever is more.
  const bodies = new BodyStore(config.server.ingestBufferBytes, Math.max(config.server.ingestBufferBytes, config.server.maxRequestBytes));
  const poolStart = performance.now();
  const pool = new DecodePool(config, bodies.ring, (m) => catalog.apply(m.delta), (err) => log.error('decode worker failed; it is replaced', { error: err }));
  let shuttingDown = false;
  const handler = new RemoteWriteHandler({ config: config.server, bodies, pool, catalog, metrics: createIngestMetrics(registry), log, isShuttingDown: () => shuttingDown });
  const ingest = await startIngestServer(config.server, handler, log);
  void pool.allLoaded.then(() => log.info('decode workers loaded', { workers: pool.threads, ms: Math.round(performance.now() - poolStart) }));
  const notReady = () => {
    if (shuttingDown) return 'shutting down';
    // Until every worker has loaded, requests wait in the pool's queue: not refused, but slow.
    const loading = pool.loadingWorkers;
    if (loading > 0) return `${loading} of ${pool.threads} decode workers still loading`;
    return catalog.overLimit() ?? handler.recentWriteFailure();
  };
  const ops = await startOpsServer(config.server.metricsHost, config.server.metricsPort, registry, notReady, log);
  const sweeper = setInterval(() => handler.sweep(), 1000);
  const stats = logStats(handler.totals, catalog, log);
  log.info('adx-ingestor serving', { config });

  let stopped: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (stopped ??= (async () => {
      shuttingDown = true;
      log.info('shutting down', { reason, inflight: handler.inflight });
      ingest.stopListening();
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      while (handler.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      clearInterval(sweeper);
      clearInterval(stats);
      // Senders keep idle keep-alive connections; without this the process lingers until uWS's idle timeout.
      ingest.closeAll();
      await pool.destroy();
      if (config.wal.fsync !== 'never') syncActiveSegments(catalog, log);
      await ops.close();
      log.info('stopped', { walBytes: catalog.bytes, segments: catalog.count });
    })());
  return { port: ingest.port, metricsPort: ops.port, shutdown };
}

/** Logs what happened in the last interval, so the logs alone show what the server is doing. */
function logStats(totals: RemoteWriteHandler['totals'], catalog: WalCatalog, log: Logger): NodeJS.Timeout {
  let last = { ...totals };
  const timer = setInterval(() => {
    const seconds = STATS_LOG_INTERVAL_MS / 1000;
    const d = { requests: totals.requests - last.requests, samples: totals.samples - last.samples, rejected: totals.rejected - last.rejected, bytes: totals.bytes - last.bytes };
    last = { ...totals };
    log.info('stats', {
      intervalSeconds: seconds,
      requests: d.requests,
      samplesPerSecond: Math.round(d.samples / seconds),
      receivedBytesPerSecond: Math.round(d.bytes / seconds),
      rejected: d.rejected,
      walBytes: catalog.bytes,
      walSegments: catalog.count,
      overLimit: catalog.overLimit(),
    });
  }, STATS_LOG_INTERVAL_MS);
  timer.unref();
  return timer;
}

/** Workers are gone; make what they appended durable before exit. */
function syncActiveSegments(catalog: WalCatalog, log: Logger): void {
  for (const s of catalog.segments()) {
    if (!s.active) continue;
    try {
      const fd = fs.openSync(s.path, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    } catch (e) {
      log.warn('fsync at shutdown failed', { path: s.path, error: e });
    }
  }
}
