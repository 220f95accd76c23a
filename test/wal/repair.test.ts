import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { encodeBlock, SEGMENT_HEADER } from '../../src/wal/format.js';
import { checkSegment } from '../../src/wal/repair.js';
import { readSegment } from '../../src/wal/segment-reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repair-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeSegment(file: string, csvs: string[]): Buffer {
  const bytes = Buffer.concat([Buffer.from(SEGMENT_HEADER), ...csvs.map((c) => encodeBlock(1, c.split('\n').length - 2, Buffer.from(c)))]);
  fs.writeFileSync(file, bytes);
  return bytes;
}

const blockText = fc.array(fc.string({ minLength: 1, maxLength: 40 }).map((s) => s.replaceAll('\n', ' ')), { minLength: 0, maxLength: 20 }).map((rows) => 'H:h\n' + rows.map((r) => r + '\n').join(''));

t.test('any truncation recovers exactly a prefix of the blocks written', async (t) => {
  let n = 0;
  fc.assert(
    fc.property(fc.array(blockText, { minLength: 1, maxLength: 8 }), fc.nat(), (csvs, cutSeed) => {
      const file = path.join(dir, `t${n++}.wal`);
      const bytes = writeSegment(file, csvs);
      const cut = 8 + (cutSeed % (bytes.length - 7));
      fs.truncateSync(file, cut);
      const r = checkSegment(file, { truncate: true });
      const after = readSegment(file);
      if (after.problem) return false;
      const got = after.blocks.map((b) => b.csv.toString());
      return r.size === fs.statSync(file).size && got.every((c, i) => c === csvs[i]) && (cut < bytes.length || got.length === csvs.length);
    }),
    { numRuns: 200 },
  );
  t.pass('200 random truncations');
});

t.test('any bit flip recovers a prefix and never keeps a bad block', async (t) => {
  let n = 0;
  fc.assert(
    fc.property(fc.array(blockText, { minLength: 1, maxLength: 8 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (csvs, at, bit) => {
      const file = path.join(dir, `f${n++}.wal`);
      const bytes = writeSegment(file, csvs);
      const pos = at % bytes.length;
      bytes[pos]! ^= 1 << bit;
      fs.writeFileSync(file, bytes);
      const r = checkSegment(file, { truncate: true });
      if (r.headerBad) return pos < 8; // only a flip in the header can make it bad
      const after = readSegment(file);
      const got = after.blocks.map((b) => b.csv.toString());
      return after.problem === undefined && got.every((c, i) => c === csvs[i]) && got.length < csvs.length + 1;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random bit flips');
});

t.test('a clean segment is left alone; a bad header is reported', async (t) => {
  const file = path.join(dir, 'clean.wal');
  const bytes = writeSegment(file, ['H:h\na\n', 'H:h\nb\n']);
  t.match(checkSegment(file, { truncate: true }), { size: bytes.length, frames: 2, truncatedBytes: 0, headerBad: false });
  t.equal(fs.statSync(file).size, bytes.length);
  fs.writeFileSync(file, 'garbage!garbage');
  t.match(checkSegment(file, { truncate: true }), { headerBad: true, frames: 0 });
});
