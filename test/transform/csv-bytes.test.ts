import t from 'tap';
import { ByteOut, ByteOutPool, writeCsvField, writeJsonInCsv, writeTimestamp } from '../../src/transform/csv-bytes.js';
import { csvField, formatTimestamp, jsonString } from '../../src/transform/csv-format.js';

const text = (out: ByteOut) => out.buf.subarray(0, out.len).toString();

t.test('ByteOut grows and keeps what was written', async (t) => {
  const out = new ByteOut(4);
  out.ascii('abc');
  out.bytes(Buffer.from('0123456789'.repeat(10)), 0, 100);
  out.byte(0x21);
  t.equal(text(out), 'abc' + '0123456789'.repeat(10) + '!');
});

t.test('ByteOutPool recycles buffers within its byte bound', async (t) => {
  const pool = new ByteOutPool();
  const a = pool.acquire();
  a.ascii('used');
  pool.release(a);
  const b = pool.acquire();
  t.equal(b, a, 'the same buffer comes back');
  t.equal(b.len, 0, 'emptied');
  const huge = new ByteOut(ByteOutPool.maxBufferBytes * 2);
  pool.release(huge);
  t.not(pool.acquire(), huge, 'oversized buffers are not kept');
  const many = Array.from({ length: 100 }, () => new ByteOut(ByteOutPool.maxBufferBytes));
  for (const o of many) pool.release(o);
  let kept = 0;
  for (let o = pool.acquire(); many.includes(o); o = pool.acquire()) kept++;
  t.equal(kept, ByteOutPool.maxKeptBytes / ByteOutPool.maxBufferBytes, 'no more than maxKeptBytes wait in the pool');
});

t.test('byte writers match the string reference', async (t) => {
  for (const s of ['plain', 'a"b', '<&>', 'l1\nl2\ttab\r', '\u0001', '\u2028x\u2029', 'ünï😀', ' lead', 'x,y', '']) {
    const src = Buffer.from(s);
    const j = new ByteOut(8);
    writeJsonInCsv(j, src, 0, src.length);
    // The inside of the JSON string, with every quote doubled for the quoted CSV field.
    t.equal(text(j), jsonString(s).slice(1, -1).replaceAll('"', '""'), `json case ${JSON.stringify(s).replace(/[^\x20-\x7e]/g, "?")}`);
    const c = new ByteOut(8);
    writeCsvField(c, src, 0, src.length);
    t.equal(text(c), csvField(s), `csv case ${JSON.stringify(s).replace(/[^\x20-\x7e]/g, "?")}`);
  }
  for (const ms of [0, 1714564800123, 1714564800120, 1714564800100, 1714564800001, -1]) {
    const o = new ByteOut(8);
    writeTimestamp(o, ms);
    t.equal(text(o), formatTimestamp(ms), `timestamp ${ms}`);
  }
});
