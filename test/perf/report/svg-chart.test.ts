import t from 'tap';
import { renderChart } from '../../../perf/report/svg-chart.js';
import { fixtureReports } from '../../helpers/perf-report-fixture.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
}

/**
 * A strict little XML reader for what renderChart writes: every tag closed in order, attributes
 * double-quoted, text free of raw `<` and of `&` that is not an entity. Throws on anything else.
 */
function parseXml(xml: string): { root: Element; elements: Element[] } {
  const body = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n/, '');
  if (body === xml) throw new Error('no XML declaration');
  const stack: string[] = [];
  const elements: Element[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const textEnd = lt === -1 ? body.length : lt;
    const text = body.slice(i, textEnd);
    if (/&(?!amp;|lt;|gt;|quot;|apos;|#\d+;)/.test(text)) throw new Error(`bare & in text: ${text}`);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${text}`);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) throw new Error(`malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (elements.length > 0 && stack.length === 0) throw new Error('second root element');
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`);
        attrs[a[1]!] = a[2]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      }
      elements.push({ name: name!, attrs });
      if (!selfClosing) stack.push(name!);
    }
    i = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(' > ')}`);
  return { root: elements[0]!, elements };
}

const { current } = fixtureReports();
const svg = renderChart(current);
const { root, elements } = parseXml(svg);
const bars = (kind: string) => elements.filter((e) => e.name === 'rect' && e.attrs.class === `bar ${kind}`);

t.test('a standalone SVG with its size and a generic font', async (t) => {
  t.equal(root.name, 'svg');
  t.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  t.match(root.attrs.width, /^\d+$/);
  t.match(root.attrs.height, /^\d+$/);
  t.equal(root.attrs.viewBox, `0 0 ${root.attrs.width} ${root.attrs.height}`);
  t.equal(root.attrs['font-family'], 'sans-serif');
  t.notMatch(svg, /<script|href=|@import|url\(/, 'nothing external, nothing active');
});

t.test('the reader used here rejects what a browser would', async (t) => {
  t.throws(() => parseXml(svg.replace('</svg>', '')), /unclosed/);
  t.throws(() => parseXml(svg.replace('<g class="legend">', '<g class="legend"><g>')), /closes|unclosed/);
  t.throws(() => parseXml(svg.replace('adx-ingestor and peers', 'adx & peers')), /bare &/);
});

t.test('one bar per receiver (and sender) per scenario in each panel, heights proportional to the values', async (t) => {
  const key = (scenario: string, receiver: string, sender: string) => `${scenario}/${receiver}/${sender}`;
  const expected = current.flatMap((r) => r.results.map((x) => key(r.scenario, x.receiver, x.sender))).sort();
  t.equal(expected.length, 5);
  for (const kind of ['sustained', 'p99']) {
    t.same(bars(kind).map((b) => key(b.attrs['data-scenario']!, b.attrs['data-receiver']!, b.attrs['data-sender']!)).sort(), expected, kind);
  }
  const sustained = bars('sustained');
  for (const b of sustained) {
    const want = current
      .find((r) => r.scenario === b.attrs['data-scenario'])!
      .results.find((x) => x.receiver === b.attrs['data-receiver'] && x.sender === b.attrs['data-sender'])!;
    t.equal(Number(b.attrs['data-value']), want.median.sustainedSps, `${key(b.attrs['data-scenario']!, want.receiver, want.sender)} value`);
  }
  const perUnit = sustained.map((b) => Number(b.attrs.height) / Number(b.attrs['data-value']));
  t.ok(Math.max(...perUnit) / Math.min(...perUnit) < 1.005, `linear: height / value constant (${perUnit.join(', ')})`);
  const bottoms = sustained.map((b) => Number(b.attrs.y) + Number(b.attrs.height));
  t.ok(Math.max(...bottoms) - Math.min(...bottoms) < 0.02, 'bars stand on one baseline');
  // Log scale: height differences proportional to differences of log10(value).
  const p99 = bars('p99').map((b) => ({ h: Number(b.attrs.height), v: Number(b.attrs['data-value']) }));
  const slopes = p99.slice(1).map((b) => (b.h - p99[0]!.h) / (Math.log10(b.v) - Math.log10(p99[0]!.v)));
  t.ok(Math.max(...slopes) / Math.min(...slopes) < 1.005, `log: constant px per decade (${slopes.join(', ')})`);
  t.ok(p99.every((b) => b.h > 0));
});

t.test('values printed on the bars, legend, axis titles, the p99 target line', async (t) => {
  for (const label of ['1.60 M', '1.00 M', '500 k', '1.20 M', '42 ms', '120 ms', '75 ms']) t.match(svg, `>${label}</text>`, label);
  for (const name of ['adx-ingestor', 'victoria-metrics', 'prometheus']) t.match(svg, new RegExp(`<g class="legend">.*>${name}</text>`), `legend ${name}`);
  t.match(svg, '>samples/s</text>');
  t.match(svg, '>ms</text>');
  t.match(svg, '>target 50 ms</text>');
  t.match(svg, '>rw1-100k</text>');
  t.match(svg, '>remote write 1.0 · 1 M series</text>', 'what a group shares');
  t.match(svg, '>from loadgen</text>', 'and the sender, on a line of its own');
  t.match(svg, '>remote write 1.0 · 100 k series</text>', 'senders differ in rw1-100k');
  t.equal(svg.split('>vmagent</text>').length - 1, 2, 'so each bar is labelled with its sender, in both panels');
});

t.test('scenario names are escaped', async (t) => {
  const odd = { ...current[1]!, scenario: 'a<b & "c"' };
  const parsed = parseXml(renderChart([odd]));
  t.same(parsed.elements.filter((e) => e.attrs.class === 'bar sustained').map((e) => e.attrs['data-scenario']), ['a<b & "c"']);
});
