import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { WalConfig } from '../../src/config/config.js';
import { readSegment } from '../../src/wal/segment-reader.js';
import { writeFramesSync } from '../../src/wal/segment-file.js';
import { tryParseSegmentName } from '../../src/wal/segment-name.js';
import { loadNativeHotPath, type NativeHotPath } from '../../src/transform/native-hot-path.js';
import { WalWriter, writebackChunk, type FileRangeCall, type HeldBlocks, type WalDelta, type WalNativeCalls, type WriteFramesCall } from '../../src/wal/wal-writer.js';
import { IngestError } from '../../src/errors.js';
import { compressFrame, SampleType, writeBlockHeader } from '../../src/wal/format.js';
import { MetricsCsvWriter } from '../../src/transform/metrics-csv-writer.js';
import { encodeWriteRequestV1 } from '../../src/prom/remote-write-encode.js';
import { hasher, transformConfig } from '../helpers/rows.js';

const HEADER = 'Timestamp:datetime,SeriesId:long,Labels:dynamic,Value:real\n';

function setup(t: Tap.Test, over: Partial<WalConfig> = {}, startWriteback?: FileRangeCall, dropCache?: FileRangeCall, native: WalNativeCalls = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walw-'));
  const idle: WalDelta[] = [];
  const config: WalConfig = { storageDir: dir, maxSegmentBytes: 1 << 30, maxSegmentAgeMs: 60_000, maxDiskUsageBytes: 1 << 40, maxSegmentCount: 1000, fsync: 'rotate', groupCommitDelayMs: 0, writebackBytes: 0, dropCache: false, ...over };
  const w = new WalWriter(config, 7, HEADER, (d) => idle.push(d), { startWriteback, dropCache, ...native });
  t.teardown(async () => {
    await w.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const segments = () => fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort().map((f) => path.join(dir, f));
  return { dir, w, idle, segments };
}

type RangeCall = { fd: number; offset: number; length: number };
const recorder = (calls: RangeCall[]): FileRangeCall => (fd, offset, length) => (calls.push({ fd, offset, length }), 0);

/** A block payload as the transform lays it out: reserved block header, CSV header line, rows. */
const block = (csv: string) => Buffer.concat([Buffer.alloc(8), Buffer.from(HEADER), Buffer.from(csv)]);
const rows = (prefix: string, n: number, tag = 'x') => ({ prefix, rows: n, block: block(Array.from({ length: n }, (_, i) => `${tag}${i}\n`).join('')) });

t.test('writes in the same tick share one block per table (group commit)', async (t) => {
  const { w, segments } = setup(t);
  await Promise.all([w.write([rows('Metrics_A', 2, 'a'), rows('Metrics_B', 1, 'b')]), w.write([rows('Metrics_A', 3, 'c')])]);
  const files = segments();
  t.equal(files.length, 2, 'one segment per table');
  const a = readSegment(files.find((f) => tryParseSegmentName(path.basename(f))!.table === 'A')!);
  t.equal(a.blocks.length, 1);
  t.equal(a.blocks[0]!.count, 5);
  t.equal(a.blocks[0]!.csv.toString(), HEADER + 'a0\na1\nc0\nc1\nc2\n');
  const delta = w.takeDelta();
  t.equal(delta.bytes, files.reduce((n, f) => n + fs.statSync(f).size, 0), 'delta bytes = bytes on disk');
  t.same(delta.flushRequests, [2], 'one flush, shared by both writes');
  t.ok(delta.flushSeconds?.length === 1 && delta.flushSeconds[0]! >= 0 && delta.flushSeconds[0]! < 10, `its duration is reported (${delta.flushSeconds})`);
  t.same(delta.events.map((e) => e.kind), ['created', 'created']);
  await w.write([rows('Metrics_A', 1, 'd')]);
  t.equal(readSegment(files.find((f) => f.includes('_A_'))!).blocks.length, 2, 'a later tick appends a second block');
  t.same(w.takeDelta().flushRequests, [1], 'a write alone is a flush of one');
});

t.test('--group-commit-delay: writes within the delay share one block; 8 MiB waiting flush at once', async (t) => {
  const { w, segments } = setup(t, { groupCommitDelayMs: 200 });
  const started = Date.now();
  const first = w.write([rows('Metrics_A', 2, 'a')]);
  await new Promise((r) => setTimeout(r, 50)); // a later turn of the event loop, within the delay
  t.equal(segments().length, 0, 'nothing written yet');
  await Promise.all([first, w.write([rows('Metrics_A', 1, 'b')])]);
  t.ok(Date.now() - started >= 150, 'the flush waited for the delay');
  const waited = w.takeDelta().flushWaitSeconds;
  t.ok(waited?.length === 1 && waited[0]! >= 0.15, `the flush reports its first request's wait (${waited} s)`);
  const a = readSegment(segments()[0]!);
  t.equal(a.blocks.length, 1, 'one block for both writes');
  t.equal(a.blocks[0]!.csv.toString(), HEADER + 'a0\na1\nb0\n');
  t.equal(readSegment(segments()[0]!).blocks.length, 1);
  const { w: slow, segments: slowSegments } = setup(t, { groupCommitDelayMs: 3_600_000 });
  const big = { prefix: 'Metrics_A', rows: 1, block: block(`${'x'.repeat(9 << 20)}\n`) };
  const flushed = Promise.all([slow.write([rows('Metrics_A', 1, 'c')]), slow.write([big])]).then(() => 'flushed');
  const outcome = await Promise.race([flushed, new Promise((r) => setTimeout(() => r('still waiting after 20 s'), 20_000).unref())]);
  t.equal(outcome, 'flushed', 'over 8 MiB waiting: flushed without waiting out the (1 h) delay');
  t.equal(readSegment(slowSegments()[0]!).blocks.length, 1);
  // No other request on its way (expectMore false): written at once, and so is what waited.
  const lone = setup(t, { groupCommitDelayMs: 3_600_000 });
  const waiting = lone.w.write([rows('Metrics_A', 1, 'e')]);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(lone.segments().length, 0, 'a write expecting company waits');
  const alone = await Promise.race([Promise.all([waiting, lone.w.write([rows('Metrics_A', 1, 'f')], false)]).then(() => 'flushed'), new Promise((r) => setTimeout(() => r('still waiting after 20 s'), 20_000).unref())]);
  t.equal(alone, 'flushed', 'the last expected request flushes without the (1 h) delay');
  t.equal(readSegment(lone.segments()[0]!).blocks[0]!.csv.toString(), HEADER + 'e0\nf0\n', 'in one block with the one that waited');
  const last = w.write([rows('Metrics_A', 1, 'd')]);
  await w.closeAll();
  await last;
  t.equal(readSegment(segments()[0]!).blocks.length, 2, 'closeAll flushes what waits for the delay');
});

/** `HeldBlocks` in plain TypeScript: rows held per table until a flush frames them (CRC filled in, as the addon does). */
class FakeHeld implements HeldBlocks {
  readonly prefixes: string[] = [];
  readonly #rows = new Map<number, string[]>();
  framings = 0;
  hold(prefix: string, ...rows: string[]): void {
    let id = this.prefixes.indexOf(prefix);
    if (id < 0) id = this.prefixes.push(prefix) - 1;
    this.#rows.set(id, [...(this.#rows.get(id) ?? []), ...rows]);
  }
  get heldBytes(): number {
    let n = 0;
    for (const rows of this.#rows.values()) for (const r of rows) n += r.length + 1;
    return n;
  }
  get tableIds(): number {
    return this.prefixes.length;
  }
  prefixOf(id: number): string {
    return this.prefixes[id]!;
  }
  frameHeld(out: Uint8Array, info: Int32Array): number {
    this.framings++;
    const frames = [...this.#rows].map(([id, rows]) => {
      const payload = Buffer.from(`--------${HEADER}${rows.map((r) => `${r}\n`).join('')}`);
      writeBlockHeader(payload, SampleType.metric, rows.length);
      const { header, payload: body } = compressFrame(payload);
      return { id, rows: rows.length, frame: Buffer.concat([header, body]) };
    });
    const need = frames.reduce((n, f) => n + f.frame.length, 0);
    if (out.length < need) return -need;
    let at = 0;
    frames.forEach((f, i) => {
      out.set(f.frame, at);
      info.set([f.id, at, f.frame.length, f.rows], 4 * i);
      at += f.frame.length;
    });
    this.#rows.clear();
    return frames.length;
  }
}

t.test('rows held outside the writer (holdBlocksFrom) go with the next flush: one frame per table, CRC filled in, beside the pieces', async (t) => {
  const { w, segments } = setup(t, { groupCommitDelayMs: 3_600_000 });
  const held = new FakeHeld();
  w.holdBlocksFrom(held);
  held.hold('Metrics_A', 'h0', 'h1');
  held.hold('Metrics_B', 'h2');
  const first = w.write([], true); // a request whose rows are all held waits for the flush that writes them
  held.hold('Metrics_A', 'h3');
  await Promise.all([first, w.write([rows('Metrics_A', 1, 'p')], false)]);
  t.equal(held.framings, 1, 'framed once, at the flush');
  const files = segments();
  t.equal(files.length, 2);
  const a = readSegment(files.find((f) => f.includes('_A_'))!);
  t.same(a.blocks.map((b) => [b.count, b.csv.toString()]), [[1, HEADER + 'p0\n'], [3, HEADER + 'h0\nh1\nh3\n']], 'the pieces block, then the held block, both read back (their CRCs hold)');
  t.equal(readSegment(files.find((f) => f.includes('_B_'))!).blocks[0]!.csv.toString(), HEADER + 'h2\n');
  t.equal(held.heldBytes, 0, 'nothing left held');
  t.equal(w.takeDelta().bytes, files.reduce((n, f) => n + fs.statSync(f).size, 0), 'delta bytes = bytes on disk');
  await w.write([], false);
  t.equal(held.framings, 1, 'a flush with nothing held does not ask');
  // 8 MiB held flush at once, as 8 MiB of pieces do; a frame over the writer's first buffer gets a bigger one.
  const big = 'y'.repeat(9 << 20);
  held.hold('Metrics_C', big);
  const outcome = await Promise.race([w.write([], true).then(() => 'flushed'), new Promise((r) => setTimeout(() => r('still waiting after 20 s'), 20_000).unref())]);
  t.equal(outcome, 'flushed', 'over 8 MiB held: flushed without waiting out the (1 h) delay');
  const c = readSegment(segments().find((f) => f.includes('_C_'))!);
  t.equal(c.blocks[0]!.csv.length, HEADER.length + big.length + 1, 'the big block whole');
});

t.test('holdBlocksFrom with the native MetricsCsvWriter: requests kept in C come back from the segments row for row', async (t) => {
  const ok = nativeAndDir(t);
  if (ok === undefined) return;
  let writeCalls = 0;
  const writeFrames: WriteFramesCall = (frames, plan, n, err) => (writeCalls++, ok.addon.writeFrames(frames, plan, n, err));
  const { w, segments } = setup(t, { groupCommitDelayMs: 3_600_000 }, undefined, undefined, { writeFrames, compressBlock: ok.addon.compressBlock.bind(ok.addon) });
  const builder = new MetricsCsvWriter(transformConfig(), hasher, 1 << 20, undefined, ok.addon);
  t.equal(builder.keepRowsInNative(), true);
  w.holdBlocksFrom(builder);
  const waits: Promise<void>[] = [];
  const sent: string[] = [];
  for (let r = 0; r < 5; r++) {
    const series = Array.from({ length: 40 }, (_, i) => ({ labels: [['__name__', `m${i % 7}`], ['job', `j${i}`]] as [string, string][], samples: [{ value: r * 100 + i, timestampMs: 1714564800000 + r }] }));
    builder.reset();
    t.equal(builder.encodeV1(encodeWriteRequestV1(series)), true, `request ${r} kept in C`);
    t.equal([...builder.tables()].length, 0, 'nothing copied out per request');
    for (const s of series) sent.push(`${s.labels[0]![1].toUpperCase()} ${s.labels[1]![1]} ${s.samples[0]!.value}`); // table names are capitalised
    waits.push(w.write([...builder.tables()].map((x) => ({ prefix: x.prefix, rows: x.rows, block: x.out.buf.subarray(0, x.out.len) })), r < 4));
  }
  await Promise.all(waits);
  const got: string[] = [];
  for (const f of segments()) {
    const table = tryParseSegmentName(path.basename(f))!.table;
    const { blocks } = readSegment(f);
    t.equal(blocks.length, 1, `${table}: one block for all five requests`);
    for (const line of blocks[0]!.csv.toString().split('\n').slice(1, -1)) {
      const m = /"{""job"":""(j\d+)""}",(\d+)\.0+$/.exec(line);
      got.push(`${table} ${m?.[1]} ${Number(m?.[2])}`);
    }
  }
  t.equal(segments().length, 7, 'one segment per metric');
  t.same(got.sort(), sent.sort(), 'every sample once, in its table');
  t.equal(writeCalls, 1, "the flush wrote its 7 tables' frames with one writeFrames call");
  t.equal(w.takeDelta().bytes, segments().reduce((n, f) => n + fs.statSync(f).size, 0), 'delta bytes = bytes on disk');
  // A second flush appends after each segment's end: positions come from the segments' sizes.
  builder.reset();
  builder.encodeV1(encodeWriteRequestV1([{ labels: [['__name__', 'm0'], ['job', 'again']], samples: [{ value: 7, timestampMs: 1714564900000 }] }]));
  await w.write([], false);
  t.equal(writeCalls, 2);
  const m0 = segments().find((f) => tryParseSegmentName(path.basename(f))!.table === 'M0')!;
  const { blocks, problem } = readSegment(m0);
  t.equal(problem, undefined, 'the segment reads back whole');
  t.same(blocks.map((b) => b.count), [blocks[0]!.count, 1], 'the new block right after the first');
});

t.test('a held frame that fails to write (writeFrames) fails the flush: every touched segment is cut back, nothing acknowledged is lost', async (t) => {
  // Writes frame 0 whole and half of frame 1, then reports ENOSPC, as a filling disk does.
  let failNext = false;
  let calls = 0;
  const writeFrames: WriteFramesCall = (frames, plan, n, err) => {
    calls++;
    for (let i = 0; i < n; i++) {
      const [fd, position, at, length] = [plan[4 * i]!, plan[4 * i + 1]!, plan[4 * i + 2]!, plan[4 * i + 3]!];
      if (failNext && i === 1) {
        fs.writeSync(fd, frames, at, length >> 1, position);
        err[0] = os.constants.errno.ENOSPC;
        return i;
      }
      fs.writeSync(fd, frames, at, length, position);
    }
    return n;
  };
  const { w, segments } = setup(t, { groupCommitDelayMs: 3_600_000 }, undefined, undefined, { writeFrames });
  const held = new FakeHeld();
  w.holdBlocksFrom(held);
  held.hold('Metrics_A', 'a0');
  held.hold('Metrics_B', 'b0');
  await w.write([], false);
  const sizes = () => segments().map((f) => fs.statSync(f).size);
  const before = sizes();
  const acknowledged = w.takeDelta().bytes;
  held.hold('Metrics_A', 'a1');
  held.hold('Metrics_B', 'b1');
  held.hold('Metrics_C', 'c1');
  failNext = true;
  const err = await w.write([], false).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof IngestError && err.code === 'disk_full', `refused as disk_full (backpressure): ${String(err)}`);
  t.match(String((err as Error).message), /ENOSPC/, 'the errno is named');
  t.same(sizes().slice(0, 2), before, 'A and B cut back to their last acknowledged frame');
  t.equal(segments().length, 3, "C's segment was opened for the flush");
  t.equal(fs.statSync(segments()[2]!).size, 8, 'and holds only its header');
  t.equal(w.takeDelta().bytes, 8, "the delta counts only C's header: the failed frames are taken back");
  failNext = false;
  held.hold('Metrics_A', 'a2');
  await w.write([], false);
  t.equal(calls, 3);
  const a = readSegment(segments()[0]!);
  t.equal(a.problem, undefined, 'no partial frame left');
  t.same(a.blocks.map((b) => b.csv.toString()), [HEADER + 'a0\n', HEADER + 'a2\n'], 'the next flush lands right after the last good frame');
  t.ok(acknowledged > 0);
});

t.test('--wal-writeback: every appended byte of the active segments is handed to writeback once, in order', async (t) => {
  const calls: { fd: number; offset: number; length: number }[] = [];
  const record: FileRangeCall = (fd, offset, length) => (calls.push({ fd, offset, length }), 0);
  const { w, segments } = setup(t, { writebackBytes: 8 << 10 }, record);
  for (let i = 0; i < 40; i++) await w.write([rows('Metrics_A', 200, `a${i}-`), rows('Metrics_B', 50, `b${i}-`)]);
  t.ok(calls.length >= 4, `${calls.length} writeback calls for ~${Math.round(segments().reduce((n, f) => n + fs.statSync(f).size, 0) / 1024)} KiB`);
  // Per file: the ranges start at 0 and follow each other without gap or overlap, and stop
  // no further than the file's size; what is left is less than one --wal-writeback step.
  const byFd = new Map<number, { offset: number; length: number }[]>();
  for (const c of calls) byFd.set(c.fd, [...(byFd.get(c.fd) ?? []), c]);
  t.equal(byFd.size, 2, 'both active segments');
  const sizes = segments().map((f) => fs.statSync(f).size);
  const covered: number[] = [];
  for (const ranges of byFd.values()) {
    let end = 0;
    for (const r of ranges) {
      t.equal(r.offset, end, 'contiguous');
      t.ok(r.length > 0, 'never empty');
      end = r.offset + r.length;
      // The partial last page is still being appended to: handing it over would write it twice.
      t.equal(end % 4096, 0, `ends at a page boundary (${end})`);
    }
    covered.push(end);
  }
  const left = sizes.reduce((a, b) => a + b, 0) - covered.reduce((a, b) => a + b, 0);
  t.ok(left >= 0 && left < (8 << 10) + byFd.size * 4096, `${left} bytes not yet handed over: less than one step and a partial page per segment`);
  t.equal(w.takeDelta().writebackBytes, covered.reduce((a, b) => a + b, 0), 'the delta counts what was handed over');
  const none: FileRangeCall = () => t.fail('writeback with --wal-writeback 0') as unknown as number;
  const off = setup(t, { writebackBytes: 0 }, none);
  const always = setup(t, { writebackBytes: 1, fsync: 'always' }, none);
  for (let i = 0; i < 5; i++) await Promise.all([off.w.write([rows('Metrics_A', 200)]), always.w.write([rows('Metrics_A', 200)])]);
  // A failing call (say EINVAL on a file system without it) is ignored: nothing is counted.
  const failing = setup(t, { writebackBytes: 1 }, () => 22);
  await failing.w.write([rows('Metrics_A', 200)]);
  t.equal(failing.w.takeDelta().writebackBytes ?? 0, 0);
});

t.test('--wal-writeback with many tables: a segment waits until it has a 64th of a step, so calls stay few and large', async (t) => {
  t.equal(writebackChunk(4 << 20), 64 << 10, 'the default 4 MiB step: 64 KiB');
  t.equal(writebackChunk(8 << 10), 4096, 'never less than a page');
  t.equal(writebackChunk(1_000_000), 12288, 'whole pages');
  const calls: RangeCall[] = [];
  const drops: RangeCall[] = [];
  const step = 1 << 20;
  const chunk = writebackChunk(step);
  const { w, segments } = setup(t, { writebackBytes: step, dropCache: true }, recorder(calls), recorder(drops));
  // 200 tables: the busiest ten get ~40 KiB of rows per flush, the other 190 ~0.3 KiB.
  const tables = Array.from({ length: 200 }, (_, i) => `Metrics_T${i}`);
  for (let i = 0; i < 60; i++) await w.write(tables.map((p, k) => rows(p, k < 10 ? 2000 : 20, `${p}-${i}-`)));
  const files = segments();
  const handedTo = new Map<number, number>(); // fd → end of the last range handed over
  const byFd = new Map<number, RangeCall[]>();
  for (const c of calls) byFd.set(c.fd, [...(byFd.get(c.fd) ?? []), c]);
  for (const ranges of byFd.values()) {
    let end = 0;
    for (const r of ranges) {
      t.equal(r.offset, end, 'contiguous');
      t.ok(r.length >= chunk, `at least ${chunk} bytes (${r.length})`);
      end = r.offset + r.length;
      t.equal(end % 4096, 0, 'ends at a page boundary');
    }
    handedTo.set(ranges[0]!.fd, end);
  }
  const total = files.reduce((n, f) => n + fs.statSync(f).size, 0);
  const handed = [...handedTo.values()].reduce((a, b) => a + b, 0);
  t.ok(total - handed < step + files.length * chunk, `${total - handed} of ${total} bytes not yet handed over: under a step plus a chunk per segment`);
  t.ok(handed > total / 2, `most bytes were handed over (${handed})`);
  t.ok(byFd.size < 200, `the quiet tables' segments waited: ${byFd.size} of 200 had writeback`);
  // Every 4096-byte-per-segment round, as before, would have made ~200 calls per round.
  const rounds = Math.floor(total / step);
  t.ok(calls.length < rounds * 40, `${calls.length} calls in ~${rounds} rounds`);
  for (const d of drops) t.ok(byFd.has(d.fd), 'drops only follow writeback');
});

t.test('the native startWriteback calls sync_file_range on a real file', async (t) => {
  const native = nativeAndDir(t);
  if (native === undefined) return;
  const { addon, dir } = native;
  const fd = fs.openSync(path.join(dir, 'f'), 'w');
  fs.writeSync(fd, Buffer.alloc(1 << 20, 1));
  t.equal(addon.startWriteback(fd, 0, 1 << 20), 0, 'started');
  t.equal(addon.startWriteback(fd, 4096, 0), 0, 'an empty range is a no-op');
  fs.closeSync(fd);
  t.equal(addon.startWriteback(fd, 0, 4096), os.constants.errno.EBADF, 'a closed fd gives EBADF back, not a throw');
  t.throws(() => addon.startWriteback(-1, 0, 1), TypeError);
  t.throws(() => (addon.startWriteback as (...a: unknown[]) => number)('x', 0, 1), TypeError);
  t.throws(() => addon.startWriteback(0, -5, 1), TypeError);
});

/** writeFrames on real files: frames at their positions, in order, stopping at the first that fails with its errno. */
function checkWriteFrames(t: Tap.Test, writeFrames: WriteFramesCall, dir: string): void {
  const [fa, fb] = [path.join(dir, 'a'), path.join(dir, 'b')];
  const a = fs.openSync(fa, 'w+');
  const b = fs.openSync(fb, 'w+');
  const frames = Buffer.from('0123456789abcdefghij');
  const err = new Int32Array(1);
  t.equal(writeFrames(frames, Float64Array.from([a, 0, 0, 5, b, 3, 5, 5, a, 5, 10, 10]), 3, err), 3, 'all three written');
  t.equal(err[0], 0);
  t.equal(fs.readFileSync(fa, 'latin1'), '01234abcdefghij', 'a: frames 0 and 2, back to back');
  t.same(fs.readFileSync(fb), Buffer.concat([Buffer.alloc(3), Buffer.from('56789')]), 'b: frame 1 at offset 3');
  fs.closeSync(b);
  t.equal(writeFrames(frames, Float64Array.from([a, 15, 0, 2, b, 0, 2, 2, a, 17, 4, 2]), 3, err), 1, 'stops at the frame whose file is closed');
  t.equal(err[0], os.constants.errno.EBADF, 'with its errno');
  t.equal(fs.readFileSync(fa, 'latin1'), '01234abcdefghij01', 'the frame before it written, the one after it not');
  t.equal(writeFrames(frames, new Float64Array(0), 0, err), 0, 'nothing to write');
  fs.closeSync(a);
}

t.test('the native writeFrames writes each frame at its position, in order, and stops at the first that fails with its errno', async (t) => {
  const native = nativeAndDir(t);
  if (native === undefined) return;
  const { addon, dir } = native;
  checkWriteFrames(t, addon.writeFrames.bind(addon), dir);
  const frames = Buffer.alloc(20);
  const err = new Int32Array(1);
  const c = fs.openSync(path.join(dir, 'c'), 'w');
  t.throws(() => addon.writeFrames(frames, Float64Array.from([c, 0, 15, 10]), 1, err), RangeError, 'a range past the frames');
  t.throws(() => addon.writeFrames(frames, Float64Array.from([c, -1, 0, 1]), 1, err), RangeError, 'a negative position');
  t.throws(() => addon.writeFrames(frames, new Float64Array(4), 2, err), TypeError, 'a plan shorter than 4 per frame');
  t.equal(fs.fstatSync(c).size, 0, 'nothing written by a refused plan');
  fs.closeSync(c);
});

t.test('writeFramesSync, used without the addon, keeps the same contract', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walw-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  checkWriteFrames(t, writeFramesSync, dir);
});

