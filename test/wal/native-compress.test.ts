// The native WAL block compressor (native/snappy-block.h, "WAL block compression"; `compressBlock`
// and NativeFramer): its frames must be standard snappy blocks that the `snappy` package and the
// WAL's own S2/snappy decoder read back byte for byte, whatever the input, and on the WAL's real
// blocks it must compress as well as snappy does.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import snappy from 'snappy';
import t from 'tap';
import xxhash from 'xxhash-wasm';
import type { WalConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { ByteOutPool } from '../../src/transform/csv-bytes.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { loadNativeHotPath, walNativeCalls } from '../../src/transform/native-hot-path.js';
import { crc32, NativeFramer, WAL } from '../../src/wal/format.js';
import { decompressBlock } from '../../src/wal/s2.js';
import { readSegment } from '../../src/wal/segment-reader.js';
import { WalWriter } from '../../src/wal/wal-writer.js';
import { RequestBuilder } from '../../perf/lib/request-builder.js';

const addon = loadNativeHotPath();
if (addon instanceof Error) {
  if (process.env.ADX_INGESTOR_TEST_WITHOUT_NATIVE === '1') t.pass('native addon not built and ADX_INGESTOR_TEST_WITHOUT_NATIVE=1');
  else t.fail(addon.message);
} else {
  const compress = addon.compressBlock.bind(addon);

  /** What a block of `pieces` holds: the first whole, the others without their first `skip` bytes. */
  const joined = (pieces: Uint8Array[], skip: number) => Buffer.concat(pieces.map((p, i) => (i === 0 ? p : p.subarray(skip))));

  /** Checks one frame of `pieces` against their bytes; returns its payload length. */
  function checkFrame(t: Tap.Test, frame: Buffer, expected: Buffer, what: string): number {
    const length = frame.readUInt32BE(0);
    const payload = frame.subarray(WAL.frameHeaderBytes);
    if (length !== payload.length) t.fail(`${what}: length field ${length}, payload ${payload.length}`);
    if (frame.readUInt32BE(4) !== crc32(payload)) t.fail(`${what}: CRC`);
    const bySnappy = snappy.uncompressSync(payload, { asBuffer: true }) as Buffer;
    if (!bySnappy.equals(expected)) t.fail(`${what}: the snappy package reads back other bytes`);
    if (!decompressBlock(payload).equals(expected)) t.fail(`${what}: the WAL's decoder reads back other bytes`);
    return payload.length;
  }

  t.test('edge sizes and shapes round-trip through both decoders', (t) => {
    const framer = new NativeFramer(compress);
    const cases: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['one byte', Buffer.from('x')],
      ['eight bytes', Buffer.from('abcdefgh')],
      ['nine bytes', Buffer.from('abc,abc,a')],
      ['a million of one byte (copies of 64 and the 68 split)', Buffer.alloc(1_000_000, 'a')],
    ];
    for (const n of [59, 60, 61, 62, 255, 256, 257, 65535, 65536, 65537, 131072, 131073, 200_000]) {
      cases.push([`${n} random bytes (literals)`, randomBytes(n)]);
      cases.push([`${n} bytes of repeated CSV`, Buffer.from('2024-05-01T12:00:00Z,42,"{""job"":""a""}",1.5\n'.repeat(Math.ceil(n / 45)).slice(0, n))]);
    }
    // Matches that end exactly at a fragment's end, and a long match grown backwards.
    cases.push(['match to the fragment end', Buffer.concat([randomBytes(1000), Buffer.alloc(65536 - 1000, ',')])]);
    const r = randomBytes(3000);
    cases.push(['a literal then its repeat', Buffer.concat([r, Buffer.from(','), r, Buffer.from(','), r])]);
    let total = 0;
    for (const [what, bytes] of cases) {
      total += checkFrame(t, Buffer.from(framer.frame([bytes], 0)), bytes, what);
    }
    t.ok(total > 0, `${cases.length} cases read back byte for byte`);
    const ones = Buffer.from(framer.frame([Buffer.alloc(1_000_000, 'a')], 0));
    t.ok(ones.length < 50_000, `a million equal bytes compress to ${ones.length} bytes`);
    const random = Buffer.from(framer.frame([randomBytes(100_000)], 0));
    t.ok(random.length <= 8 + 100_000 + 32 + 100_000 / 6, `random bytes stay within snappy's bound (${random.length})`);
    t.end();
  });

  t.test("frame CRCs: Node's zlib crc32_z, as the addon calls it, and the addon's own table code both agree with zlib.crc32", (t) => {
    for (const n of [0, 1, 7, 8, 15, 16, 63, 64, 65, 255, 1000, 4096, 65539]) {
      const bytes = randomBytes(n);
      const want = zlib.crc32(bytes) >>> 0;
      t.equal(addon.frameCrc(bytes, false), want, `${n} bytes`);
      t.equal(addon.frameCrc(bytes, true), want, `${n} bytes, table code`);
    }
    t.end();
  });

  t.test('any pieces round-trip through both decoders (property)', (t) => {
    const tokens = fc.constantFrom(',', '"', '""', '{', '}', ':', '\n', 'job', 'namespace', 'container-', '0', '17', '2024-05-01T12:00:', '.000000000', 'x', 'ü', ' ');
    const text = fc.array(tokens, { maxLength: 3000 }).map((xs) => Buffer.from(xs.join('')));
    const bytes = fc.uint8Array({ maxLength: 4000 }).map((b) => Buffer.from(b));
    const repeated = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5000 })).map(([u, n]) => Buffer.concat(Array.from({ length: n }, () => Buffer.from(u))));
    const piece = fc.oneof(text, bytes, repeated);
    const framer = new NativeFramer(compress);
    let checked = 0;
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.nat(40), (raw, wantSkip) => {
        const skip = Math.min(wantSkip, ...raw.slice(1).map((p) => p.length));
        const expected = joined(raw, skip);
        const frame = framer.frame(raw, skip);
        const payload = frame.subarray(WAL.frameHeaderBytes);
        checked++;
        return frame.readUInt32BE(0) === payload.length && frame.readUInt32BE(4) === crc32(payload) && (snappy.uncompressSync(payload, { asBuffer: true }) as Buffer).equals(expected) && decompressBlock(payload).equals(expected);
      }),
      { numRuns: 400 },
    );
    t.equal(checked, 400, 'every run read back byte for byte');
    t.end();
  });

  t.test('on the WAL’s real blocks it compresses as well as snappy', async (t) => {
    // Eight of loadgen's requests per table, as one group-commit flush merges them.
    const config = loadConfig(['--storage-dir', os.tmpdir()], {});
    const rows = new MetricsCsvWriter(config.transform, await xxhash(), config.transform.seriesCacheBytes, new ByteOutPool(), addon);
    const builder = new RequestBuilder({ protocol: 1, samplesPerRequest: 2000, series: 100_000, metrics: 100, labels: 8, labelValues: 300, seed: 7 });
    const byTable = new Map<string, Buffer[]>();
    for (let i = 0; i < 8; i++) {
      rows.reset();
      t.ok(rows.encodeV1(snappy.uncompressSync(builder.next().body, { asBuffer: true }) as Buffer), 'native rows');
      for (const table of rows.tables()) (byTable.get(table.prefix) ?? byTable.set(table.prefix, []).get(table.prefix)!).push(Buffer.from(table.out.buf.subarray(0, table.out.len)));
    }
    const skip = WAL.blockHeaderBytes + rows.schema.headerLine.length;
    const framer = new NativeFramer(compress);
    let input = 0;
    let ours = 0;
    let theirs = 0;
    for (const [prefix, pieces] of byTable) {
      const expected = joined(pieces, skip);
      input += expected.length;
      ours += checkFrame(t, Buffer.from(framer.frame(pieces, skip)), expected, prefix);
      theirs += snappy.compressSync(expected).length;
    }
    t.equal(byTable.size, 100, 'a block per table');
    t.ok(ours <= theirs * 1.01, `${(input / 1e6).toFixed(1)} MB → ${ours} bytes, against ${theirs} from the snappy package (ratio ${(input / ours).toFixed(3)} against ${(input / theirs).toFixed(3)})`);
  });

  t.test('a too small output buffer is reported, and the framer grows its own', (t) => {
    const block = Buffer.from('a,b,c\n'.repeat(100_000));
    const small = new Uint8Array(100);
    const need = compress([block], 0, small);
    t.ok(need < -block.length, `asks for ${-need} bytes`);
    t.ok(compress([block], 0, new Uint8Array(-need)) > 0, 'and fits in that many');
    const framer = new NativeFramer(compress);
    const big = randomBytes(3 << 20); // more than the framer's first 1 MiB buffer
    checkFrame(t, Buffer.from(framer.frame([big], 0)), big, '3 MiB random');
    checkFrame(t, Buffer.from(framer.frame([block], 0)), block, 'after growing');
    t.end();
  });

  t.test('bad arguments throw TypeError', (t) => {
    const out = new Uint8Array(1 << 16);
    t.throws(() => compress('x' as unknown as Uint8Array[], 0, out), TypeError, 'pieces not an array');
    t.throws(() => compress([], 0, out), TypeError, 'no pieces');
    t.throws(() => compress([Buffer.from('abc'), Buffer.from('ab')], 3, out), TypeError, 'a later piece shorter than skip');
    t.throws(() => compress([Buffer.from('abc'), 'de' as unknown as Uint8Array], 0, out), TypeError, 'a piece not a Uint8Array');
    t.throws(() => compress([Buffer.from('abc')], 0, [] as unknown as Uint8Array), TypeError, 'out not a Uint8Array');
    t.end();
  });

  t.test('the WAL writer with native blocks: group commit, read back by the segment reader', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walnc-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const header = 'Timestamp:datetime,SeriesId:long,Labels:dynamic,Value:real\n';
    const config: WalConfig = { storageDir: dir, maxSegmentBytes: 1 << 30, maxSegmentAgeMs: 60_000, maxDiskUsageBytes: 1 << 40, maxSegmentCount: 1000, fsync: 'rotate', groupCommitDelayMs: 0, writebackBytes: 0, dropCache: false };
    const w = new WalWriter(config, 3, header, () => undefined, walNativeCalls(addon));
    const block = (csv: string) => Buffer.concat([Buffer.alloc(8), Buffer.from(header), Buffer.from(csv)]);
    const csvA = Array.from({ length: 500 }, (_, i) => `2024-05-01T12:00:0${i % 10}Z,${i},"{""job"":""a""}",${i}.000000000\n`).join('');
    const csvB = Array.from({ length: 300 }, (_, i) => `2024-05-01T12:01:0${i % 10}Z,${i},"{""job"":""b""}",${i}.500000000\n`).join('');
    await Promise.all([w.write([{ prefix: 'Metrics_A', rows: 500, block: block(csvA) }]), w.write([{ prefix: 'Metrics_A', rows: 300, block: block(csvB) }])]);
    await w.closeAll();
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.wal'));
    t.equal(files.length, 1, 'one segment');
    const seg = readSegment(path.join(dir, files[0]!));
    t.equal(seg.blocks.length, 1, 'both requests in one block');
    t.equal(seg.blocks[0]!.count, 800, 'its row count');
    t.equal(seg.blocks[0]!.csv.toString(), header + csvA + csvB, 'the header once, then both requests’ rows');
  });
}
