import protobuf from 'protobufjs';
import snappy from 'snappy';
import t from 'tap';
import { RequestBuilder, type Protocol, type RequestBuilderOptions } from '../../perf/lib/request-builder.js';

// The schemas as published by Prometheus (prompb/types.proto, prompb/io/prometheus/write/v2/types.proto),
// trimmed to the fields the load generator writes.
const root = protobuf.parse(`
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`).root;
protobuf.parse(
  `
syntax = "proto3";
package io.prometheus.write.v2;
message Request { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
message TimeSeries {
  repeated uint32 labels_refs = 1;
  repeated Sample samples = 2;
  Metadata metadata = 5;
  int64 created_timestamp = 6;
}
message Sample { double value = 1; int64 timestamp = 2; }
message Metadata { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4;
  enum MetricType { METRIC_TYPE_UNSPECIFIED = 0; METRIC_TYPE_COUNTER = 1; METRIC_TYPE_GAUGE = 2; METRIC_TYPE_HISTOGRAM = 3; } }
`,
  root,
);
const V1 = root.lookupType('prometheus.WriteRequest');
const V2 = root.lookupType('io.prometheus.write.v2.Request');

interface Series {
  labels: Array<[string, string]>;
  value: number;
  timestamp: number;
  metricType?: number;
  help?: string;
}

/** Decodes a built request (from its snappy body, which must equal `raw`) into plain series. */
function decode(protocol: Protocol, built: { body: Buffer; raw: Uint8Array }): { series: Series[]; symbols?: string[] } {
  const raw = snappy.uncompressSync(built.body) as Buffer;
  if (!raw.equals(Buffer.from(built.raw))) throw new Error('snappy body does not match raw');
  const opts = { longs: Number, enums: Number, defaults: true, arrays: true };
  if (protocol === 1) {
    const msg = V1.toObject(V1.decode(raw), opts) as {
      timeseries: Array<{ labels: Array<{ name: string; value: string }>; samples: Array<{ value: number; timestamp: number }> }>;
    };
    return {
      series: msg.timeseries.map((ts) => {
        if (ts.samples.length !== 1) throw new Error(`expected one sample, got ${ts.samples.length}`);
        return { labels: ts.labels.map((l) => [l.name, l.value]), value: ts.samples[0]!.value, timestamp: ts.samples[0]!.timestamp };
      }),
    };
  }
  const msg = V2.toObject(V2.decode(raw), opts) as {
    symbols: string[];
    timeseries: Array<{
      labelsRefs: number[];
      samples: Array<{ value: number; timestamp: number }>;
      metadata: { type: number; helpRef: number };
    }>;
  };
  const sym = (ref: number) => {
    if (ref >= msg.symbols.length) throw new Error(`ref ${ref} out of range`);
    return msg.symbols[ref]!;
  };
  return {
    symbols: msg.symbols,
    series: msg.timeseries.map((ts) => {
      if (ts.samples.length !== 1) throw new Error(`expected one sample, got ${ts.samples.length}`);
      if (ts.labelsRefs.length % 2 !== 0) throw new Error('odd labels_refs');
      const labels: Array<[string, string]> = [];
      for (let i = 0; i < ts.labelsRefs.length; i += 2) labels.push([sym(ts.labelsRefs[i]!), sym(ts.labelsRefs[i + 1]!)]);
      return {
        labels,
        value: ts.samples[0]!.value,
        timestamp: ts.samples[0]!.timestamp,
        metricType: ts.metadata.type,
        help: sym(ts.metadata.helpRef),
      };
    }),
  };
}

const key = (s: Series) => s.labels.map(([n, v]) => `${n}=${v}`).join(',');

const small: Omit<RequestBuilderOptions, 'protocol'> = {
  series: 1000,
  metrics: 20,
  labels: 6,
  labelValues: 50,
  samplesPerRequest: 100,
  seed: 7,
};