t.test('--wal-drop-cache: each round drops, from a 64 KiB boundary, what was handed to writeback before the previous round; closing drops the rest', async (t) => {
  const wb: RangeCall[] = [];
  const drops: RangeCall[] = [];
  const events: string[] = [];
  const { w, idle, segments } = setup(
    t,
    { writebackBytes: 8 << 10, dropCache: true },
    (fd, offset, length) => (events.push('wb'), recorder(wb)(fd, offset, length)),
    (fd, offset, length) => (events.push('drop'), recorder(drops)(fd, offset, length)),
  );
  // ~1 MiB per table, so the 64 KiB alignment matters.
  for (let i = 0; i < 60; i++) await w.write([rows('Metrics_A', 2000, `a${i}-`), rows('Metrics_B', 500, `b${i}-`)]);
  const sizes = new Map(segments().map((f) => [f, fs.statSync(f).size]));
  const before = drops.length;
  t.ok(before >= 4, `${before} drops while writing`);
  t.ok(events.indexOf('drop') > events.indexOf('wb'), 'nothing is dropped before it was handed to writeback');
  let droppedWhileWriting = 0;
  for (const fd of new Set(drops.map((d) => d.fd))) {
    const handed = wb.filter((c) => c.fd === fd);
    const dropped = drops.filter((c) => c.fd === fd);
    let end = 0;
    for (const d of dropped) {
      t.equal(d.offset % (64 << 10), 0, 'starts at a 64 KiB boundary');
      t.ok(d.offset <= end && d.offset > end - (64 << 10), 'starts at the boundary at or below where the last drop ended');
      t.ok(d.offset + d.length > end, 'reaches further than the last drop');
      end = d.offset + d.length;
      // Its end is where some writeback range began, never the start of the newest one: that
      // range's writeback has only just been started.
      const starts = handed.map((c) => c.offset);
      t.ok(starts.includes(end), 'ends where a writeback range began');
    }
    t.ok(end < handed.at(-1)!.offset + 1, 'the newest range handed over is not dropped yet');
    droppedWhileWriting += end;
  }
  // Deltas reach the main thread with results or, now and then, through the idle callback.
  const idleDropped = () => idle.reduce((n, d) => n + (d.droppedBytes ?? 0), 0);
  const idleBefore = idleDropped();
  t.equal((w.takeDelta().droppedBytes ?? 0) + idleBefore, droppedWhileWriting, 'the deltas count each dropped byte once, though ranges overlap at their 64 KiB starts');
  const last = await w.closeAll();
  const atClose = (last.droppedBytes ?? 0) + idleDropped() - idleBefore;
  t.equal(atClose, [...sizes.values()].reduce((a, b) => a + b, 0) - droppedWhileWriting, 'closing counts the rest');
  const closing = drops.slice(before);
  t.equal(closing.length, 2, 'closing drops once per segment');
  t.same(closing.map((d) => d.offset + d.length).sort(), [...sizes.values()].sort(), 'to the end of the file');
  for (const d of closing) t.equal(d.offset % (64 << 10), 0);
  for (const [f, size] of sizes) t.equal(readSegment(f).blocks.reduce((n, b) => n + b.count, 0), 60 * (f.includes('_A_') ? 2000 : 500), `${path.basename(f)}: every row still there (${size} bytes)`);
});

