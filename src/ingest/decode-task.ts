/**
 * The worker side of decoding: snappy → protobuf → rows → WAL. Runs only in decode workers
 * (workers/decode-worker.ts); the main thread never imports it.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import xxhash from 'xxhash-wasm';
import { errorCodeOf } from '../errors.js';
import { decodeWriteRequestV1 } from '../prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../prom/remote-write-v2.js';
import { ByteOutPool } from '../transform/csv-bytes.js';
import { MetricsCsvWriter, type TableBytes } from '../transform/metrics-csv-writer.js';
import { loadNativeHotPath, selectHotPath, walNativeCalls } from '../transform/native-hot-path.js';
import { ArrivalGaps } from '../wal/arrival-gaps.js';
import { WalWriter, type PendingRows } from '../wal/wal-writer.js';
import { BodyDecompressor } from './body-decompressor.js';
import type { DecodeResult, DecodeTask, DecodeWorkerData, WorkerWalMessage } from './task-types.js';

const data = workerData as DecodeWorkerData;
const hasher = await xxhash();
const buffers = new ByteOutPool();
// The main thread checked at start-up that `--hot-path native` loads (src/main.ts).
const hotPath = selectHotPath(data.config.transform.hotPath);
const native = hotPath instanceof Error ? undefined : hotPath;
const builder = new MetricsCsvWriter(data.config.transform, hasher, data.config.transform.seriesCacheBytes, buffers, native);
// The WAL writer uses the addon (writeback, cache drops, block compression) whatever --hot-path
// says; main.ts warns when it cannot load.
const addon = loadNativeHotPath();
// Request bodies decode into one reused buffer with the addon (whatever --hot-path says).
const bodies = new BodyDecompressor(addon instanceof Error ? undefined : addon, data.config.server.maxDecompressedBytes);
const writer = new WalWriter(
  data.config.wal,
  threadId,
  builder.schema.headerLine,
  (delta) => parentPort?.postMessage({ type: 'wal-delta', delta } satisfies WorkerWalMessage),
  addon instanceof Error ? {} : walNativeCalls(addon),
);
// Native rows stay in the addon until the flush frames them, one block per table (see
// MetricsCsvWriter.keepRowsInNative); only TypeScript-path rows travel as pieces.
if (builder.keepRowsInNative()) writer.holdBlocksFrom(builder);

/** Decides whether a flush waits out --group-commit-delay for the requests after it. */
const arrivals = new ArrivalGaps();

/** Series cache counters already reported, so each result carries only its own lookups. */
let reportedHits = 0;
let reportedMisses = 0;
let reportedPreparedInC = 0;
/** Tasks this worker holds (decoding, or waiting for their flush). */
let active = 0;

export async function decodeTask(task: DecodeTask): Promise<DecodeResult> {
  active++;
  try {
    const body = Buffer.from(task.buffer ?? data.ring, task.offset, task.length);
    // Valid until the next task's decompress: rows are made from it before anything is awaited.
    const raw = bodies.decompress(body);
    builder.reset();
    if (task.protocol === 'v2') {
      if (!builder.encodeV2(raw)) decodeWriteRequestV2(raw, builder);
    } else if (!builder.encodeV1(raw)) decodeWriteRequestV1(raw, builder);
    const cache = builder.cacheStats();
    const result = {
      samples: builder.samples,
      histograms: builder.histograms,
      exemplars: builder.exemplars,
      rows: builder.rows,
      droppedSeries: builder.droppedSeries,
      seriesCacheHits: cache.hits - reportedHits,
      seriesCacheMisses: cache.misses - reportedMisses,
      seriesPreparedInC: cache.preparedInC - reportedPreparedInC,
    };
    reportedHits = cache.hits;
    reportedMisses = cache.misses;
    reportedPreparedInC = cache.preparedInC;
    // Wait for company only when other requests are in flight and have lately come closer
    // together than the delay (arrivals are noted either way), and never when this worker holds
    // all the tasks the pool gives it: then no other request can reach it before the flush, and
    // waiting out the delay would leave it idle (at saturation that cost 5-10 % of throughput).
    const soon = arrivals.next(performance.now(), data.config.wal.groupCommitDelayMs);
    const full = active >= data.tasksPerWorker;
    await writer.write(pendingRows(builder.tables()), task.company && soon && !full);
    return { ok: true, ...result, wal: writer.takeDelta() };
  } catch (e) {
    const code = errorCodeOf(e);
    const message = code === 'internal' ? `internal error: ${(e as Error)?.stack ?? String(e)}` : (e as Error).message;
    return { ok: false, code, message, wal: writer.takeDelta() };
  } finally {
    active--;
  }
}

/** The builder's tables as WAL rows; each table's buffer returns to the pool after its flush. */
function* pendingRows(tables: Iterable<TableBytes>): Generator<PendingRows> {
  for (const t of tables) {
    const out = t.out;
    yield { prefix: t.prefix, rows: t.rows, block: out.buf.subarray(0, out.len), done: () => buffers.release(out) };
  }
}