for (const protocol of [1, 2] as const) {
  t.test(`v${protocol}: labels, order, sample count, fresh timestamps`, async (t) => {
    const b = new RequestBuilder({ ...small, protocol });
    const before = Date.now();
    const built = b.next();
    const after = Date.now();
    t.equal(built.samples, 100);
    const { series, symbols } = decode(protocol, built);
    t.equal(series.length, 100, 'one series entry per sample');
    for (const s of series) {
      t.equal(s.labels.length, small.labels + 1, 'labels per series');
      t.equal(s.labels[0]![0], '__name__', '__name__ sorts first');
      t.match(s.labels[0]![1], /^[a-z_0-9]+$/);
      for (let i = 1; i < s.labels.length; i++) {
        if (!(s.labels[i - 1]![0] < s.labels[i]![0])) t.fail(`labels not sorted: ${key(s)}`);
      }
      for (const [n, v] of s.labels) if (n === '' || v === '') t.fail(`empty label in ${key(s)}`);
      t.ok(s.timestamp >= before && s.timestamp <= after, 'timestamp taken at build time');
      t.ok(Number.isFinite(s.value) && s.value > 0, 'value');
    }
    t.equal(new Set(series.map(key)).size, 100, 'distinct series in a request');
    if (protocol === 2) {
      t.equal(symbols![0], '', 'symbols[0] is the empty string');
      t.equal(new Set(symbols).size, symbols!.length, 'symbols are de-duplicated');
      for (const s of series) {
        t.ok([1, 2, 3].includes(s.metricType!), 'metadata type');
        t.match(s.help!, /generated by adx-ingestor loadgen/);
        t.equal(s.metricType === 1, s.labels[0]![1].endsWith('_total'), 'counters are *_total');
      }
    }
    t.end();
  });

  t.test(`v${protocol}: round-robin walk, counters grow, wrap-around`, async (t) => {
    const b = new RequestBuilder({ ...small, series: 250, protocol });
    const rounds = [0, 1, 2, 3, 4].map(() => decode(protocol, b.next()).series);
    t.same(rounds.map((r) => r.length), [100, 100, 100, 100, 100]);
    const firstLap = [...rounds[0]!, ...rounds[1]!, ...rounds[2]!.slice(0, 50)];
    t.equal(new Set(firstLap.map(key)).size, 250, 'every series once per lap');
    t.same(rounds[2]!.slice(50).map(key), rounds[0]!.slice(0, 50).map(key), 'the walk wraps to series 0');
    const secondLap = [...rounds[2]!.slice(50), ...rounds[3]!, ...rounds[4]!];
    for (let i = 0; i < 250; i++) {
      t.equal(key(secondLap[i]!), key(firstLap[i]!));
      if (secondLap[i]!.labels[0]![1].endsWith('_total') && !(secondLap[i]!.value >= firstLap[i]!.value)) {
        t.fail(`counter went down: ${key(firstLap[i]!)}`);
      }
    }
    t.end();
  });

  t.test(`v${protocol}: templates produce the same bytes as fresh encoding`, async (t) => {
    let clock = 1_700_000_000_000;
    const now = () => clock;
    const cached = new RequestBuilder({ ...small, protocol, now });
    const fresh = new RequestBuilder({ ...small, protocol, now, templateBudgetBytes: 0 });
    for (let i = 0; i < 25; i++) {
      clock += 15_000;
      const a = cached.next();
      const b = fresh.next();
      if (!Buffer.from(a.raw).equals(Buffer.from(b.raw))) t.fail(`request ${i} differs`);
      t.same(snappy.uncompressSync(a.body), snappy.uncompressSync(b.body));
    }
    const last = decode(protocol, cached.next());
    t.ok(last.series.every((s) => s.timestamp === clock), 'patched timestamps');
    t.end();
  });

  t.test(`v${protocol}: reproducible per seed`, async (t) => {
    const now = () => 1_700_000_000_000;
    const a = new RequestBuilder({ ...small, protocol, now }).next();
    const b = new RequestBuilder({ ...small, protocol, now }).next();
    const c = new RequestBuilder({ ...small, protocol, now, seed: 8 }).next();
    t.ok(Buffer.from(a.raw).equals(Buffer.from(b.raw)), 'same seed, same body');
    t.notOk(Buffer.from(a.raw).equals(Buffer.from(c.raw)), 'other seed, other body');
    t.end();
  });
}

t.test('v1 and v2 carry the same series for the same seed', async (t) => {
  const v1 = decode(1, new RequestBuilder({ ...small, protocol: 1 }).next()).series;
  const v2 = decode(2, new RequestBuilder({ ...small, protocol: 2 }).next()).series;
  t.same(v2.map(key), v1.map(key));
  t.end();
});

t.test('samplesPerRequest above series sends each series once', async (t) => {
  const b = new RequestBuilder({ ...small, series: 30, samplesPerRequest: 2000, protocol: 2 });
  t.equal(b.samplesPerRequest, 30);
  const { series } = decode(2, b.next());
  t.equal(new Set(series.map(key)).size, 30);
  t.end();
});

t.test('default-sized request is realistic', async (t) => {
  const b = new RequestBuilder({ protocol: 1, series: 100_000, metrics: 100, labels: 8, labelValues: 300, samplesPerRequest: 2000, seed: 1 });
  const built = b.next();
  const { series } = decode(1, built);
  t.equal(series.length, 2000);
  const names = new Set(series.map((s) => s.labels[0]![1]));
  t.equal(names.size, 100, 'every metric name appears');
  t.ok(names.has('http_requests_total') && names.has('http_request_duration_seconds_bucket'), names);
  t.ok(series.some((s) => s.labels.some(([n]) => n === 'le')), 'histogram buckets carry le');
  t.ok(built.body.length < built.raw.length / 4, 'compresses like real label-heavy bodies');
  t.end();
});

t.test('rejects impossible option combinations', async (t) => {
  t.throws(() => new RequestBuilder({ ...small, protocol: 1, series: 1_000_000, labels: 1 }), RangeError);
  t.throws(() => new RequestBuilder({ ...small, protocol: 3 as Protocol }), RangeError);
  t.throws(() => new RequestBuilder({ ...small, protocol: 1, labels: 21 }), RangeError);
  t.throws(() => new RequestBuilder({ ...small, protocol: 1, samplesPerRequest: 0 }), RangeError);
  t.end();
});