t.test('--wal-drop-cache with --wal-fsync=always drops up to the end after every flush; off, nothing is dropped', async (t) => {
  const drops: RangeCall[] = [];
  const always = setup(t, { fsync: 'always', dropCache: true }, undefined, recorder(drops));
  for (let i = 0; i < 3; i++) {
    await always.w.write([rows('Metrics_A', 300, `a${i}-`)]);
    const size = fs.statSync(always.segments()[0]!).size;
    t.equal(drops.at(-1)!.offset + drops.at(-1)!.length, size, `flush ${i}: dropped to the synced end`);
  }
  t.equal(drops.length, 3, 'one drop per segment per flush');
  const none: FileRangeCall = () => t.fail('a drop with --wal-drop-cache off') as unknown as number;
  const off = setup(t, { writebackBytes: 1, dropCache: false }, () => 0, none);
  for (let i = 0; i < 5; i++) await off.w.write([rows('Metrics_A', 200)]);
  await off.w.closeAll();
});

t.test('the native dropCache drops the clean pages of a real file from the page cache', async (t) => {
  const native = nativeAndDir(t);
  if (native === undefined) return;
  const { addon, dir } = native;
  const file = path.join(dir, 'f');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, Buffer.alloc(4 << 20, 1));
  fs.fdatasyncSync(fd);
  t.ok(residentBytes(file) > 0, `${residentBytes(file)} bytes cached after writing`);
  t.equal(addon.dropCache(fd, 0, 2 << 20), 0, 'dropped the first half');
  const half = residentBytes(file);
  t.ok(half <= 2 << 20, `${half} bytes cached after dropping the first half`);
  t.equal(addon.dropCache(fd, 0, 4 << 20), 0);
  t.equal(residentBytes(file), 0, 'nothing cached after dropping it all');
  t.same(fs.readFileSync(file), Buffer.alloc(4 << 20, 1), 'the data is still there');
  t.equal(addon.dropCache(fd, 0, 0), 0, 'an empty range is a no-op');
  fs.closeSync(fd);
  t.equal(addon.dropCache(fd, 0, 4096), os.constants.errno.EBADF, 'a closed fd gives EBADF back, not a throw');
  t.throws(() => addon.dropCache(-1, 0, 1), TypeError);
  t.throws(() => addon.dropCache(0, -5, 1), TypeError);
});

