/**
 * Messages between the main thread and the decode workers. The worker imports only types from
 * here; keep it free of runtime code that touches main-thread state.
 */
import type { Config } from '../config/config.js';
import type { IngestErrorCode } from '../errors.js';
import type { WalDelta } from '../wal/wal-writer.js';

export type RemoteWriteProtocol = 'v1' | 'v2';

/** `workerData` of every decode worker. */
export interface DecodeWorkerData {
  readonly config: Config;
  /** The ingest ring; request bodies are read from it in place. */
  readonly ring: SharedArrayBuffer;
  /** Tasks the pool hands one worker at once: with that many waiting on a flush, no more can come. */
  readonly tasksPerWorker: number;
}

/** One request body: `[offset, offset + length)` of the ring, or of `buffer` for a large body. */
export interface DecodeTask {
  readonly offset: number;
  readonly length: number;
  readonly protocol: RemoteWriteProtocol;
  /** A large body's own shared buffer (shared with the worker, not copied). */
  readonly buffer?: SharedArrayBuffer;
  /**
   * More requests were in flight than there are workers when this one was dispatched. When
   * false, no other request can share this one's WAL flush (a sender that waits for each answer,
   * like a Prometheus shard, has one in flight), so the worker writes it without waiting out
   * --group-commit-delay.
   */
  readonly company: boolean;
}

export type DecodeResult =
  | {
      readonly ok: true;
      readonly samples: number;
      readonly histograms: number;
      readonly exemplars: number;
      readonly rows: number;
      readonly droppedSeries: number;
      /** Series cache lookups since the worker's previous result. */
      readonly seriesCacheHits: number;
      readonly seriesCacheMisses: number;
      /** Of those misses, the series C prepared itself (the rest were prepared in TypeScript). */
      readonly seriesPreparedInC: number;
      readonly wal: WalDelta;
    }
  | {
      readonly ok: false;
      readonly code: IngestErrorCode;
      readonly message: string;
      readonly wal: WalDelta;
    };

/** Sent by a worker on its own (not as a task result): accounting for idle-time rotations. */
export interface WorkerWalMessage {
  readonly type: 'wal-delta';
  readonly delta: WalDelta;
}

/** Sent once by a worker when its task module has loaded (see `DecodePool.destroy`). */
export interface WorkerLoadedMessage {
  readonly type: 'worker-loaded';
  readonly threadId: number;
}
