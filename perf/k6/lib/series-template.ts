/**
 * Label templates for the xk6 remote-write extension that give the series set loadgen's shape:
 * `SERIES` distinct series over `METRICS` metric names, `LABELS` labels each besides `__name__`,
 * label names in loadgen's order (perf/lib/series-catalog.ts `LABEL_NAMES`).
 *
 * Series id `i` belongs to metric `i % metrics`; the first label carries `floor(i / metrics)`, so
 * (name, first label) is unique per series. The other labels take `i % labelValues`, at most
 * `labelValues` values each. The values are not loadgen's (a template substitutes one number
 * into a fixed string), only their number and rough lengths are; for byte-identical bodies use
 * remote-write-http.ts with bodies from prepare-bodies.
 */
import type { MetricTemplate } from 'k6/x/remotewrite';

/** Name, value before the number, value after it. Names in the order of series-catalog's LABEL_NAMES. */
const LABELS: ReadonlyArray<readonly [string, string, string]> = [
  ['instance', '10.0.', ':9100'],
  ['job', 'kubernetes-pods-', ''],
  ['namespace', 'team-', '-prod'],
  ['pod', 'api-7f9c6d8b5-', ''],
  ['container', 'app-', ''],
  ['node', 'aks-nodepool1-3141592-vmss', ''],
  ['service', 'svc-', ''],
  ['endpoint', 'http-metrics-', ''],
  ['cluster', 'cluster-', ''],
  ['region', 'region-', ''],
  ['zone', 'zone-', ''],
  ['method', 'M', ''],
  ['code', '', ''],
  ['handler', '/api/v1/h', ''],
  ['mode', 'mode-', ''],
  ['cpu', '', ''],
  ['device', 'sd', ''],
  ['image', 'registry.example/team/svc:v1.', ''],
  ['uid', '5c0e7d3a-9b1f-4d2e-', ''],
  ['version', 'v1.', ''],
];

export const MAX_LABELS = LABELS.length;

export interface SeriesShape {
  series: number;
  metrics: number;
  labels: number;
  labelValues: number;
}

export function seriesTemplate(shape: SeriesShape): MetricTemplate {
  if (shape.labels < 1 || shape.labels > MAX_LABELS) throw new Error(`LABELS must be 1..${MAX_LABELS}, got ${shape.labels}`);
  // `${series_id...}` is the extension's template syntax, not a JavaScript substitution.
  const id = (op: string) => '${series_id' + op + '}';
  const template: MetricTemplate = { __name__: 'loadgen_metric_' + id('%' + shape.metrics) + '_total' };
  for (let k = 0; k < shape.labels; k++) {
    const [name, before, after] = LABELS[k]!;
    template[name] = before + id(k === 0 ? '/' + shape.metrics : '%' + shape.labelValues) + after;
  }
  return template;
}

/**
 * The series ids of request `n` in the round-robin walk: `[start, end)`. A pass over the series
 * takes `ceil(series / samplesPerRequest)` requests, the last one shorter when they do not divide
 * (one request is one contiguous id range, so it cannot wrap as loadgen's do).
 */
export function seriesWindow(n: number, series: number, samplesPerRequest: number): { start: number; end: number } {
  const perRequest = Math.min(samplesPerRequest, series);
  const start = (n % Math.ceil(series / perRequest)) * perRequest;
  return { start, end: Math.min(start + perRequest, series) };
}
