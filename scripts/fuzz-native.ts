/**
 * Fuzzes the native addon (native/hotpath.c) built with AddressSanitizer and UBSan: every entry
 * point that reads bytes from the network — request bodies (`uncompress`), remote write 1.0 and
 * 2.0 requests (`encodeV1`, `transcodeV2`, with the series cache and the new-series code, and with
 * rows held across requests: `keepRows`, `frameTables`) — and the
 * WAL block encoder (`compressBlock`), with valid inputs, random bytes and mutations of valid
 * inputs. An out-of-bounds read or write, a use after free or undefined behaviour stops the process
 * with the sanitizer's report (exit status non-zero); a wrong result (a decoded body or a frame
 * that differs from the `snappy` package's bytes) or an unexpected JavaScript error is reported
 * the same way. test/transform/native-fuzz.test.ts runs it for a few seconds on every CI run.
 *
 *   npm run fuzz:native -- [--seconds 60] [--seed N]
 *
 * which builds native/build-asan/adx_native.node (`node scripts/build-native.mjs --sanitize`) and
 * runs this under `LD_PRELOAD` of the sanitizer runtimes (a Node addon cannot bring its own).
 * The seed is printed: the same seed replays the same inputs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import snappy from 'snappy';
import xxhash from 'xxhash-wasm';
import { loadConfig } from '../src/config/config.js';
import { IngestError } from '../src/errors.js';
import { decodeWriteRequestV1 } from '../src/prom/remote-write-v1.js';
import { decodeWriteRequestV2 } from '../src/prom/remote-write-v2.js';
import { encodeWriteRequestV1, encodeWriteRequestV2, type EncodeSeries } from '../src/prom/remote-write-encode.js';
import { MetricsCsvWriter } from '../src/transform/metrics-csv-writer.js';
import { checkNativeApi, type NativeHotPath } from '../src/transform/native-hot-path.js';
import { crc32, NativeFramer, SampleType, WAL, writeBlockHeader } from '../src/wal/format.js';
import { decompressBlock } from '../src/wal/s2.js';
import { RequestBuilder } from '../perf/lib/request-builder.js';
import { mulberry32 } from '../perf/lib/series-catalog.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ASAN_ADDON = path.join(root, 'native', 'build-asan', 'adx_native.node');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    addon: { type: 'string', default: ASAN_ADDON },
  },
});
const seconds = Number(values.seconds);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!(seconds > 0) || !Number.isInteger(seed)) throw new Error('usage: fuzz-native [--seconds N > 0] [--seed integer] [--addon path]');

// The sanitizer runtimes must be loaded before anything else: build the addon, then run this
// file again under LD_PRELOAD (the child does the work).
if (process.env.ADX_FUZZ_CHILD !== '1') {
  if (values.addon === ASAN_ADDON) execFileSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs'), '--sanitize', '--require'], { stdio: 'inherit' });
  const runtimes = ['libasan.so', 'libubsan.so'].map((lib) => execFileSync(process.env.CC || 'cc', [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim());
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--seconds', String(seconds), '--seed', String(seed), '--addon', values.addon], {
    stdio: 'inherit',
    env: {
      ...process.env,
      ADX_FUZZ_CHILD: '1',
      LD_PRELOAD: runtimes.join(':'),
      // Node itself is not built for leak checking; the addon's leaks are not what this looks for.
      ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:print_summary=1',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    },
  });
  if (child.status !== 0) console.error(`fuzz-native: FAILED (seed ${seed}; replay with --seed ${seed}), ${child.signal ?? `exit ${child.status}`}`);
  process.exit(child.status ?? 1);
}

const loaded = checkNativeApi(createRequire(import.meta.url)(values.addon) as Partial<NativeHotPath>, values.addon);
if (loaded instanceof Error) throw loaded;
const addon: NativeHotPath = loaded;

const next32 = mulberry32(seed);
/** Uniform in [0, 1). */
const random = (): number => next32() / 2 ** 32;
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

function randomBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

/** One of several edits to `input`: bit flips, overwrites, insertions, deletions, repeats, cuts, long varints, splices. */
function mutate(input: Uint8Array, other: Uint8Array): Buffer {
  let b = Buffer.from(input);
  const edits = 1 + int(4);
  for (let e = 0; e < edits; e++) {
    const at = int(b.length + 1);
    switch (int(8)) {
      case 0:
        if (b.length > 0) b[Math.min(at, b.length - 1)]! ^= 1 << int(8);
        break;
      case 1:
        if (b.length > 0) randomBytes(Math.min(1 + int(8), b.length - Math.min(at, b.length - 1))).copy(b, Math.min(at, b.length - 1));
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), randomBytes(1 + int(16)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(32)))]);
        break;
      case 4: {
        const piece = b.subarray(at, at + 1 + int(64));
        b = Buffer.concat([b.subarray(0, at), piece, piece, b.subarray(at)]);
        break;
      }
      case 5:
        b = b.subarray(0, at);
        break;
      case 6:
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(1 + int(10), 0xff), b.subarray(at)]);
        break;
      default: {
        const from = int(other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + int(256))]);
      }
    }
  }
  return b;
}

