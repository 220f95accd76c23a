/**
 * Reading the Prometheus text exposition the harness scrapes from receivers and senders
 * (`/metrics` of the ingestor, VictoriaMetrics, Prometheus, vmagent), and quantiles from the two
 * histogram flavours found there:
 *
 * - Prometheus: cumulative `<name>_bucket{le="0.005"}` … `{le="+Inf"}`;
 * - VictoriaMetrics (`vmagent_*`, `vm_*`): non-cumulative `<name>_bucket{vmrange="1.000e-03...1.136e-03"}`.
 *
 * Only what the harness needs: `# HELP` / `# TYPE` lines are skipped, exemplars are not expected.
 */

export interface MetricSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** One histogram bucket with its own (non-cumulative) count of observations in (lower, upper]. */
export interface Bucket {
  lower: number;
  upper: number;
  count: number;
}

export class PromTextError extends Error {
  override readonly name = 'PromTextError';
  readonly code = 'PROM_TEXT_SYNTAX';
}

function parseValue(token: string): number {
  if (token === '+Inf' || token === 'Inf') return Infinity;
  if (token === '-Inf') return -Infinity;
  // prom-client writes NaN as "Nan" (e.g. nodejs_eventloop_lag_mean_seconds when two scrapes come
  // within the event-loop monitor's 10 ms resolution).
  if (token === 'NaN' || token === 'Nan') return NaN;
  const v = Number(token);
  if (token === '' || Number.isNaN(v)) throw new PromTextError(`not a sample value: ${token}`);
  return v;
}

/** Parses `{a="x", b="y"}` starting at `line[i] === '{'`; returns the labels and the index after `}`. */
function parseLabels(line: string, i: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new PromTextError(`bad label set: ${line}`);
    const key = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] !== '\\') {
        value += line[j];
        continue;
      }
      const e = line[++j];
      value += e === 'n' ? '\n' : (e ?? '');
    }
    if (j >= line.length) throw new PromTextError(`unterminated label value: ${line}`);
    labels[key] = value;
    i = j + 1;
  }
}

/** Every sample line of a text exposition, in order. */
export function parsePromText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line[0] === '#') continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      const [parsed, after] = parseLabels(line, brace);
      labels = parsed;
      rest = line.slice(after).trim();
    } else {
      if (space < 0) throw new PromTextError(`no value: ${line}`);
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    // An optional timestamp may follow the value.
    out.push({ name, labels, value: parseValue(rest.split(/\s+/)[0]!) });
  }
  return out;
}

export type LabelMatch = (labels: Readonly<Record<string, string>>) => boolean;

/** Sum of a metric over its series (those `match` accepts); undefined when no series is exposed. */
export function trySum(samples: readonly MetricSample[], name: string, match?: LabelMatch): number | undefined {
  let sum: number | undefined;
  for (const s of samples) {
    if (s.name !== name || (match !== undefined && !match(s.labels))) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}

/** Sum of a metric over its series; 0 when it is not exposed (counters that appear on first use). */
export function sumOrZero(samples: readonly MetricSample[], name: string, match?: LabelMatch): number {
  return trySum(samples, name, match) ?? 0;
}

/**
 * The buckets of histogram `name` (without `_bucket`), summed over the label sets `match` accepts
 * (all by default) with the same bounds, sorted by upper bound. Reads `le` (cumulative) or `vmrange` (per range) buckets.
 */
export function histogramBuckets(samples: readonly MetricSample[], name: string, match?: LabelMatch): Bucket[] {
  const cumulative = new Map<number, number>();
  const ranges = new Map<string, Bucket>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || (match !== undefined && !match(s.labels))) continue;
    const le = s.labels.le;
    const vmrange = s.labels.vmrange;
    if (le !== undefined) {
      const upper = parseValue(le);
      cumulative.set(upper, (cumulative.get(upper) ?? 0) + s.value);
    } else if (vmrange !== undefined) {
      const [lo, hi] = vmrange.split('...');
      const b = ranges.get(vmrange) ?? { lower: parseValue(lo!), upper: parseValue(hi ?? ''), count: 0 };
      b.count += s.value;
      ranges.set(vmrange, b);
    }
  }
  if (cumulative.size > 0) {
    const bounds = [...cumulative.keys()].sort((a, b) => a - b);
    let prevUpper = 0;
    let prevCount = 0;
    return bounds.map((upper) => {
      const cum = cumulative.get(upper)!;
      const b = { lower: prevUpper, upper, count: cum - prevCount };
      prevUpper = upper;
      prevCount = cum;
      return b;
    });
  }
  return [...ranges.values()].sort((a, b) => a.upper - b.upper);
}

/** Observations between two readings of the same histogram: `after - before`, bucket by bucket. */
export function bucketDelta(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  const key = (b: Bucket) => `${b.lower}/${b.upper}`;
  const old = new Map(before.map((b) => [key(b), b.count]));
  return after.map((b) => ({ ...b, count: Math.max(0, b.count - (old.get(key(b)) ?? 0)) }));
}

/**
 * The q-quantile (0..1) of the observations in `buckets`, interpolated linearly inside the bucket
 * it falls in (as PromQL's `histogram_quantile`); the lower bound when that bucket is open-ended;
 * undefined when there are no observations.
 */
export function tryQuantile(buckets: readonly Bucket[], q: number): number | undefined {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  if (total <= 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (const b of buckets) {
    if (b.count <= 0) continue;
    if (seen + b.count >= rank) {
      if (!Number.isFinite(b.upper)) return b.lower;
      return b.lower + (b.upper - b.lower) * ((rank - seen) / b.count);
    }
    seen += b.count;
  }
  return buckets[buckets.length - 1]!.lower;
}
