import t from 'tap';
import { ArrivalGaps } from '../../src/wal/arrival-gaps.js';

t.test('writes closer together than the window expect company; sparse ones do not', async (t) => {
  const a = new ArrivalGaps();
  t.equal(a.next(1000, 5), false, 'the first write never waits');
  t.equal(a.meanMs, Number.POSITIVE_INFINITY);
  t.equal(a.next(1002, 5), true, 'a 2 ms gap: the next is expected within 5 ms');
  t.equal(a.meanMs, 2);
  let now = 1002;
  for (let i = 0; i < 20; i++) a.next((now += 3), 5);
  t.ok(Math.abs(a.meanMs - 3) < 0.1, `steady 3 ms gaps → mean ${a.meanMs}`);
  t.equal(a.next((now += 20), 5), false, 'one 20 ms gap lifts the mean over 5 ms (3 + 17/4)');
  for (let i = 0; i < 10; i++) t.equal(a.next((now += 20), 5), false, 'a Prometheus shard sending every 20 ms is written at once');
  for (let i = 0; i < 10; i++) a.next((now += 1), 5);
  t.equal(a.next((now += 1), 5), true, 'back to a burst: waits for company again');
  t.equal(a.next(now - 50, 5), true, 'a clock going backwards counts as a 0 gap');
});