// ---- inputs ----

const NAMES = ['__name__', 'job', 'instance', 'pod', 'namespace', 'le', 'adxmon_database', 'Host', 'host', 'adxmon_x', 'ünïcode', 'a', ''];
const VALUES = ['http_requests_total', 'node_cpu', '9', 'x'.repeat(300), 'a"b', 'line\nbreak', 'tab\t', '\u2028', 'ünï', '', 'db1', 'Db-2', '__', '0.5'];

function randomSeries(): EncodeSeries {
  const labels: [string, string][] = [];
  if (int(10) > 0) labels.push(['__name__', pick(VALUES.slice(0, 4))]);
  for (let i = int(12); i > 0; i--) labels.push([pick(NAMES), int(4) === 0 ? randomBytes(int(12)).toString('latin1') : pick(VALUES)]);
  const series: EncodeSeries = { labels };
  const samples = int(4);
  if (samples > 0) {
    series.samples = Array.from({ length: samples }, () => ({
      value: pick([0, -1.5, 1e21, -1e300, Number.NaN, Number.POSITIVE_INFINITY, random() * 1e6, 2 ** 53 + 1]),
      timestampMs: pick([0, 1_700_000_000_123, 253402300799999, 253402300800000, int(2 ** 31)]),
    }));
  }
  if (int(8) === 0) series.exemplars = 1 + int(2);
  return series;
}

function randomRequest(): EncodeSeries[] {
  return Array.from({ length: 1 + int(20) }, randomSeries);
}

const builders = [1, 2].map(
  (protocol) =>
    new RequestBuilder({ protocol: protocol as 1 | 2, samplesPerRequest: 200, series: 3000, metrics: 20, labels: 8, labelValues: 50, seed }),
);

/** A valid-looking remote write request of `protocol`: loadgen's, or random series. */
function request(protocol: 1 | 2): Uint8Array {
  if (int(2) === 0) return Buffer.from(builders[protocol - 1]!.next().raw);
  return protocol === 1 ? encodeWriteRequestV1(randomRequest()) : encodeWriteRequestV2(randomRequest());
}

// ---- targets ----

const hasher = await xxhash();
const transform = (...flags: string[]) => loadConfig(flags, {}).transform;
// A small series cache (clears and saturation under churn) with a lifted label and an added one,
// a default one, and one whose rules (label drops) keep new series out of C.
// Each has a TypeScript twin (same flags and cache size, no addon) that must agree with it.
const writers = (
  [
    [['--lift-labels', 'Host', '--add-labels', 'region=west'], 64 << 10],
    [[], 8 << 20],
    [['--drop-labels', '.*=pod'], 1 << 20],
  ] as const
).map(([flags, cacheBytes]) => {
  // `kept` holds its rows in C across requests (keepRowsInNative, as the server's workers do);
  // `held` is what its next frameTables must give back, per table, from the twin's output.
  const kept = new MetricsCsvWriter(transform(...flags), hasher, cacheBytes, undefined, addon);
  if (!kept.keepRowsInNative()) throw new Error('keepRowsInNative refused');
  return {
    native: new MetricsCsvWriter(transform(...flags), hasher, cacheBytes, undefined, addon),
    typescript: new MetricsCsvWriter(transform(...flags), hasher, cacheBytes),
    kept,
    held: new Map<string, { text: string; rows: number }>(),
  };
});
type Pair = (typeof writers)[number];
const framer = new NativeFramer(addon.compressBlock.bind(addon));
const counts: Record<string, number> = { encodeV1: 0, encodeV2: 0, uncompress: 0, compressBlock: 0, frames: 0, kept: 0, frameTables: 0 };

function fail(what: string, detail: string): never {
  console.error(`fuzz-native: ${what}: ${detail} (seed ${seed})`);
  process.exit(1);
}

/** Only IngestError (the request is refused) is an expected outcome of a bad request. */
function expected(e: unknown, what: string): void {
  if (!(e instanceof IngestError)) fail(what, `unexpected error: ${(e as Error)?.stack ?? String(e)}`);
}

