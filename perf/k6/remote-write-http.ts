/**
 * Remote write 1.0 or 2.0 with plain k6 HTTP: posts bodies pre-built by prepare-bodies (loadgen's
 * RequestBuilder, snappy-compressed) round-robin, one per iteration, with the headers of their
 * protocol. No extension needed.
 *
 *   node dist/perf/k6/prepare-bodies.js --protocol 2 --out /tmp/rw2-bodies
 *   k6 run -e BODIES=/tmp/rw2-bodies -e RATE=1.5M perf/k6/remote-write-http.ts
 *
 * The bodies are sent as built: every repetition carries the timestamps they were built with.
 * Load shape from the environment: perf/k6/lib/load-shape.ts, perf/k6/README.md.
 */
import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { MANIFEST_FILE, type BodiesManifest } from './lib/bodies-manifest.ts';
import { SAMPLES_ACKED, loadShape, options as optionsFor } from './lib/load-shape.ts';
import { REMOTE_WRITE_HEADERS } from './lib/remote-write-headers.ts';

// Init context: every VU reads the manifest and holds its own copy of every body.
const dir = __ENV.BODIES ?? fail('BODIES: set it to a directory written by prepare-bodies (an absolute path)');
const manifest = JSON.parse(open(`${dir}/${MANIFEST_FILE}`)) as BodiesManifest;
if (manifest.protocol !== 1 && manifest.protocol !== 2) fail(`${dir}/${MANIFEST_FILE}: protocol must be 1 or 2`);
const bodies = manifest.bodies.map((b) => ({ data: open(`${dir}/${b.file}`, 'b'), samples: b.samples }));
if (bodies.length === 0) fail(`${dir}/${MANIFEST_FILE}: no bodies`);

// The series shape is the bodies'; RATE (samples/s) becomes requests/s by their samples per request.
const shape = { ...loadShape(), samplesPerRequest: manifest.samplesPerRequest };
export const options = optionsFor(shape);
const params = { headers: { ...REMOTE_WRITE_HEADERS[manifest.protocol], 'User-Agent': 'adx-ingestor-k6/0.1' }, timeout: shape.timeout };
const samplesAcked = new Counter(SAMPLES_ACKED);

export default function (): void {
  const body = bodies[exec.scenario.iterationInTest % bodies.length]!;
  const res = http.post(shape.url, body.data, params);
  check(res, { 'status is 204': (r) => r.status === 204 });
  if (res.status >= 200 && res.status < 300) samplesAcked.add(body.samples);
}
