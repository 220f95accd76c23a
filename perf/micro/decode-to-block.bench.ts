/**
 * Micro-benchmark of the worker's hot path, stage by stage, on one thread:
 * snappy body → decompress → protobuf decode + rows (MetricsRowBuilder) → WAL blocks (CSV + snappy + CRC).
 * With the native hot path, decompression and block compression are the addon's too, as in the
 * server (BodyDecompressor, NativeFramer); with `--hot-path typescript` both are the `snappy` package.
 *
 *   npm run build && node dist/perf/micro/decode-to-block.bench.js [--protocol 1|2] [--series 100000] [--metrics 100]
 *     [--hot-path native|typescript]   (rows in C — 2.0 rewritten as 1.0 first — or all in TypeScript)
 *
 * Prints the median of 5 runs of samples/s for each stage and for the whole path.
 */
import { parseArgs } from 'node:util';
import xxhash from 'xxhash-wasm';
import { loadConfig } from '../../src/config/config.js';
import { decodeWriteRequestV1 } from '../../src/prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../../src/prom/remote-write-v2.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { selectHotPath } from '../../src/transform/native-hot-path.js';
import { BodyDecompressor } from '../../src/ingest/body-decompressor.js';
import { encodeFrame, NativeFramer, SampleType, WAL, writeBlockHeader } from '../../src/wal/format.js';
import { RequestBuilder } from '../lib/request-builder.js';

const { values } = parseArgs({
  options: {
    protocol: { type: 'string', default: '1' },
    series: { type: 'string', default: '100000' },
    metrics: { type: 'string', default: '100' },
    requests: { type: 'string', default: '200' },
    'series-cache-size': { type: 'string' },
    'hot-path': { type: 'string', default: 'native' },
  },
});
const protocol = Number(values.protocol) as 1 | 2;
const builder = new RequestBuilder({ protocol, samplesPerRequest: 2000, series: Number(values.series), metrics: Number(values.metrics), labels: 8, labelValues: 300, seed: 1 });
const bodies = Array.from({ length: Number(values.requests) }, () => builder.next().body);
const samplesPerRun = bodies.length * 2000;
const config = loadConfig(values['series-cache-size'] ? ['--series-cache-size', values['series-cache-size']] : [], {}).transform;
const hotPath = selectHotPath(values['hot-path'] === 'typescript' ? 'typescript' : 'native');
if (hotPath instanceof Error) throw hotPath;
const rows = new MetricsCsvWriter(config, await xxhash(), config.seriesCacheBytes, undefined, hotPath);
const decode = protocol === 2
  ? (raw: Buffer) => rows.encodeV2(raw) || decodeWriteRequestV2(raw, rows)
  : (raw: Buffer) => rows.encodeV1(raw) || decodeWriteRequestV1(raw, rows);

const decompressor = new BodyDecompressor(hotPath, 1 << 30);
const framer = hotPath && new NativeFramer(hotPath.compressBlock.bind(hotPath));
const skip = WAL.blockHeaderBytes + rows.schema.headerLine.length;

function blocks(): number {
  let bytes = 0;
  for (const t of rows.tables()) {
    const payload = t.out.buf.subarray(0, t.out.len);
    writeBlockHeader(payload, SampleType.metric, t.rows);
    bytes += framer ? framer.frame([payload], skip).length : encodeFrame(payload).length;
  }
  return bytes;
}

function run(): { decompress: number; decode: number; block: number } {
  const ms = { decompress: 0, decode: 0, block: 0 };
  for (const body of bodies) {
    let t0 = performance.now();
    // As the server does (decode-task.ts): into one reused buffer natively, else a fresh one.
    const raw = decompressor.decompress(body);
    let t1 = performance.now();
    ms.decompress += t1 - t0;
    rows.reset();
    decode(raw);
    t0 = performance.now();
    ms.decode += t0 - t1;
    blocks();
    t1 = performance.now();
    ms.block += t1 - t0;
  }
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
run(); // warm-up
const runs = Array.from({ length: 5 }, run);
const rate = (key: keyof ReturnType<typeof run>) => samplesPerRun / (median(runs.map((r) => r[key])) / 1000);
const total = samplesPerRun / (median(runs.map((r) => r.decompress + r.decode + r.block)) / 1000);
console.log(`${hotPath ? 'native' : 'typescript'} hot path, remote write ${protocol === 2 ? '2.0' : '1.0'}, ${bodies.length} requests x 2000 samples, ${values.series} series, ${values.metrics} metrics, series cache ${config.seriesCacheBytes} bytes (median of 5 runs, one thread)`);
for (const k of ['decompress', 'decode', 'block'] as const) console.log(`  ${k.padEnd(11)} ${(rate(k) / 1e6).toFixed(2)} M samples/s`);
console.log(`  ${'whole path'.padEnd(11)} ${(total / 1e6).toFixed(2)} M samples/s`);