/** Frames every table of the last request in C and checks the frame decodes to its bytes. */
function frameTables(w: MetricsCsvWriter): void {
  const skip = WAL.blockHeaderBytes + w.schema.headerLine.length;
  for (const t of w.tables()) {
    const block = t.out.buf.subarray(0, t.out.len);
    writeBlockHeader(block, SampleType.metric, t.rows);
    const pieces = int(3) === 0 ? [block, block] : [block];
    const frame = framer.frame(pieces, skip);
    const expectedBytes = pieces.length === 1 ? block : Buffer.concat([block, block.subarray(skip)]);
    const decoded = decompressBlock(frame.subarray(WAL.frameHeaderBytes));
    if (!Buffer.from(decoded).equals(expectedBytes)) fail('compressBlock', `frame of table ${t.prefix} does not decode to its block`);
    if (frame.readUInt32BE(4) !== crc32(frame.subarray(WAL.frameHeaderBytes))) fail('compressBlock', `frame of table ${t.prefix}: its CRC is not the payload's`);
    counts.frames!++;
  }
}

/** What a writer made of a request: its error code, or its tables and counters. */
function outcome(w: MetricsCsvWriter, protocol: 1 | 2, raw: Uint8Array, native: boolean): string {
  w.reset();
  try {
    if (!native || !(protocol === 1 ? w.encodeV1(raw) : w.encodeV2(raw))) {
      w.reset();
      if (protocol === 1) decodeWriteRequestV1(raw, w);
      else decodeWriteRequestV2(raw, w);
    }
  } catch (e) {
    expected(e, `encodeV${protocol}`);
    return `error ${(e as IngestError).code}`;
  }
  return JSON.stringify([w.samples, w.rows, w.exemplars, w.droppedSeries, w.histograms, tableRows(w)]);
}

/** A writer's tables after a request: prefix, row count and rows of each. */
function tableRows(w: MetricsCsvWriter): string[] {
  return [...w.tables()].map((t) => `${t.prefix}:${t.rows}:${t.out.buf.subarray(t.start, t.out.len).toString('latin1')}`);
}

/** The native writer on `raw`, checked against its TypeScript twin; sometimes its tables framed too. */
function encode(protocol: 1 | 2, raw: Uint8Array): void {
  const pair = pick(writers);
  const got = outcome(pair.native, protocol, raw, true);
  const want = outcome(pair.typescript, protocol, raw, false);
  if (got !== want) fail(`encodeV${protocol}`, `native and TypeScript differ on ${Buffer.from(raw).toString('base64')}:\n  native     ${got.slice(0, 400)}\n  TypeScript ${want.slice(0, 400)}`);
  if (!got.startsWith('error') && int(4) === 0) frameTables(pair.native);
  counts[`encodeV${protocol}`]!++;
  keep(pair, protocol, raw, want);
  if (int(6) === 0 || pair.kept.heldBytes > 4 << 20) frameHeld(pair);
}

/**
 * The same request into the writer that keeps rows in C: refused as the twin refused it; taken
 * by TypeScript with the twin's tables; or held, and then the twin's rows are what its tables'
 * next frames must add.
 */
function keep(pair: Pair, protocol: 1 | 2, raw: Uint8Array, want: string): void {
  const w = pair.kept;
  w.reset();
  let took = false;
  try {
    took = protocol === 1 ? w.encodeV1(raw) : w.encodeV2(raw);
    if (!took) {
      w.reset();
      if (protocol === 1) decodeWriteRequestV1(raw, w);
      else decodeWriteRequestV2(raw, w);
    }
  } catch (e) {
    expected(e, 'kept');
    if (`error ${(e as IngestError).code}` !== want) fail('kept', `refused (${(e as IngestError).code}) what the twin made ${want.slice(0, 200)}`);
    return;
  }
  if (want.startsWith('error')) fail('kept', `took what the twin refused (${want})`);
  counts.kept!++;
  if (!took) {
    if (JSON.stringify(tableRows(w)) !== JSON.stringify(tableRows(pair.typescript))) fail('kept', 'the TypeScript path of the kept writer differs from the twin');
    return;
  }
  if (tableRows(w).length > 0) fail('kept', 'rows held in C also came out per request');
  for (const t of pair.typescript.tables()) {
    if (t.rows === 0) continue;
    const h = pair.held.get(t.prefix) ?? { text: '', rows: 0 };
    pair.held.set(t.prefix, { text: h.text + t.out.buf.subarray(t.start, t.out.len).toString('latin1'), rows: h.rows + t.rows });
  }
}

