/**
 * Micro-benchmark of one group-commit flush (src/wal/wal-writer.ts) on one thread: N requests'
 * rows for ~100 tables (loadgen's shape, rows written by the native hot path) appended to a WAL
 * in a temporary directory, then the flush (merge, snappy, CRC, writev per table). Prints, per
 * group size, the median flush time and its parts measured alone on the same bytes, so the fixed
 * per-flush cost (calls and syscalls per table) can be read against the per-byte cost. "rest" is
 * the flush less merge, snappy and CRC: writev into the page cache, writeback and the JavaScript
 * around it. "native" is the addon's `compressBlock` (merge, compression and CRC in C, as the
 * server does it) alone on the same pieces; the parts before it are the `snappy` package's way,
 * which the server falls back to without the addon. `--wal-blocks` chooses which the flush uses
 * ("rest" is then the flush less that way's parts).
 *
 *   npm run build && node dist/perf/micro/wal-flush.bench.js [--dir /tmp] [--flushes 40]
 *     [--wal-drop-cache on|off] [--wal-writeback 4MiB] [--wal-blocks native|package]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import snappy from 'snappy';
import xxhash from 'xxhash-wasm';
import { loadConfig } from '../../src/config/config.js';
import { ByteOutPool } from '../../src/transform/csv-bytes.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { loadNativeHotPath, selectHotPath, walNativeCalls } from '../../src/transform/native-hot-path.js';
import { crc32, NativeFramer, WAL } from '../../src/wal/format.js';
import { type PendingRows, WalWriter } from '../../src/wal/wal-writer.js';
import { RequestBuilder } from '../lib/request-builder.js';

const { values } = parseArgs({
  options: { dir: { type: 'string', default: os.tmpdir() }, flushes: { type: 'string', default: '40' }, 'wal-drop-cache': { type: 'string', default: 'on' }, 'wal-writeback': { type: 'string', default: '4MiB' }, 'wal-blocks': { type: 'string', default: 'native' } },
});
const dir = mkdtempSync(path.join(values.dir, 'wal-flush-bench-'));
const flushes = Number(values.flushes);
const config = loadConfig(['--storage-dir', dir, '--group-commit-delay', '0ms', '--wal-drop-cache', values['wal-drop-cache'], '--wal-writeback', values['wal-writeback']], {});
const hotPath = selectHotPath('native');
if (hotPath instanceof Error) throw hotPath;
const pool = new ByteOutPool();
const rows = new MetricsCsvWriter(config.transform, await xxhash(), config.transform.seriesCacheBytes, pool, hotPath);
const builder = new RequestBuilder({ protocol: 1, samplesPerRequest: 2000, series: 100_000, metrics: 100, labels: 8, labelValues: 300, seed: 1 });
// As the server runs it (defaults: --wal-writeback 4MiB, --wal-drop-cache on).
const addon = loadNativeHotPath();
if (addon instanceof Error) throw addon;
const calls = walNativeCalls(addon);
const nativeBlocks = values['wal-blocks'] === 'native';
const writer = new WalWriter(config.wal, 1, rows.schema.headerLine, () => undefined, nativeBlocks ? calls : { ...calls, compressBlock: undefined });
const framer = new NativeFramer(calls.compressBlock!);

/** One request's rows as the decode task hands them to the writer. */
function requestRows(): PendingRows[] {
  const raw = snappy.uncompressSync(builder.next().body, { asBuffer: true, copyOutputData: true }) as Buffer;
  rows.reset();
  if (!rows.encodeV1(raw)) throw new Error('native path refused the request');
  return [...rows.tables()].map((t) => ({ prefix: t.prefix, rows: t.rows, block: t.out.buf.subarray(0, t.out.len), done: () => pool.release(t.out) }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`WAL flush, loadgen's shape (2000 samples over 100 tables per request), ${dir}, --wal-writeback ${values['wal-writeback']} --wal-drop-cache ${values['wal-drop-cache']} --wal-blocks ${values['wal-blocks']}; median of ${flushes} flushes`);
console.log('requests/flush  tables  MB in  flush ms  (merge  snappy  crc  native  rest)  ms/request');
for (const group of [1, 2, 4, 8, 16]) {
  const total: number[] = [];
  const parts = { merge: [] as number[], snappy: [] as number[], crc: [] as number[], native: [] as number[] };
  let tables = 0;
  let bytes = 0;
  for (let f = 0; f < flushes + 2; f++) {
    const reqs = Array.from({ length: group }, requestRows);
    // The same work alone, on copies: merge the pieces per table, compress, CRC.
    const byPrefix = new Map<string, Uint8Array[]>();
    for (const r of reqs.flat()) (byPrefix.get(r.prefix) ?? byPrefix.set(r.prefix, []).get(r.prefix)!).push(r.block);
    const t0 = performance.now();
    const merged = [...byPrefix.values()].map((blocks) => (blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks)));
    const t1 = performance.now();
    const frames = merged.map((m) => snappy.compressSync(Buffer.from(m.buffer, m.byteOffset, m.byteLength), { copyOutputData: true }));
    const t2 = performance.now();
    for (const fr of frames) crc32(fr);
    const t3 = performance.now();
    const skip = WAL.blockHeaderBytes + rows.schema.headerLine.length;
    for (const blocks of byPrefix.values()) framer.frame(blocks, skip);
    const t4 = performance.now();
    // The real flush, on the original pieces.
    await Promise.all(reqs.map((r) => writer.write(r, true)));
    if (f < 2) continue; // warm-up
    total.push(writer.takeDelta().flushSeconds![0]! * 1000);
    parts.merge.push(t1 - t0);
    parts.snappy.push(t2 - t1);
    parts.crc.push(t3 - t2);
    parts.native.push(t4 - t3);
    tables = byPrefix.size;
    bytes = merged.reduce((n, m) => n + m.byteLength, 0);
  }
  const m = median(total);
  const rest = nativeBlocks ? m - median(parts.native) : m - median(parts.merge) - median(parts.snappy) - median(parts.crc);
  console.log(`${String(group).padStart(14)}  ${String(tables).padStart(6)}  ${(bytes / 1e6).toFixed(2).padStart(5)}  ${m.toFixed(2).padStart(8)}  (${median(parts.merge).toFixed(2)}  ${median(parts.snappy).toFixed(2)}  ${median(parts.crc).toFixed(2)}  ${median(parts.native).toFixed(2).padStart(6)}  ${rest.toFixed(2)})  ${(m / group).toFixed(2)}`);
}
await writer.closeAll();
rmSync(dir, { recursive: true, force: true });
