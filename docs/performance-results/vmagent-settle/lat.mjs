// Diagnostic: request latency as vmagent sees it against the receiver's own histograms, at a fixed rate.
// From the repository root, after `npm run build`:
//   node docs/performance-results/vmagent-settle/lat.mjs [receiver=adx-ingestor] [samples/s=320000] [window s=30] [sender cpus=1]
// Receiver on core 0; vmagent and the 100 synthetic targets on the sender cpus; 15 s settle, then one window.
import { RECEIVERS, startReceiver } from '../../../dist/perf/harness/receivers.js';
import { REAL_SENDERS, startSender } from '../../../dist/perf/harness/real-senders.js';
import { startTargets } from '../../../dist/perf/harness/measure-scrape.js';
import { httpGet, makeTempDir, sleep, stopEverything, waitUntil } from '../../../dist/perf/harness/child-processes.js';
import { parsePromText, histogramBuckets, bucketDelta, tryQuantile } from '../../../dist/perf/harness/prom-text.js';
import { treeCpuSeconds } from '../../../dist/perf/harness/proc-stats.js';
const [recv = 'adx-ingestor', sps = '320000', winS = '30', senderCpus = '1'] = process.argv.slice(2);
const spec = RECEIVERS[recv];
const r = await startReceiver(spec, '0');
const targets = await startTargets({ targets: 100, metrics: 20 }, Number(sps) / 100, senderCpus);
const dir = makeTempDir('vmi-');
const s = await startSender(REAL_SENDERS.vmagent, { dir, targets: targets.addresses, intervalS: 1, writeUrl: r.writeUrl, cpus: senderCpus });
await waitUntil('up', async () => { const h = await s.targetHealth(); return h.active === 100 && h.notUp === 0; }, 30000);
await sleep(15000);
const read = async () => ({ v: parsePromText(await httpGet(s.metricsUrl)), r: parsePromText(await httpGet(r.metricsUrl)), cpuV: treeCpuSeconds(s.child.pid), cpuR: r.cpuSeconds(), at: Date.now() });
const a = await read();
await sleep(Number(winS) * 1000);
const b = await read();
const q = (name, m0, m1) => { const d = bucketDelta(histogramBuckets(m0, name), histogramBuckets(m1, name)); return [0.5, 0.9, 0.99].map((x) => ((tryQuantile(d, x) ?? 0) * 1000).toFixed(1)).join('/'); };
const w = (b.at - a.at) / 1000;
console.log(`${recv} @${sps} sender cpus ${senderCpus}: vmagent ${((b.cpuV - a.cpuV) / w).toFixed(2)} cores, receiver ${((b.cpuR - a.cpuR) / w).toFixed(2)}`);
console.log(`  vmagent remote-write duration p50/p90/p99 ms: ${q('vmagent_remotewrite_duration_seconds', a.v, b.v)}`);
for (const n of ['adxmon_ingestor_request_duration_seconds', 'adxmon_ingestor_wal_flush_duration_seconds', 'adxmon_ingestor_wal_flush_wait_seconds']) {
  if (histogramBuckets(b.r, n).length) console.log(`  ${n} p50/p90/p99 ms: ${q(n, a.r, b.r)}`);
}
await stopEverything(3000);
process.exit(0);
