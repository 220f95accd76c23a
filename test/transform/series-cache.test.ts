import t from 'tap';
import { SeriesCache } from '../../src/transform/series-cache.js';

const key = (i: number) => Buffer.from(`series-key-${i}-${'x'.repeat(40)}`);
const middle = Buffer.from(',123,"{}",');

function lookup(c: SeriesCache, i: number): boolean {
  const k = key(i);
  if (c.find(k, 0, k.length) >= 0) return true;
  c.insert(k, 0, k.length, middle, middle.length, i % 7);
  return false;
}

t.test('hits return what was inserted', async (t) => {
  const c = new SeriesCache(1 << 20);
  for (let i = 0; i < 100; i++) lookup(c, i);
  for (let i = 0; i < 100; i++) {
    const k = key(i);
    const e = c.find(k, 0, k.length);
    t.ok(e >= 0);
    t.equal(c.tableOf(e), i % 7);
    const out = Buffer.alloc(64);
    t.equal(out.subarray(0, c.copyMiddle(e, out, 0)).toString(), middle.toString());
  }
  t.equal(c.hits, 100);
});

t.test('a working set larger than the cache: keeps what it holds instead of churning', async (t) => {
  const c = new SeriesCache(8192); // ~100 entries
  for (let pass = 0; pass < 5; pass++) for (let i = 0; i < 1000; i++) lookup(c, i);
  const held = c.entries;
  t.ok(held > 50 && held < 1000, `${held} entries held`);
  t.ok(c.hits >= 4 * held * 0.9, `cyclic passes still hit the held entries (${c.hits} hits)`);
});

t.test('a working set that fits: a full cache of departed series starts over', async (t) => {
  const c = new SeriesCache(8192);
  for (let round = 0; round < 20; round++) for (let i = 0; i < 20; i++) lookup(c, round * 5 + i); // slow churn
  t.ok(c.entries < 150, `${c.entries} entries after churn: cleared rather than saturated`);
  const before = c.hits;
  for (let i = 0; i < 20; i++) lookup(c, 95 + i);
  t.ok(c.hits - before >= 15, 'the current working set hits');
});

t.test('the slot table grows with the entries and keeps them all', async (t) => {
  const c = new SeriesCache(8 << 20);
  for (let i = 0; i < 20_000; i++) lookup(c, i);
  t.equal(c.entries, 20_000);
  let hits = 0;
  for (let i = 0; i < 20_000; i++) if (lookup(c, i)) hits++;
  t.equal(hits, 20_000, 'every entry is found after growing');
});
