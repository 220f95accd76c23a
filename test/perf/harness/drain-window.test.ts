import t from 'tap';
import { drained, drainWindow, type DrainPoll } from '../../../perf/harness/drain-window.js';

/** Polls every 500 ms: `stored` rises by `perPoll` until it reaches `total`, CPU 0.4 s per poll. */
function polls(n: number, perPoll: number, total: number): DrainPoll[] {
  return Array.from({ length: n }, (_, i) => ({ atMs: 500 * (i + 1), stored: Math.min(total, perPoll * (i + 1)), cpuS: 0.4 * (i + 1) }));
}

t.test('the window runs from the first poll after the warm-up to the last rise', async (t) => {
  // 100 k per 500 ms (200 k/s) until 2 M (poll 20, 10 s), then flat until poll 30.
  const p = polls(30, 100_000, 2_000_000);
  const w = drainWindow(p, 2000, 1000);
  if (typeof w === 'string') return t.fail(w);
  t.equal(w.from.atMs, 2000, 'first poll at or after the warm-up');
  t.equal(w.to.atMs, 10_000, 'the idle tail is left out');
  t.equal(w.sps, 200_000);
  t.equal(Math.round(w.cpuCores * 1000) / 1000, 0.8);
});

t.test('no window: nothing after the warm-up, or too short a drain', async (t) => {
  t.match(drainWindow(polls(3, 100, 300), 5000, 1000), /no poll after the 5 s warm-up/);
  // Gone at 1.5 s: after a 1 s warm-up only 0.5 s remain.
  t.match(drainWindow(polls(10, 100_000, 300_000), 1000, 2000), /leaving 0\.5 s after the warm-up .*fill a larger backlog/);
  t.match(drainWindow(polls(10, 100_000, 100_000), 500, 0), /leaving 0\.0 s/, 'a single poll is no window even without a minimum');
});

t.test('drained: nothing pending and the counter flat long enough', async (t) => {
  const p = polls(10, 100_000, 600_000); // flat from poll 6 (3 s) to poll 10 (5 s)
  t.ok(drained(p, 0, 2000), 'flat for 2 s');
  t.notOk(drained(p, 0, 2500), 'not flat for 2.5 s');
  t.notOk(drained(p, 1024, 100), 'bytes still pending at the sender');
  t.notOk(drained(polls(10, 0, 0), 0, 100), 'nothing stored yet: the drain has not started');
  t.notOk(drained([], 0, 0));
});
