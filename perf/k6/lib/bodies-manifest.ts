/**
 * `manifest.json` of a bodies directory: written by prepare-bodies.ts (Node), read by
 * remote-write-http.ts (k6). Types only, so both runtimes can import it.
 */
export interface BodiesManifest {
  /** Remote write 1.0 or 2.0: decides the headers the bodies are sent with. */
  protocol: 1 | 2;
  series: number;
  metrics: number;
  labels: number;
  labelValues: number;
  samplesPerRequest: number;
  seed: number;
  metadata: boolean;
  /** Timestamp (ms) of every sample in the first body; body i has `firstTimestampMs + i`. */
  firstTimestampMs: number;
  /** In loadgen's order: together they walk the series round-robin. `file` is relative to the directory. */
  bodies: Array<{ file: string; samples: number; bytes: number }>;
}

export const MANIFEST_FILE = 'manifest.json';
