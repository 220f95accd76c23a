/**
 * Remote write 1.0 through the xk6 extension `k6/x/remotewrite`: each iteration is one request of
 * SAMPLES_PER_REQUEST series (one sample each) generated in Go from label templates, walking the
 * SERIES series round-robin as loadgen does.
 *
 *   ./k6-rw run -e RATE=1.5M perf/k6/remote-write-xk6.ts
 *
 * Load shape from the environment: perf/k6/lib/load-shape.ts, perf/k6/README.md.
 */
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import remote from 'k6/x/remotewrite';
import { SAMPLES_ACKED, loadShape, options as optionsFor } from './lib/load-shape.ts';
import { seriesTemplate, seriesWindow } from './lib/series-template.ts';

const shape = loadShape();
export const options = optionsFor(shape);

const client = new remote.Client({ url: shape.url, timeout: shape.timeout });
const template = remote.precompileLabelTemplates(seriesTemplate(shape));
const samplesAcked = new Counter(SAMPLES_ACKED);

export default function (): void {
  const { start, end } = seriesWindow(exec.scenario.iterationInTest, shape.series, shape.samplesPerRequest);
  const res = client.storeFromPrecompiledTemplates(0, 1000, Date.now(), start, end, template);
  check(res, { 'status is 204': (r) => r.status === 204 });
  if (res.status >= 200 && res.status < 300) samplesAcked.add(end - start);
}
