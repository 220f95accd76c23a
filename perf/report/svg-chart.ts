/**
 * docs/performance.svg: per scenario, a group of bars per receiver in two panels: sustained
 * samples/s (linear, whiskers min–max over runs) and p99 latency at 80 % of it (log scale, with
 * the target). Plain standalone SVG 1.1 text: no scripts, no external fonts or styles, white
 * background so it reads on GitHub's dark theme too.
 *
 * Every bar is `<rect class="bar <panel>" data-scenario data-receiver data-protocol data-value>`;
 * the tests read them back.
 */
import type { PerfReport, ReceiverName, ReceiverResult } from '../harness/report-types.js';
import { escapeXml, formatCount, formatMs, formatSps } from './format.js';
import { RECEIVER_ORDER, sortedResults } from './load-reports.js';
import { TARGETS, throughputKey } from './targets.js';

export const RECEIVER_COLOR: Readonly<Record<ReceiverName, string>> = {
  'adx-ingestor': '#2563eb',
  'victoria-metrics': '#7c3aed',
  prometheus: '#e6522c',
};

/** Sizes in px. */
const LAYOUT = {
  minWidth: 720,
  marginLeft: 88,
  marginRight: 24,
  titleHeight: 34,
  legendHeight: 26,
  panelTitleHeight: 26,
  plotHeight: 200,
  xLabelHeight: 66,
  minSlotPerGroup: 200,
  barWidth: 40,
  barGap: 8,
  linearTicks: 5,
} as const;

interface Panel {
  kind: 'sustained' | 'p99';
  title: string;
  axisTitle: string;
  value: (r: ReceiverResult) => number;
  label: (v: number) => string;
}

const PANELS: readonly Panel[] = [
  {
    kind: 'sustained',
    title: 'Sustained samples/s (median; whiskers: min–max over runs; backlog drains: closed-model maximum)',
    axisTitle: 'samples/s',
    value: (r) => r.median[throughputKey(r.median)],
    label: formatSps,
  },
  {
    kind: 'p99',
    title: `p99 latency at 80 % of the sustained rate (log scale; target < ${TARGETS.p99At80Ms} ms)`,
    axisTitle: 'ms',
    value: (r) => r.median.p99At80Ms,
    label: (v) => `${formatMs(v)} ms`,
  },
];

type Attrs = Record<string, string | number>;

/** A white outline under value labels, so lines crossing them do not hide the digits. */
const HALO: Attrs = { stroke: '#ffffff', 'stroke-width': 3, 'paint-order': 'stroke' };

const num = (n: number) => String(Math.round(n * 100) / 100);

function el(name: string, attrs: Attrs, content?: string): string {
  const a = Object.entries(attrs).map(([k, v]) => ` ${k}="${escapeXml(typeof v === 'number' ? num(v) : v)}"`).join('');
  return content === undefined ? `<${name}${a}/>` : `<${name}${a}>${content}</${name}>`;
}

const text = (x: number, y: number, s: string, attrs: Attrs = {}) => el('text', { x, y, ...attrs }, escapeXml(s));

