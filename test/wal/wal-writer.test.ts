import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { WalConfig } from '../../src/config/config.js';
import { readSegment } from '../../src/wal/segment-reader.js';
import { tryParseSegmentName } from '../../src/wal/segment-name.js';
import { WalWriter, type WalDelta } from '../../src/wal/wal-writer.js';

const HEADER = 'Timestamp:datetime,SeriesId:long,Labels:dynamic,Value:real\n';

function setup(t: Tap.Test, over: Partial<WalConfig> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walw-'));
  const idle: WalDelta[] = [];
  const config: WalConfig = { storageDir: dir, maxSegmentBytes: 1 << 30, maxSegmentAgeMs: 60_000, maxDiskUsageBytes: 1 << 40, maxSegmentCount: 1000, fsync: 'rotate', groupCommitDelayMs: 0, ...over };
  const w = new WalWriter(config, 7, HEADER, (d) => idle.push(d));
  t.teardown(async () => {
    await w.closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const segments = () => fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort().map((f) => path.join(dir, f));
  return { dir, w, idle, segments };
}

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
  t.same(delta.events.map((e) => e.kind), ['created', 'created']);
  await w.write([rows('Metrics_A', 1, 'd')]);
  t.equal(readSegment(files.find((f) => f.includes('_A_'))!).blocks.length, 2, 'a later tick appends a second block');
});

t.test('--group-commit-delay: writes within the delay share one block; 8 MiB waiting flush at once', async (t) => {
  const { w, segments } = setup(t, { groupCommitDelayMs: 200 });
  const started = Date.now();
  const first = w.write([rows('Metrics_A', 2, 'a')]);
  await new Promise((r) => setTimeout(r, 50)); // a later turn of the event loop, within the delay
  t.equal(segments().length, 0, 'nothing written yet');
  await Promise.all([first, w.write([rows('Metrics_A', 1, 'b')])]);
  t.ok(Date.now() - started >= 150, 'the flush waited for the delay');
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
  const last = w.write([rows('Metrics_A', 1, 'd')]);
  await w.closeAll();
  await last;
  t.equal(readSegment(segments()[0]!).blocks.length, 2, 'closeAll flushes what waits for the delay');
});

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
