import t from 'tap';
import { MAX_LABELS, seriesTemplate, seriesWindow } from '../../../perf/k6/lib/series-template.ts';

/**
 * What the xk6 extension does with a template value (its remote_write.go compileTemplate): the
 * first `${series_id}`, `${series_id/N}` or `${series_id%N}` is replaced, the rest copied.
 */
function expand(value: string, id: number): string {
  const m = /\$\{series_id(?:([/%])(\d+))?\}/.exec(value);
  if (!m) return value;
  const n = Number(m[2]);
  const x = m[1] === '/' ? Math.floor(id / n) : m[1] === '%' ? id % n : id;
  return value.slice(0, m.index) + String(x) + value.slice(m.index + m[0].length);
}

t.test('loadgen\'s shape: SERIES distinct series, METRICS names, LABELS labels, LABEL_VALUES values per label', async (t) => {
  const shape = { series: 100_000, metrics: 100, labels: 8, labelValues: 300 };
  const template = seriesTemplate(shape);
  const names = Object.keys(template);
  t.same(names, ['__name__', 'instance', 'job', 'namespace', 'pod', 'container', 'node', 'service', 'endpoint'], 'loadgen\'s label names, in order');
  for (const v of Object.values(template)) t.ok((v.match(/\$\{series_id/g) ?? []).length <= 1, `one substitution in ${v}`);
  const sets = new Set<string>();
  const values = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
  for (let id = 0; id < shape.series; id++) {
    const labels = names.map((n) => expand(template[n]!, id));
    labels.forEach((v, k) => values.get(names[k]!)!.add(v));
    sets.add(labels.join('\u0000'));
  }
  t.equal(sets.size, shape.series, 'every series distinct');
  t.equal(values.get('__name__')!.size, 100);
  for (const n of names.slice(2)) t.ok(values.get(n)!.size <= 300, `${n}: at most 300 values`);
});

t.test('labels outside 1..20 are refused', async (t) => {
  t.throws(() => seriesTemplate({ series: 10, metrics: 10, labels: 0, labelValues: 10 }), /LABELS/);
  t.throws(() => seriesTemplate({ series: 10, metrics: 10, labels: MAX_LABELS + 1, labelValues: 10 }), /LABELS/);
});

t.test('windows walk the series round-robin, one sample per series per request', async (t) => {
  t.same(seriesWindow(0, 100_000, 2000), { start: 0, end: 2000 });
  t.same(seriesWindow(49, 100_000, 2000), { start: 98_000, end: 100_000 });
  t.same(seriesWindow(50, 100_000, 2000), { start: 0, end: 2000 });
  t.same(seriesWindow(3, 1000, 300), { start: 900, end: 1000 }, 'the last of a pass is shorter');
  t.same(seriesWindow(4, 1000, 300), { start: 0, end: 300 }, 'then the next pass starts');
  t.same(seriesWindow(7, 10, 2000), { start: 0, end: 10 }, 'never more than the series');
  const seen = new Uint8Array(1000);
  for (let n = 0; n < 8; n++) {
    const { start, end } = seriesWindow(n, 1000, 300);
    for (let i = start; i < end; i++) seen[i]!++;
  }
  t.ok(seen.every((c) => c === 2), 'two passes: every series twice');
});
