import t from 'tap';
import { judgeOpenProbe, type LoadgenResult } from '../../../perf/harness/loadgen-probe.js';
import type { SenderReading, TargetHealth } from '../../../perf/harness/real-senders.js';
import { judgeSenderWindow, scrapesSettled, type SenderWindow } from '../../../perf/harness/sender-verdict.js';

const shape = { connections: 32, samplesPerRequest: 2000 };

function loadgen(extra: Partial<LoadgenResult> = {}): LoadgenResult {
  return {
    durationS: 10,
    requests: 2000,
    samplesSent: 4_000_000,
    samplesAcked: 4_000_000,
    samplesPerSec: 400_000,
    latencyMs: { p50: 4, p90: 10, p99: 30, max: 80 },
    statusCounts: { '204': 2000 },
    late: 0,
    unsent: 0,
    generatorCpuS: 3,
    ...extra,
  };
}

t.test('open-model probe: what passes and why one fails', async (t) => {
  t.same(judgeOpenProbe(loadgen(), shape), { ok: true, reasons: [] });
  t.ok(judgeOpenProbe(loadgen({ samplesAcked: 4_000_000 - 32 * 2000 }), shape).ok, 'in flight at the window end is allowed');
  t.ok(judgeOpenProbe(loadgen({ samplesAcked: 4_010_000 }), shape).ok, 'warm-up requests acknowledged inside the window are fine');
  t.ok(judgeOpenProbe(loadgen({ late: 20, unsent: 1 }), shape).ok, '1 % late, one request lost to the window-end timer');
  const cases: Array<[Partial<LoadgenResult>, RegExp]> = [
    [{ statusCounts: { '204': 1990, '503': 10 } }, /not 2xx: 503×10/],
    [{ statusCounts: { '204': 1990, ECONNRESET: 10 } }, /ECONNRESET×10/],
    [{ samplesAcked: 3_000_000 }, /acknowledged 3000000 of 4000000/],
    [{ late: 21 }, /21 of 2000 requests started late/],
    [{ unsent: 5 }, /5 requests due were never sent/],
    [{ latencyMs: { p50: 100, p90: 500, p99: 1000, max: 2000 } }, /p99 1000 ms/],
    [{ requests: 0, statusCounts: {} }, /no request completed/],
  ];
  for (const [extra, why] of cases) {
    const v = judgeOpenProbe(loadgen(extra), shape);
    t.notOk(v.ok, `fails: ${why}`);
    t.match(v.reasons.join('; '), why);
  }
});

function reading(extra: Partial<SenderReading> = {}): SenderReading {
  return { lost: 0, retries: 0, scrapeFailures: 0, pending: 1000, lagS: 1, requestDurations: [{ lower: 0, upper: 0.01, count: 0 }, { lower: 0.01, upper: 0.1, count: 0 }], ...extra };
}

function window(extra: Partial<SenderWindow> = {}): SenderWindow {
  const health = { active: 10, notUp: 0, notUpSummary: '', slowestScrapeS: 0.05 };
  return {
    windowS: 10,
    intervalS: 1,
    targets: 10,
    start: reading(),
    end: reading({ requestDurations: [{ lower: 0, upper: 0.01, count: 90 }, { lower: 0.01, upper: 0.1, count: 10 }] }),
    polls: Array.from({ length: 9 }, () => reading()),
    health: Array.from({ length: 10 }, () => health),
    scrapesServed: 100,
    samplesServed: 100_000,
    normalPending: 10_000,
    ...extra,
  };
}

t.test('real sender window: intake, latency, and keeping up', async (t) => {
  const r = judgeSenderWindow(window());
  t.ok(r.ok, r.reasons.join('; '));
  t.equal(r.intakeSps, 10_000);
  t.ok(r.p50Ms > 0 && r.p50Ms <= 10, `p50 ${r.p50Ms}`);
  t.ok(r.p99Ms > 10 && r.p99Ms <= 100, `p99 ${r.p99Ms}`);
  const growing = Array.from({ length: 9 }, (_, i) => reading({ pending: 20_000 * (i + 1) }));
  const cases: Array<[Partial<SenderWindow>, RegExp]> = [
    [{ end: reading({ lost: 3 }) }, /3 dropped or failed/],
    [{ end: reading({ retries: 2 }) }, /2 retries/],
    [{ end: reading({ scrapeFailures: 1 }) }, /1 scrapes failed/],
    [{ health: [{ active: 10, notUp: 2, notUpSummary: 'down×2 (connection refused)', slowestScrapeS: 0.1 }] }, /2 targets not up: down×2 \(connection refused\)/],
    [{ health: [{ active: 7, notUp: 0, notUpSummary: '', slowestScrapeS: 0.1 }] }, /only 7 of 10 targets active/],
    [{ health: [{ active: 10, notUp: 0, notUpSummary: '', slowestScrapeS: 1.5 }] }, /a scrape took 1.50 s/],
    [{ scrapesServed: 50 }, /50 scrapes served/],
    [{ polls: growing, end: reading({ pending: 200_000 }) }, /backlog grew/],
    [{ polls: [reading({ lagS: 8 })] }, /8.0 s behind/],
    [{ receiverStoredSps: 7_000 }, /the receiver stored 7000\/s of 10000\/s scraped/],
  ];
  for (const [extra, why] of cases) {
    const v = judgeSenderWindow(window(extra));
    t.notOk(v.ok, `fails: ${why}`);
    t.match(v.reasons.join('; '), why);
  }
  t.ok(judgeSenderWindow(window({ polls: [reading({ pending: 9000 })], end: reading({ pending: 9500 }) })).ok, 'a backlog within the normal size is fine');
  t.ok(judgeSenderWindow(window({ receiverStoredSps: 8_500 })).ok, 'storing 85 % in a short window is within batch lumpiness');
  t.ok(judgeSenderWindow(window({ receiverStoredSps: 14_000 })).ok, 'storing more (a backlog draining) is fine');
});

t.test('a sender has settled after a change of rate once every target is up and scraped well within the interval', async (t) => {
  const h = (extra: Partial<TargetHealth>): TargetHealth => ({ active: 100, notUp: 0, notUpSummary: '', slowestScrapeS: 0.05, ...extra });
  t.ok(scrapesSettled(h({}), 100, 1), 'steady scrapes of 50 ms');
  t.ok(scrapesSettled(h({ slowestScrapeS: 0.5 }), 100, 1), 'half the interval is still settled');
  t.notOk(scrapesSettled(h({ slowestScrapeS: 0.51 }), 100, 1), 'a scrape of over half the interval: still digesting new series');
  t.notOk(scrapesSettled(h({ slowestScrapeS: 4.2 }), 100, 1), 'the 4.2 s scrape seen while vmagent took in 200 k new series');
  t.ok(scrapesSettled(h({ slowestScrapeS: 4.2 }), 100, 10), 'the same scrape within a 10 s interval');
  t.notOk(scrapesSettled(h({ notUp: 1, notUpSummary: 'down×1 (timeout)' }), 100, 1), 'a target down');
  t.notOk(scrapesSettled(h({ active: 99 }), 100, 1), 'a target not yet active');
});