t.test('--wal-drop-cache end to end: a segment written through the native calls leaves the page cache', async (t) => {
  const native = nativeAndDir(t);
  if (native === undefined) return;
  const { addon } = native;
  const { w, segments } = setup(
    t,
    { writebackBytes: 256 << 10, dropCache: true },
    (fd, offset, length) => addon.startWriteback(fd, offset, length),
    (fd, offset, length) => addon.dropCache(fd, offset, length),
  );
  for (let i = 0; i < 40; i++) await w.write([{ prefix: 'Metrics_A', rows: 100, block: block(Array.from({ length: 100 }, () => `${randomText(1000)}\n`).join('')) }]);
  const [file] = segments();
  const size = fs.statSync(file!).size;
  t.ok(size > 3 << 20, `${size} bytes written`);
  await w.closeAll();
  t.equal(residentBytes(file!), 0, 'after closing, none of it is cached');
  t.equal(readSegment(file!).blocks.reduce((n, b) => n + b.count, 0), 4000, 'every row is in the file');
});

/** The native addon and a temporary directory; undefined (the test skipped or failed) without the addon. */
function nativeAndDir(t: Tap.Test): { addon: NativeHotPath; dir: string } | undefined {
  const addon = loadNativeHotPath();
  if (addon instanceof Error) {
    if (process.env.ADX_INGESTOR_TEST_WITHOUT_NATIVE === '1') t.skip('native addon opted out');
    else t.fail(addon.message);
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walw-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { addon, dir };
}

/** Bytes of `file` in the page cache (util-linux fincore). */
function residentBytes(file: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim());
}

