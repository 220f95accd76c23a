// Diagnostic: the harness's climb (100k, 200k, 400k steps of 16 s) with per-second readings of
// vmagent (CPU, scrapes, remote write, GC, heap), the targets, the receiver and both cores.
// From the repository root, after `npm run build`:
//   node docs/performance-results/vmagent-settle/climb.mjs <receiver> [rates=100000,200000,400000] [step s=16]
import { RECEIVERS, startReceiver } from '../../../dist/perf/harness/receivers.js';
import { REAL_SENDERS, startSender } from '../../../dist/perf/harness/real-senders.js';
import { startTargets } from '../../../dist/perf/harness/measure-scrape.js';
import { httpGet, makeTempDir, sleep, stopEverything, waitUntil } from '../../../dist/perf/harness/child-processes.js';
import { parsePromText } from '../../../dist/perf/harness/prom-text.js';
import { treeCpuSeconds } from '../../../dist/perf/harness/proc-stats.js';
import fs from 'node:fs';
const [recv, rates = '100000,200000,400000', stepS = '16'] = process.argv.slice(2);
const r = await startReceiver(RECEIVERS[recv], '0');
const targets = await startTargets({ targets: 100, metrics: 20 }, 1, '1');
const dir = makeTempDir('vmi-');
const s = await startSender(REAL_SENDERS.vmagent, { dir, targets: targets.addresses, intervalS: 1, writeUrl: r.writeUrl, cpus: '1' });
await waitUntil('up', async () => { const h = await s.targetHealth(); return h.active === 100 && h.notUp === 0; }, 30000);
const snap = async () => parsePromText(await httpGet(s.metricsUrl));
/** Sum over the series of the metrics whose name `re` matches. */
const sum = (m, re) => m.filter((x) => re.test(x.name)).reduce((t, x) => t + x.value, 0);
const proc = () => { const l = fs.readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => l.split(/\s+/).slice(1, 8).map(Number)); return l.map((f) => ({ busy: f[0] + f[1] + f[2] + f[5] + f[6], all: f.reduce((a, b) => a + b, 0) })); };
let prev = { m: await snap(), v: treeCpuSeconds(s.child.pid), t: treeCpuSeconds(targets.child.pid), r: r.cpuSeconds(), p: proc(), at: Date.now() };
const t0 = Date.now();
for (const rate of rates.split(',').map(Number)) {
  await targets.setSeries(rate / 100);
  for (let i = 0; i < Number(stepS); i++) {
    await sleep(1000);
    const cur = { m: await snap(), v: treeCpuSeconds(s.child.pid), t: treeCpuSeconds(targets.child.pid), r: r.cpuSeconds(), p: proc(), at: Date.now() };
    const w = (cur.at - prev.at) / 1000;
    const d = (re) => (sum(cur.m, re) - sum(prev.m, re)) / w;
    const h = await s.targetHealth();
    const core = cur.p.map((c, j) => ((c.busy - prev.p[j].busy) / (c.all - prev.p[j].all)).toFixed(2));
    console.log(`${((cur.at - t0) / 1000).toFixed(0).padStart(3)}s ${rate / 1000}k vmagent ${((cur.v - prev.v) / w).toFixed(2)} targets ${((cur.t - prev.t) / w).toFixed(2)} recv ${((cur.r - prev.r) / w).toFixed(2)} cores ${core.join('/')} scraped ${(d(/^vm_promscrape_scraped_samples_sum/) / 1000).toFixed(0)}k sent ${(d(/^vmagent_remotewrite_block_size_rows_sum/) / 1000).toFixed(0)}k req ${d(/^vmagent_remotewrite_requests_total/).toFixed(0)} reqdur ${(d(/^vmagent_remotewrite_duration_seconds_sum/) / Math.max(1, d(/^vmagent_remotewrite_duration_seconds_count/)) * 1000).toFixed(0)}ms scrapedur ${(d(/^vm_promscrape_scrape_duration_seconds_sum/) / Math.max(1, d(/^vm_promscrape_scrape_duration_seconds_count/)) * 1000).toFixed(0)}ms slowest ${h.slowestScrapeS.toFixed(2)} down ${h.notUp} pend ${(sum(cur.m, /^vmagent_remotewrite_pending_data_bytes/) / 1e6).toFixed(1)}MB gc ${d(/^go_gc_duration_seconds_count/).toFixed(1)} heap ${(sum(cur.m, /^go_memstats_heap_inuse_bytes/) / 1e6).toFixed(0)}MB alloc ${(d(/^go_memstats_alloc_bytes_total/) / 1e6).toFixed(0)}MB/s`);
    prev = cur;
  }
}
await stopEverything(3000);
process.exit(0);
