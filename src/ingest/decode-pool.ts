import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Config } from '../config/config.js';
import type { DecodeResult, DecodeTask, DecodeWorkerData, WorkerLoadedMessage, WorkerWalMessage } from './task-types.js';

/**
 * Tasks one worker holds at once. More than one lets requests that arrive together share a WAL
 * flush (group commit) while a worker waits on fsync.
 */
const TASKS_PER_WORKER = 8;

/** How long `destroy` waits for workers still loading their task module. */
const LOAD_WAIT_MS = 10_000;

/** The compiled worker; when running from TypeScript sources (tests), the build in dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const compiled = fileURLToPath(new URL('../../workers/decode-worker.js', import.meta.url));
  if (here.endsWith('.js') && existsSync(compiled)) return compiled;
  return fileURLToPath(new URL('../../dist/workers/decode-worker.js', import.meta.url));
}

export class DecodePool {
  readonly #pool: Piscina<DecodeTask, DecodeResult>;
  /** Worker threads (--workers). */
  readonly threads: number;
  /** Thread ids of the workers whose task module has loaded. */
  readonly #loaded = new Set<number>();
  /** Settles once the first `threads` workers have all loaded their task module. */
  readonly allLoaded: Promise<void>;

  /** `onError` hears worker failures outside a task (the pool replaces the worker). */
  constructor(config: Config, ring: SharedArrayBuffer, onWalMessage: (m: WorkerWalMessage) => void, onError: (err: unknown) => void) {
    const workerData: DecodeWorkerData = { config, ring, tasksPerWorker: TASKS_PER_WORKER };
    this.threads = config.workers;
    this.#pool = new Piscina({
      filename: workerFile(),
      minThreads: config.workers,
      maxThreads: config.workers,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      // Workers keep timers (segment age rotation, flush scheduling): never block them in Atomics.wait.
      atomics: 'disabled',
      // First come, first served. By default piscina sends a queued task it could not hand to a
      // busy worker to the back of the queue, and with workers full (TASKS_PER_WORKER each) that
      // happens on every task completion: the second task in line went to the back each time,
      // and at saturation some requests waited 0.3–1.9 s while the rest took 50 ms (and held
      // the ingest ring, which frees in order, until it filled: 503s).
      stricterFIFO: true,
      // Longer than --max-inflight-requests, which the handler enforces first: never overflows.
      maxQueue: config.server.maxInflightRequests + 1,
      workerData,
    });
    let loaded = () => {};
    this.allLoaded = new Promise((resolve) => (loaded = resolve));
    this.#pool.on('message', (m: WorkerWalMessage | WorkerLoadedMessage) => {
      if (m?.type === 'wal-delta') onWalMessage(m);
      else if (m?.type === 'worker-loaded') {
        this.#loaded.add(m.threadId);
        if (this.loadingWorkers === 0) loaded();
      }
    });
    // An 'error' event without a listener would take the whole process down.
    this.#pool.on('error', onError);
  }

  run(task: DecodeTask): Promise<DecodeResult> {
    return this.#pool.run(task);
  }

  get queueSize(): number {
    return this.#pool.queueSize;
  }

  /** Workers started so far whose task module has loaded. */
  get loadedWorkers(): number {
    return this.#loaded.size;
  }

  /**
   * Of the `threads` workers, how many cannot take a task yet: still loading their task module
   * (at start-up, or a replacement for one that died), or not yet started.
   */
  get loadingWorkers(): number {
    return this.threads - this.#liveLoaded();
  }

  /** Live worker threads whose task module has loaded. */
  #liveLoaded(): number {
    return this.#pool.threads.filter((w) => this.#loaded.has(w.threadId)).length;
  }

  /**
   * Waits (up to `LOAD_WAIT_MS`) until every live worker has loaded its task module, then ends them.
   * Piscina loads the module with a synchronous `require`, which on Node 20 loads ES modules
   * through `require(esm)`; a worker terminated in the middle of that aborts the whole process
   * (V8: "Module::IsGraphAsync must be used on an instantiated module", SIGABRT). Seen on a
   * SIGTERM that came while the second worker was still loading, about 1 in 150 shutdowns
   * right after start-up on a loaded machine.
   */
  async destroy(): Promise<void> {
    const deadline = Date.now() + LOAD_WAIT_MS;
    // Only the live threads: one not started yet cannot be caught mid-load.
    const loading = () => this.#liveLoaded() < this.#pool.threads.length;
    while (loading() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#pool.destroy();
  }
}