/** frameTables on the kept writer (sometimes first into too small a buffer): each frame must decode to exactly what it held. */
function frameHeld(pair: Pair): void {
  const w = pair.kept;
  const info = new Int32Array(4 * Math.max(1, w.tableIds));
  const small = w.frameHeld(Buffer.allocUnsafe(int(64)), info);
  let n = small;
  let out = Buffer.alloc(0);
  if (small < 0) {
    if (w.heldBytes === 0) fail('frameTables', 'asked for room with nothing held');
    out = Buffer.allocUnsafe(-small + int(100));
    n = w.frameHeld(out, info);
  }
  if (n < 0) fail('frameTables', `asked again for ${-n} bytes with ${out.length}`);
  const skip = w.schema.headerLine.length;
  for (let i = 0; i < n; i++) {
    const prefix = w.prefixOf(info[4 * i]!);
    const frame = out.subarray(info[4 * i + 1]!, info[4 * i + 1]! + info[4 * i + 2]!);
    if (frame.readUInt32BE(0) !== frame.length - 8) fail('frameTables', 'frame length field is wrong');
    if (frame.readUInt32BE(4) !== crc32(frame.subarray(WAL.frameHeaderBytes))) fail('frameTables', "frame CRC is not the payload's");
    const payload = decompressBlock(frame.subarray(WAL.frameHeaderBytes));
    const h = pair.held.get(prefix);
    const text = payload.subarray(WAL.blockHeaderBytes + skip).toString('latin1');
    if (h === undefined || text !== h.text || payload.readUInt32BE(4) !== h.rows || info[4 * i + 3] !== h.rows) {
      fail('frameTables', `table ${prefix}: framed ${payload.readUInt32BE(4)} rows ${JSON.stringify(text.slice(0, 200))}, held ${h?.rows} rows ${JSON.stringify(h?.text.slice(0, 200))}`);
    }
    pair.held.delete(prefix);
  }
  if (pair.held.size > 0) fail('frameTables', `tables held but not framed: ${[...pair.held.keys()].join(', ')}`);
  if (w.heldBytes !== 0) fail('frameTables', 'rows still held after framing');
  counts.frameTables!++;
}

function fuzzUncompress(): void {
  const plain = int(3) === 0 ? randomBytes(int(5000)) : Buffer.from(request(1));
  const block = snappy.compressSync(plain) as Buffer;
  const input = int(4) === 0 ? block : int(8) === 0 ? randomBytes(int(200)) : mutate(block, plain);
  const out = Buffer.allocUnsafe(int(3) === 0 ? int(plain.length + 64) : plain.length);
  const n = addon.uncompress(input, out);
  if (input === block && out.length >= plain.length && (n !== plain.length || !out.subarray(0, n).equals(plain))) fail('uncompress', 'a valid block decoded wrong');
  if (n > out.length) fail('uncompress', `returned ${n} for an out of ${out.length}`);
  counts.uncompress!++;
}

function fuzzCompress(): void {
  const pieces = Array.from({ length: 1 + int(4) }, () => (int(2) === 0 ? randomBytes(int(3000)) : Buffer.from(pick(VALUES).repeat(1 + int(200)))));
  const skip = Math.min(...pieces.slice(1).map((p) => p.length), int(64));
  const out = Buffer.allocUnsafe(int(2) === 0 ? int(20000) : 64 + 2 * pieces.reduce((n, p) => n + p.length, 0));
  const n = addon.compressBlock(pieces, skip, out);
  if (n >= 0) {
    const whole = Buffer.concat([pieces[0]!, ...pieces.slice(1).map((p) => p.subarray(skip))]);
    const decoded = snappy.uncompressSync(out.subarray(8, n)) as Buffer;
    if (!decoded.equals(whole)) fail('compressBlock', 'frame does not decode to its pieces');
    if (out.readUInt32BE(0) !== n - 8) fail('compressBlock', 'frame length field is wrong');
  }
  counts.compressBlock!++;
}

const deadline = performance.now() + seconds * 1000;
let round = 0;
while (performance.now() < deadline) {
  round++;
  const protocol = (1 + int(2)) as 1 | 2;
  const valid = request(protocol);
  switch (int(4)) {
    case 0:
      encode(protocol, valid);
      break;
    case 1:
      encode(protocol, mutate(valid, request(protocol)));
      break;
    case 2:
      fuzzUncompress();
      break;
    default:
      if (int(2) === 0) fuzzCompress();
      else encode(protocol, int(4) === 0 ? randomBytes(int(2000)) : mutate(valid, valid));
  }
}
console.log(`fuzz-native: ${round} inputs in ${seconds} s, seed ${seed}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}; no sanitizer report`);
