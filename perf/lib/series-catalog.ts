/**
 * A deterministic, realistic set of Prometheus series for the load generator.
 *
 * Every series has `__name__` plus `labels` other labels, sorted by name (byte order, as
 * Prometheus sends them). Strings are interned once: a series is a row of string ids in
 * `refs` (name, value, name, value, ...), so encoders never touch JS strings per request.
 *
 * Uniqueness: series `i` belongs to metric `i % metrics`; `j = floor(i / metrics)` is written in
 * mixed radix over the highest-cardinality labels (the "key" labels), so no two series share a
 * label set. The remaining labels get seeded pseudo-random values, as real targets do.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Protobuf enum numbers of io.prometheus.write.v2.Metadata.MetricType. */
export const METRIC_TYPE_NUMBER = { counter: 1, gauge: 2, histogram: 3 } as const satisfies Record<MetricType, number>;

export interface SeriesCatalogOptions {
  /** Active series. Must not exceed the label-value combinations the options allow. */
  series: number;
  /** Distinct metric names (`__name__` values). */
  metrics: number;
  /** Labels per series besides `__name__`, at most `LABEL_NAMES.length`. */
  labels: number;
  /** Distinct values per label name (some names, like `le` or `method`, have fewer by nature). */
  labelValues: number;
  seed: number;
}

const METRIC_STEMS: ReadonlyArray<readonly [string, MetricType]> = [
  ['http_requests', 'counter'],
  ['node_cpu_seconds', 'counter'],
  ['container_memory_working_set_bytes', 'gauge'],
  ['http_request_duration_seconds', 'histogram'],
  ['process_resident_memory_bytes', 'gauge'],
  ['node_network_receive_bytes', 'counter'],
  ['apiserver_request', 'counter'],
  ['kube_pod_container_status_restarts', 'counter'],
  ['go_goroutines', 'gauge'],
  ['grpc_server_handling_seconds', 'histogram'],
  ['node_filesystem_avail_bytes', 'gauge'],
  ['container_cpu_usage_seconds', 'counter'],
];

/** Label names in the order they are assigned to series (`--labels 3` → instance, job, namespace). */
export const LABEL_NAMES = [
  'instance', 'job', 'namespace', 'pod', 'container', 'node', 'service', 'endpoint', 'cluster', 'region',
  'zone', 'method', 'code', 'handler', 'mode', 'cpu', 'device', 'image', 'uid', 'version',
] as const;

const FIXED_VALUES: Readonly<Record<string, readonly string[]>> = {
  le: ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'],
  method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'],
  code: ['200', '201', '204', '301', '304', '400', '401', '403', '404', '429', '500', '502', '503'],
  mode: ['idle', 'user', 'system', 'iowait', 'irq', 'softirq', 'steal', 'nice'],
  region: ['westeurope', 'northeurope', 'eastus', 'eastus2', 'westus2', 'centralus', 'uksouth', 'japaneast'],
};

