import t from 'tap';
import { parsePromText } from '../../../perf/harness/prom-text.js';
import { TargetExposition } from '../../../perf/harness/target-exposition.js';

function seriesKey(s: { name: string; labels: Readonly<Record<string, string>> }): string {
  return `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
}

t.test('the page parses back to exactly `series` distinct series over `metrics` families', async (t) => {
  const page = new TargetExposition({ series: 1003, metrics: 20 });
  const text = page.render(1).toString('latin1');
  const samples = parsePromText(text);
  t.equal(samples.length, 1003);
  t.equal(new Set(samples.map(seriesKey)).size, 1003, 'all distinct');
  t.equal(new Set(samples.map((s) => s.name)).size, 20);
  t.equal(text.match(/^# TYPE /gm)?.length, 20, 'one TYPE line per family');
  t.equal(text.match(/^# HELP /gm)?.length, 20);
  t.ok(samples.every((s) => /^synthetic_metric_\d\d(_total)?$/.test(s.name)));
  // Families are contiguous, as the text format wants.
  const order = samples.map((s) => s.name).filter((n, i, all) => i === 0 || all[i - 1] !== n);
  t.equal(order.length, 20);
  t.equal(page.bytes, Buffer.byteLength(text));
});

t.test('more series add to the page; the others keep their names', async (t) => {
  const small = new Set(parsePromText(new TargetExposition({ series: 1000, metrics: 20 }).render(1).toString()).map(seriesKey));
  const big = new Set(parsePromText(new TargetExposition({ series: 1500, metrics: 20 }).render(1).toString()).map(seriesKey));
  t.equal(big.size, 1500);
  t.ok([...small].every((k) => big.has(k)), 'every series of the smaller page is on the bigger one');
});

t.test('every value changes on every scrape; counters only grow', async (t) => {
  const page = new TargetExposition({ series: 500, metrics: 7 });
  const scrapes = [1, 2, 3, 50].map((n) => parsePromText(page.render(n).toString('latin1')));
  for (let k = 1; k < scrapes.length; k++) {
    const prev = scrapes[k - 1]!;
    const cur = scrapes[k]!;
    t.same(cur.map(seriesKey), prev.map(seriesKey), 'same series in the same order');
    t.ok(cur.every((s, i) => s.value !== prev[i]!.value), `scrape ${k}: every value changed`);
    t.ok(cur.every((s, i) => !s.name.endsWith('_total') || s.value > prev[i]!.value), `scrape ${k}: counters grew`);
  }
  t.ok(scrapes.flat().every((s) => Number.isInteger(s.value) && s.value >= 1e9 && s.value < 2e9), 'fixed-width 10-digit values');
  t.equal(page.valueAt(3, 2), scrapes[1]!.find((s) => s.labels.series === '3')!.value, 'valueAt agrees with the page');
});

t.test('each render is a fresh buffer of the same size', async (t) => {
  const page = new TargetExposition({ series: 10, metrics: 100 });
  const a = page.render(1);
  const b = page.render(2);
  t.not(a, b);
  t.equal(a.length, b.length);
  t.equal(parsePromText(a.toString()).length, 10, 'more families than series: one series each');
  t.throws(() => new TargetExposition({ series: 0, metrics: 1 }), RangeError);
});
