// Run from the repository root: node --import tsx perf/micro/decode-v1.bench.ts
//   (or build, then node dist/perf/micro/decode-v1.bench.js; the .proto is read from test/fixtures)
//
// Decode throughput (median of 5 interleaved runs, after a warm-up run) of a realistic remote-write 1.0 request:
// 2000 series, 10 labels each drawn from a few hundred distinct values, 1 sample each.
// Compares decodeWriteRequestV1 into a counting sink with protobufjs's generated decoder on the
// same bytes, and adds decodeWriteRequestV2 on the same series encoded as 2.0 for reference.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { NativeHistogram } from '../../src/prom/histogram.js';
import { type EncodeSeries, encodeWriteRequestV1, encodeWriteRequestV2 } from '../../src/prom/remote-write-encode.js';
import { decodeWriteRequestV1 } from '../../src/prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { StringLabelSink } from '../../src/prom/series-sink.js';

const SERIES = 2000;
const RUNS = 5;
const RUN_MS = 400;

/** Deterministic PRNG (mulberry32) so every run decodes the same request. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function buildRequest(): EncodeSeries[] {
  const rand = prng(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
  const values: [string, string[]][] = [
    ['__name__', range(60, (i) => `app_http_requests_${['total', 'seconds_bucket', 'bytes', 'errors'][i % 4]}_${i}`)],
    ['cluster', range(3, (i) => `aks-westeurope-${i}`)],
    ['container', range(30, (i) => `container-${i}`)],
    ['endpoint', ['http-metrics', 'https', 'web']],
    ['instance', range(100, (i) => `10.244.${i >> 4}.${i & 15}:8080`)],
    ['job', range(8, (i) => `kubernetes-pods-${i}`)],
    ['le', ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf']],
    ['namespace', range(20, (i) => `team-${i}-prod`)],
    ['pod', range(300, (i) => `api-server-7d9f8b6c4-${(i * 7919).toString(36).slice(-5)}`)],
    ['service', range(25, (i) => `svc-${i}`)],
  ];
  const now = 1700000000000;
  return range(SERIES, () => '').map(() => ({
    labels: values.map(([name, vs]) => [name, pick(vs)] as [string, string]),
    samples: [{ value: Math.round(rand() * 1e6) / 100, timestampMs: now + Math.floor(rand() * 15000) }],
  }));
}

/** Counts what it receives and nothing else. */
class CountingSink extends StringLabelSink {
  series = 0;
  labels = 0;
  samples = 0;
  beginSeries(): void {
    this.series++;
  }
  labelString(name: string, value: string): void {
    this.labels += name.length + value.length > 0 ? 1 : 0;
  }
  sample(value: number, timestampMs: number): void {
    this.samples += value === value && timestampMs > 0 ? 1 : 0;
  }
  histogram(_h: NativeHistogram): void {}
  exemplar(): void {}
  endSeries(): void {}
}

interface Candidate {
  name: string;
  bytes: number;
  decodeOnce: () => void;
  mbps: number[];
  sps: number[];
}

/** Runs are interleaved (A B C A B C ...) so that load from other processes hits all alike. */
function measureAll(candidates: Candidate[]): void {
  for (let run = 0; run <= RUNS; run++) {
    for (const c of candidates) {
      let n = 0;
      const t0 = process.hrtime.bigint();
      let elapsed = 0;
      do {
        c.decodeOnce();
        n++;
        elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      } while (elapsed * 1000 < RUN_MS);
      if (run === 0) continue; // warm-up
      c.mbps.push((c.bytes * n) / elapsed / 1e6);
      c.sps.push((SERIES * n) / elapsed);
    }
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
  for (const c of candidates) {
    console.log(`${c.name.padEnd(34)} ${median(c.mbps).toFixed(1).padStart(7)} MB/s ${(median(c.sps) / 1e6).toFixed(3).padStart(7)} M series/s`);
  }
}

const series = buildRequest();
const v1 = encodeWriteRequestV1(series);
const v2 = encodeWriteRequestV2(series);
console.log(`request: ${SERIES} series, 10 labels, 1 sample each; 1.0 ${v1.length} bytes, 2.0 ${v2.length} bytes; node ${process.version}`);

const proto = readFileSync('test/fixtures/prom/remote-v1.proto', 'utf8'); // relative to the repository root
const WriteRequest = protobuf.parse(proto).root.lookupType('prometheus.WriteRequest');

const sink = new CountingSink();
const candidate = (name: string, bytes: number, decodeOnce: () => void): Candidate => ({ name, bytes, decodeOnce, mbps: [], sps: [] });
measureAll([
  candidate('decodeWriteRequestV1', v1.length, () => decodeWriteRequestV1(v1, sink)),
  candidate('protobufjs WriteRequest.decode', v1.length, () => {
    WriteRequest.decode(v1);
  }),
  candidate('decodeWriteRequestV2 (2.0 bytes)', v2.length, () => decodeWriteRequestV2(v2, sink)),
]);
if (sink.series === 0 || sink.samples === 0) throw new Error('nothing decoded');
