/** Piscina entry point: one decode task per request body. The logic lives in src/ingest/decode-task.ts. */
export { decodeTask as default } from '../src/ingest/decode-task.js';
