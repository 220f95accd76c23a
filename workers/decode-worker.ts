/** Piscina entry point: one decode task per request body. The logic lives in src/ingest/decode-task.ts. */
import { parentPort, threadId } from 'node:worker_threads';
import type { WorkerLoadedMessage } from '../src/ingest/task-types.js';

export { decodeTask as default } from '../src/ingest/decode-task.js';

// Runs after every module this worker imports has been evaluated: from here on the pool may
// terminate the worker safely (see DecodePool.destroy).
parentPort?.postMessage({ type: 'worker-loaded', threadId } satisfies WorkerLoadedMessage);
