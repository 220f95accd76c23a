import fs from 'node:fs';
import t from 'tap';
import { decodePayload, encodeBlock, SampleType, scanFrames, SEGMENT_HEADER, WAL } from '../../src/wal/format.js';
import { decodeS2Block, decompressBlock } from '../../src/wal/s2.js';

const CSV = 'Timestamp:datetime,SeriesId:long,Labels:dynamic,Value:real\n' + '2024-05-01T12:00:00.123Z,-4021558826384217173,"{""job"":""api""}",1.000000000\n';
const FIXTURE = new URL('../fixtures/wal/one-block.wal', import.meta.url);

t.test('segment header bytes', async (t) => {
  t.same([...SEGMENT_HEADER], [0x41, 0x44, 0x58, 0x57, 0x41, 0x4c, 0x00, 0x00]);
});

t.test('golden segment: the fixture decodes to the known block, byte for byte', async (t) => {
  const bytes = fs.readFileSync(FIXTURE);
  t.same([...bytes.subarray(0, 8)], [...SEGMENT_HEADER]);
  const length = bytes.readUInt32BE(8);
  t.equal(length, bytes.length - 16, 'frame length is the rest of the file');
  t.equal(bytes.readUInt32BE(12), 0x5e3d78d9, 'CRC-32 (IEEE) of the compressed payload');
  const scan = scanFrames(bytes);
  t.equal(scan.problem, undefined);
  t.equal(scan.payloads.length, 1);
  const block = decodePayload(scan.payloads[0]!);
  t.equal(block.type, SampleType.metric);
  t.equal(block.count, 1);
  t.equal(block.csv.toString(), CSV);
  const raw = decompressBlock(scan.payloads[0]!);
  t.same([...raw.subarray(0, 8)], [0xaa, 0xaa, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01], 'block header: magic, version, type, count');
});

t.test('encoding today produces the golden bytes', async (t) => {
  const frame = encodeBlock(SampleType.metric, 1, Buffer.from(CSV));
  t.same(Buffer.concat([Buffer.from(SEGMENT_HEADER), frame]), fs.readFileSync(FIXTURE));
});

t.test('scanFrames stops at torn frames and bad CRCs', async (t) => {
  const seg = Buffer.concat([Buffer.from(SEGMENT_HEADER), encodeBlock(1, 1, Buffer.from(CSV)), encodeBlock(1, 1, Buffer.from(CSV))]);
  const firstEnd = WAL.headerBytes + seg.readUInt32BE(8) + 8;
  t.equal(scanFrames(seg).payloads.length, 2);
  t.match(scanFrames(seg.subarray(0, seg.length - 1)), { goodEnd: firstEnd, problem: { offset: firstEnd, reason: /torn frame/ } });
  t.match(scanFrames(seg.subarray(0, firstEnd + 3)), { goodEnd: firstEnd, problem: { reason: 'torn frame header' } });
  const flipped = Buffer.from(seg);
  flipped[seg.length - 2]! ^= 0x10;
  t.match(scanFrames(flipped), { goodEnd: firstEnd, problem: { reason: 'CRC mismatch' } });
  t.match(scanFrames(Buffer.from('NOTAWAL!')), { goodEnd: 0, problem: { offset: 0 } });
});

t.test('S2 blocks (adx-mon) decode, including repeat-offset copies', async (t) => {
  const literal = (s: string) => [((s.length - 1) << 2) | 0, ...Buffer.from(s)];
  const copy1 = (len: number, off: number) => [0x01 | ((len - 4) << 2) | ((off >> 8) << 5), off & 0xff];
  // An S2 repeat: copy-1 with offset 0 reuses the last offset; length field 0..4 → 4..8 bytes.
  const repeat = (len: number) => [0x01 | ((len - 4) << 2), 0x00];
  const expected = 'abcdabcdabcd' + 'XYZ' + 'dXYZ';
  const body = [expected.length, ...literal('abcd'), ...copy1(8, 4), ...literal('XYZ'), ...repeat(4)];
  t.equal(decodeS2Block(Uint8Array.from(body)).toString(), expected);
  t.equal(decompressBlock(Uint8Array.from(body)).toString(), expected, 'falls back to S2 when snappy refuses');
  // Length field 5: one extra byte L, length L + 8.
  const long = 'abcdabcdxyz' + 'dxyz'.repeat(4);
  const longBody = [long.length, ...literal('abcd'), ...copy1(4, 4), ...literal('xyz'), 0x01 | (5 << 2), 0x00, 8];
  t.equal(decodeS2Block(Uint8Array.from(longBody)).toString(), long);
  t.throws(() => decodeS2Block(Uint8Array.from([1, 0x01, 0x00])), /copy out of range/, 'repeat with no previous offset');
  t.throws(() => decodeS2Block(Uint8Array.from([5, 0x00])), /literal runs past/);
  t.throws(() => decodeS2Block(Uint8Array.from([9, ...literal('abcd')])), /decoded to 4 bytes, preamble said 9/);
});