t.test('segments rotate on size; ids sort in creation order', async (t) => {
  const { w, idle, segments } = setup(t, { maxSegmentBytes: 4096 });
  for (let i = 0; i < 30; i++) await w.write([{ prefix: 'Metrics_A', rows: 1, block: block(`${i}:${randomText(400)}\n`) }]);
  await new Promise((r) => setTimeout(r, 100)); // closes (fsync) finish in the background
  const files = segments();
  t.ok(files.length > 2, `${files.length} segments`);
  const all = files.flatMap((f) => readSegment(f).blocks.map((b) => b.csv.toString().split('\n')[1]!.split(':')[0]));
  t.same(all, Array.from({ length: 30 }, (_, i) => String(i)), 'every row once, in order across segments');
  for (const f of files.slice(0, -1)) t.ok(fs.statSync(f).size <= 4096, 'closed segments are within the limit');
  // Events reach the main thread with task results or, when no task comes, on their own.
  const deltas = [...idle, w.takeDelta()];
  t.equal(deltas.flatMap((d) => d.events).filter((e) => e.kind === 'closed').length, files.length - 1);
  t.equal(deltas.reduce((n, d) => n + d.bytes, 0), files.reduce((n, f) => n + fs.statSync(f).size, 0));
});

t.test('segments rotate on age, reported while idle', async (t) => {
  const { w, idle, segments } = setup(t, { maxSegmentAgeMs: 100 });
  await w.write([rows('Metrics_A', 1)]);
  w.takeDelta();
  await new Promise((r) => setTimeout(r, 400));
  t.same(idle.flatMap((d) => d.events.map((e) => e.kind)), ['closed']);
  await w.write([rows('Metrics_A', 1)]);
  t.equal(segments().length, 2, 'the next write opens a new segment');
});