/** Small seeded PRNG (mulberry32): uint32 per call. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';

function token(rng: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALNUM[rng() % ALNUM.length];
  return s;
}

function labelValuesFor(name: string, count: number, rng: () => number): string[] {
  const fixed = FIXED_VALUES[name];
  if (fixed) return fixed.slice(0, Math.max(1, Math.min(count, fixed.length)));
  const out = new Set<string>();
  while (out.size < count) {
    const k = out.size;
    switch (name) {
      case 'instance': out.add(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}:${[9100, 8080, 9090][k % 3]}`); break;
      case 'pod': out.add(`${['api', 'web', 'worker', 'ingest', 'query'][k % 5]}-${token(rng, 10)}-${token(rng, 5)}`); break;
      case 'cpu': out.add(String(k)); break;
      case 'uid': out.add(`${token(rng, 8)}-${token(rng, 4)}-${token(rng, 4)}-${token(rng, 12)}`); break;
      case 'image': out.add(`registry.example/team-${k % 17}/svc-${k}:v1.${k % 40}.${k % 7}`); break;
      default: out.add(`${name}-${k}-${token(rng, 4)}`);
    }
  }
  return [...out];
}

export class SeriesCatalog {
  /** Interned strings; ids index this array. Never contains "". */
  readonly strings: string[] = [];
  /** Label pairs per series; `pairsPerSeries` pairs each, sorted by name. */
  readonly refs: Uint32Array;
  readonly pairsPerSeries: number;
  /** Metric index of each series. */
  readonly seriesMetric: Uint32Array;
  readonly metricTypes: MetricType[] = [];
  /** String id of each metric's HELP text. */
  readonly metricHelp: Uint32Array;
  readonly series: number;
  readonly #ids = new Map<string, number>();

  constructor(opts: SeriesCatalogOptions) {
    validate(opts);
    const rng = mulberry32(opts.seed);
    this.series = opts.series;
    this.pairsPerSeries = opts.labels + 1;
    this.seriesMetric = new Uint32Array(opts.series);
    this.metricHelp = new Uint32Array(opts.metrics);
    this.refs = new Uint32Array(opts.series * this.pairsPerSeries * 2);

    const metricNames: number[] = [];
    for (let m = 0; m < opts.metrics; m++) {
      const [stem, type] = METRIC_STEMS[m % METRIC_STEMS.length]!;
      const gen = Math.floor(m / METRIC_STEMS.length);
      const base = gen === 0 ? stem : `${stem}_${gen}`;
      const suffix = type === 'counter' ? '_total' : type === 'histogram' ? '_bucket' : '';
      metricNames.push(this.intern(base + suffix));
      this.metricTypes.push(type);
      this.metricHelp[m] = this.intern(`${base.replace(/_/g, ' ')} (${type}, generated by adx-ingestor loadgen)`);
    }

    // Histogram series carry `le` in place of the last regular label.
    const plain = LABEL_NAMES.slice(0, opts.labels) as string[];
    const hist = opts.labels > 0 ? [...plain.slice(0, -1), 'le'] : plain;
    const values = new Map<string, number[]>();
    for (const name of new Set([...plain, ...hist])) {
      values.set(name, labelValuesFor(name, opts.labelValues, rng).map((v) => this.intern(v)));
    }
    const nameRef = this.intern('__name__');
    const perMetric = Math.ceil(opts.series / opts.metrics);
    const layouts = [plain, hist].map((names) => layoutOf(names, values, perMetric, this));

    const row: Array<[string, number, number]> = [];
    for (let i = 0; i < opts.series; i++) {
      const m = i % opts.metrics;
      this.seriesMetric[i] = m;
      const layout = layouts[this.metricTypes[m] === 'histogram' ? 1 : 0]!;
      const target = Math.floor(i / opts.metrics);
      let j = target;
      row.length = 0;
      row.push(['__name__', nameRef, metricNames[m]!]);
      for (const k of layout.keyOrder) {
        const vals = values.get(layout.names[k]!)!;
        row.push([layout.names[k]!, layout.nameIds[k]!, vals[j % vals.length]!]);
        j = Math.floor(j / vals.length);
      }
      for (const k of layout.freeOrder) {
        const vals = values.get(layout.names[k]!)!;
        row.push([layout.names[k]!, layout.nameIds[k]!, vals[hash3(opts.seed, target, k) % vals.length]!]);
      }
      row.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      let o = i * this.pairsPerSeries * 2;
      for (const [, n, v] of row) {
        this.refs[o++] = n;
        this.refs[o++] = v;
      }
    }
  }

  intern(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.#ids.set(s, id);
    }
    return id;
  }
}

interface Layout {
  names: string[];
  nameIds: number[];
  /** Label indexes carrying the mixed-radix digits that make series unique, most distinct first. */
  keyOrder: number[];
  freeOrder: number[];
}

function layoutOf(names: string[], values: Map<string, number[]>, needed: number, cat: SeriesCatalog): Layout {
  const order = names.map((_, k) => k).sort((a, b) => values.get(names[b]!)!.length - values.get(names[a]!)!.length);
  let capacity = 1;
  let keys = 0;
  while (capacity < needed && keys < order.length) capacity *= values.get(names[order[keys++]!]!)!.length;
  return {
    names,
    nameIds: names.map((n) => cat.intern(n)),
    keyOrder: order.slice(0, keys),
    freeOrder: order.slice(keys),
  };
}

function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35) ^ Math.imul(c + 1, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function validate(o: SeriesCatalogOptions): void {
  const posInt = (n: number) => Number.isInteger(n) && n > 0;
  if (!posInt(o.series)) throw new RangeError(`series must be a positive integer, got ${o.series}`);
  if (!posInt(o.metrics)) throw new RangeError(`metrics must be a positive integer, got ${o.metrics}`);
  if (!posInt(o.labelValues)) throw new RangeError(`labelValues must be a positive integer, got ${o.labelValues}`);
  if (!Number.isInteger(o.labels) || o.labels < 0 || o.labels > LABEL_NAMES.length) {
    throw new RangeError(`labels must be 0..${LABEL_NAMES.length}, got ${o.labels}`);
  }
  // Capacity of the histogram layout is the smaller one (`le` has few values).
  const card = (n: string) => Math.max(1, Math.min(o.labelValues, FIXED_VALUES[n]?.length ?? o.labelValues));
  const names = LABEL_NAMES.slice(0, o.labels) as string[];
  const cap = (ns: string[]) => ns.reduce((c, n) => c * card(n), 1);
  const withHist = o.metrics >= 4; // the 4th stem is the first histogram
  const perMetric = Math.min(cap(names), withHist && o.labels > 0 ? cap([...names.slice(0, -1), 'le']) : Infinity);
  if (Math.ceil(o.series / o.metrics) > perMetric) {
    throw new RangeError(
      `${o.series} series do not fit: at most ${perMetric} distinct label sets per metric with ` +
        `labels=${o.labels} labelValues=${o.labelValues}; raise --labels, --label-values or --metrics`,
    );
  }
}
