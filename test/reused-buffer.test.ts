import t from 'tap';
import { ReusedBuffer } from '../src/reused-buffer.js';

t.test('one buffer serves every call that fits in it', async (t) => {
  const r = new ReusedBuffer(1024, 1 << 20);
  const first = r.current;
  t.equal(first.length, 1024);
  t.equal(r.atLeast(10), first, 'smaller: the same buffer');
  t.equal(r.atLeast(1024), first, 'exactly its size: the same buffer');
});

t.test('it grows at least twofold and keeps what it grew', async (t) => {
  const r = new ReusedBuffer(1000, 1 << 20);
  const grown = r.atLeast(1001);
  t.equal(grown.length, 2000, 'one byte more: doubled, not grown by a byte');
  t.equal(r.current, grown, 'kept');
  t.equal(r.atLeast(1500), grown, 'and reused');
  t.equal(r.atLeast(50_000).length, 50_000, 'far more: the size asked for');
  const empty = new ReusedBuffer(0, 1 << 20);
  t.equal(empty.atLeast(7).length, 7, 'from nothing: the size asked for');
});

t.test('a buffer over the keep limit serves one call and is let go', async (t) => {
  const r = new ReusedBuffer(1 << 10, 1 << 16);
  const kept = r.atLeast(1 << 15);
  const huge = r.atLeast((1 << 16) + 1);
  t.equal(huge.length, (1 << 16) + 1);
  t.equal(r.current, kept, 'the last buffer within the limit stays');
  t.not(r.atLeast((1 << 16) + 1), huge, 'the next huge call gets a buffer of its own again');
  t.equal(r.atLeast(1 << 16).length, 1 << 16, 'doubling is capped at the limit, so the buffer stays kept');
  t.equal(r.current.length, 1 << 16);
});