t.test('fsync=always resolves after the data is synced', async (t) => {
  const { w, segments } = setup(t, { fsync: 'always' });
  await Promise.all([w.write([rows('Metrics_A', 1)]), w.write([rows('Metrics_A', 1)])]);
  t.equal(readSegment(segments()[0]!).blocks[0]!.count, 2);
});

t.test('closeAll closes every segment', async (t) => {
  const { w, idle } = setup(t);
  await w.write([rows('Metrics_A', 1), rows('Metrics_B', 1)]);
  w.takeDelta();
  const last = await w.closeAll();
  // Each close reports as soon as its fsync is done, on its own or in closeAll's delta.
  t.same([...idle, last].flatMap((d) => d.events.map((e) => e.kind)), ['closed', 'closed']);
});

function randomText(n: number): string {
  let s = '';
  while (s.length < n) s += Math.random().toString(36).slice(2);
  return s.slice(0, n);
}

t.test('every piece is handed back (done) once its flush no longer needs it', async (t) => {
  const { w } = setup(t);
  let done = 0;
  const piece = (prefix: string) => ({ ...rows(prefix, 1), done: () => done++ });
  await Promise.all([w.write([piece('Metrics_A'), piece('Metrics_B')]), w.write([piece('Metrics_A')])]);
  t.equal(done, 3);
});