/** Linear axis: 0 to a round maximum at or above `max`, `LAYOUT.linearTicks` steps. */
export function linearTicks(max: number): number[] {
  const raw = max > 0 ? max / LAYOUT.linearTicks : 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const top = Math.ceil(max / step - 1e-9) * step || step;
  const ticks: number[] = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

/** Log axis: the decades around `values` (all > 0). */
export function logTicks(values: number[]): number[] {
  let lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  if (hi === lo) lo -= 1;
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return ticks;
}

interface Scale {
  ticks: number[];
  /** Height in px of a bar for value `v` (> 0). */
  height: (v: number) => number;
}

function scaleFor(panel: Panel, reports: PerfReport[]): Scale | undefined {
  const h = LAYOUT.plotHeight;
  const results = reports.flatMap((r) => r.results);
  if (panel.kind === 'sustained') {
    const ticks = linearTicks(Math.max(0, ...results.map((r) => {
      const k = throughputKey(r.median);
      return Math.max(r.median[k], r.max[k]);
    })));
    const top = ticks[ticks.length - 1]!;
    return { ticks, height: (v) => (v / top) * h };
  }
  const values = results.map(panel.value).filter((v) => v > 0);
  if (values.length === 0) return undefined;
  const ticks = logTicks([...values, TARGETS.p99At80Ms]);
  const lo = Math.log10(ticks[0]!);
  const span = Math.log10(ticks[ticks.length - 1]!) - lo;
  return { ticks, height: (v) => ((Math.log10(v) - lo) / span) * h };
}

function receiversIn(reports: PerfReport[]): ReceiverName[] {
  const present = new Set(reports.flatMap((r) => r.results.map((x) => x.receiver)));
  return RECEIVER_ORDER.filter((r) => present.has(r));
}

export function renderChart(reports: PerfReport[]): string {
  const L = LAYOUT;
  const mostBars = Math.max(1, ...reports.map((r) => r.results.length));
  const slot = Math.max(L.minSlotPerGroup, mostBars * (L.barWidth + L.barGap) + 40);
  const width = Math.max(L.minWidth, L.marginLeft + L.marginRight + reports.length * slot);
  const plotWidth = width - L.marginLeft - L.marginRight;
  const panelHeight = L.panelTitleHeight + L.plotHeight + L.xLabelHeight;
  const height = L.titleHeight + L.legendHeight + PANELS.length * panelHeight;
  const parts = [
    el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    text(width / 2, 22, 'adx-ingestor and peers: throughput and tail latency', { 'text-anchor': 'middle', 'font-size': 16, 'font-weight': 'bold' }),
    legend(receiversIn(reports), width, L.titleHeight),
  ];
  PANELS.forEach((panel, i) => {
    const top = L.titleHeight + L.legendHeight + i * panelHeight;
    parts.push(renderPanel(panel, reports, top, plotWidth));
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" fill="#111827">`,
    el('title', {}, 'adx-ingestor performance: sustained samples/s and p99 latency at 80 % per receiver and scenario'),
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function legend(receivers: ReceiverName[], width: number, y: number): string {
  const itemWidth = 150;
  let x = (width - receivers.length * itemWidth) / 2;
  const items = receivers.map((r) => {
    const item = el('rect', { x, y: y + 4, width: 12, height: 12, fill: RECEIVER_COLOR[r] }) + text(x + 18, y + 14, r);
    x += itemWidth;
    return item;
  });
  return el('g', { class: 'legend' }, items.join(''));
}

function renderPanel(panel: Panel, reports: PerfReport[], top: number, plotWidth: number): string {
  const L = LAYOUT;
  const left = L.marginLeft;
  const plotTop = top + L.panelTitleHeight;
  const baseline = plotTop + L.plotHeight;
  const parts = [text(left, top + 17, panel.title, { 'font-size': 13, 'font-weight': 'bold' })];
  const yTitleX = 18;
  const yTitleY = plotTop + L.plotHeight / 2;
  parts.push(text(yTitleX, yTitleY, panel.axisTitle, { 'text-anchor': 'middle', transform: `rotate(-90 ${yTitleX} ${num(yTitleY)})` }));
  const scale = scaleFor(panel, reports);
  if (scale === undefined) {
    parts.push(text(left + plotWidth / 2, plotTop + L.plotHeight / 2, 'not measured', { 'text-anchor': 'middle', fill: '#6b7280' }));
    return el('g', { class: `panel ${panel.kind}` }, parts.join(''));
  }
  for (const t of scale.ticks) {
    const y = baseline - scale.height(t);
    parts.push(el('line', { x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: '#e5e7eb' }));
    parts.push(text(left - 6, y + 4, panel.label(t), { 'text-anchor': 'end', 'font-size': 11 }));
  }
  parts.push(el('line', { x1: left, y1: baseline, x2: left + plotWidth, y2: baseline, stroke: '#374151' }));
  parts.push(el('line', { x1: left, y1: plotTop, x2: left, y2: baseline, stroke: '#374151' }));
  if (panel.kind === 'p99') {
    const y = baseline - scale.height(TARGETS.p99At80Ms);
    parts.push(el('line', { x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: '#dc2626', 'stroke-dasharray': '6 4' }));
    parts.push(text(left + plotWidth - 4, y - 4, `target ${TARGETS.p99At80Ms} ms`, { 'text-anchor': 'end', 'font-size': 11, fill: '#dc2626' }));
  }
  const slot = plotWidth / Math.max(1, reports.length);
  reports.forEach((report, g) => parts.push(renderGroup(panel, scale, report, left + g * slot, slot, baseline)));
  return el('g', { class: `panel ${panel.kind}` }, parts.join(''));
}

function renderGroup(panel: Panel, scale: Scale, report: PerfReport, x0: number, slot: number, baseline: number): string {
  const L = LAYOUT;
  const results = sortedResults(report);
  const groupWidth = results.length * L.barWidth + (results.length - 1) * L.barGap;
  let x = x0 + (slot - groupWidth) / 2;
  // Bars are told apart by colour (receiver); the sender is printed under them when it varies.
  const mixedSenders = new Set(results.map((r) => r.sender)).size > 1;
  const parts: string[] = [];
  for (const r of results) {
    const v = panel.value(r);
    const cx = x + L.barWidth / 2;
    if (v > 0) {
      const h = scale.height(v);
      const tip = `${report.scenario}, ${r.receiver} ← ${r.sender} (remote write ${r.protocol}): ${panel.label(v)}`;
      const attrs = {
        class: `bar ${panel.kind}`,
        'data-scenario': report.scenario,
        'data-receiver': r.receiver,
        'data-sender': r.sender,
        'data-protocol': r.protocol,
        'data-value': v,
        x,
        y: baseline - h,
        width: L.barWidth,
        height: h,
        fill: RECEIVER_COLOR[r.receiver],
      };
      parts.push(el('rect', attrs, el('title', {}, escapeXml(tip))));
      let labelY = baseline - h - 4;
      const k = throughputKey(r.median);
      if (panel.kind === 'sustained' && r.min[k] > 0 && r.max[k] > r.min[k]) {
        const yMin = baseline - scale.height(r.min[k]);
        const yMax = baseline - scale.height(r.max[k]);
        const whisker = { stroke: '#111827', 'stroke-width': 1.2 };
        parts.push(el('line', { x1: cx, y1: yMin, x2: cx, y2: yMax, ...whisker }));
        parts.push(el('line', { x1: cx - 5, y1: yMax, x2: cx + 5, y2: yMax, ...whisker }));
        parts.push(el('line', { x1: cx - 5, y1: yMin, x2: cx + 5, y2: yMin, ...whisker }));
        labelY = Math.min(labelY, yMax - 4);
      }
      parts.push(text(cx, labelY, panel.label(v), { 'text-anchor': 'middle', 'font-size': 10, ...HALO }));
    } else {
      parts.push(text(cx, baseline - 4, 'n/a', { 'text-anchor': 'middle', 'font-size': 10, fill: '#6b7280' }));
    }
    if (mixedSenders) parts.push(text(cx, baseline + 13, r.sender, { 'text-anchor': 'middle', 'font-size': 9, fill: '#4b5563' }));
    x += L.barWidth + L.barGap;
  }
  const cx = x0 + slot / 2;
  parts.push(text(cx, baseline + 30, report.scenario, { 'text-anchor': 'middle', 'font-size': 12 }));
  // Two short lines: one line of all three is wider than a group's slot and runs into the next.
  groupSubtitle(results).forEach((line, i) => parts.push(text(cx, baseline + 45 + 12 * i, line, { 'text-anchor': 'middle', 'font-size': 10, fill: '#4b5563' })));
  return el('g', { class: 'scenario', 'data-scenario': report.scenario }, parts.join(''));
}

/** ["remote write 1.0 · 100 k series", "from loadgen"] for what the group's results share. */
function groupSubtitle(results: ReceiverResult[]): string[] {
  const protocols = [...new Set(results.map((r) => r.protocol))];
  const series = [...new Set(results.map((r) => r.activeSeries))];
  const bits = [];
  if (protocols.length === 1) bits.push(`remote write ${protocols[0]}`);
  if (series.length === 1) bits.push(`${formatCount(series[0]!)} series`);
  const senders = [...new Set(results.map((r) => r.sender))];
  const lines = bits.length > 0 ? [bits.join(' · ')] : [];
  if (senders.length === 1) lines.push(`from ${senders[0]}`);
  return lines;
}
