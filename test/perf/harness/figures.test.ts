import t from 'tap';
import { computeRatios, FIGURE_KEYS, median, round, spreadPct, summarize } from '../../../perf/harness/figures.js';
import type { Figures, ReceiverResult } from '../../../perf/harness/report-types.js';

function figures(x: number): Figures {
  return { sustainedSps: 100_000 * x, maxSps: 200_000 * x, p50At50Ms: x, p99At50Ms: 10 * x, p50At80Ms: 2 * x, p99At80Ms: 20 * x, cpuCores: 0.5 * x, peakRssMiB: 100 * x };
}

function result(receiver: ReceiverResult['receiver'], runs: Figures[], extra: Partial<ReceiverResult> = {}): ReceiverResult {
  return { receiver, sender: 'loadgen', protocol: '1.0', receiverCpus: '0', senderCpus: '1', activeSeries: 100_000, runs, ...summarize(runs), notes: [], ...extra };
}

t.test('median of odd and even counts, unsorted input left alone', async (t) => {
  const xs = [5, 1, 3];
  t.equal(median(xs), 3);
  t.same(xs, [5, 1, 3], 'input not sorted in place');
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])));
});

t.test('summarize: median, min and max per figure', async (t) => {
  const s = summarize([figures(3), figures(1), figures(2)]);
  t.same(s.median, figures(2));
  t.same(s.min, figures(1));
  t.same(s.max, figures(3));
  const none = summarize([]);
  for (const k of FIGURE_KEYS) t.equal(none.median[k], 0, `${k} is 0 without runs`);
});

t.test('spread is (max - min) / median in percent', async (t) => {
  t.equal(spreadPct(90, 110, 100), 20);
  t.equal(spreadPct(0, 0, 0), 0);
  t.equal(round(1234.567), 1235);
  t.equal(round(1.23456), 1.235);
});

t.test('ratios: adx-ingestor median over each peer median with the same sender and protocol', async (t) => {
  const results = [
    result('adx-ingestor', [figures(2), figures(2), figures(2)]),
    result('victoria-metrics', [figures(1), figures(1), figures(1)]),
    result('prometheus', [{ ...figures(4), maxSps: 0 }]),
  ];
  const ratios = computeRatios(results);
  t.equal(ratios['victoria-metrics']?.sustainedSps, 2);
  t.equal(ratios['victoria-metrics']?.peakRssMiB, 2);
  t.equal(ratios.prometheus?.sustainedSps, 0.5);
  t.notOk('maxSps' in ratios.prometheus!, 'a figure the peer did not measure has no ratio');
  t.notOk('adx-ingestor' in ratios, 'no ratio to itself');
});

t.test('ratios: peers measured with another sender or protocol have no partner', async (t) => {
  const ratios = computeRatios([
    result('adx-ingestor', [figures(1)], { protocol: '2.0' }),
    result('victoria-metrics', [figures(1)]),
    result('prometheus', [figures(1)], { sender: 'vmagent' }),
  ]);
  t.same(ratios, {});
});
