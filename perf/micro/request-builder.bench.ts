/**
 * How fast RequestBuilder alone builds snappy-compressed remote-write bodies, per protocol, with
 * per-group templates (the default when the series walk repeats) and without (every body encoded
 * from the pre-encoded labels / symbols).
 *
 *   taskset -c 1 npx tsx perf/micro/request-builder.bench.ts [--series 100000] [--labels 8]
 *       [--samples-per-request 2000] [--runs 5] [--run-ms 1000]
 *
 * Prints one line per variant: median requests/s and samples/s over the runs (wall clock, and per
 * CPU-second, which is what one core yields when other processes share it), and body sizes.
 */
import { parseArgs } from 'node:util';
import { RequestBuilder, type Protocol } from '../lib/request-builder.js';

const { values: v } = parseArgs({
  options: {
    series: { type: 'string', default: '100000' },
    metrics: { type: 'string', default: '100' },
    labels: { type: 'string', default: '8' },
    'label-values': { type: 'string', default: '300' },
    'samples-per-request': { type: 'string', default: '2000' },
    runs: { type: 'string', default: '5' },
    'run-ms': { type: 'string', default: '1000' },
  },
});

const base = {
  series: Number(v.series),
  metrics: Number(v.metrics),
  labels: Number(v.labels),
  labelValues: Number(v['label-values']),
  samplesPerRequest: Number(v['samples-per-request']),
  seed: 1,
};
const runs = Number(v.runs);
const runMs = Number(v['run-ms']);

const variants: Array<{ name: string; protocol: Protocol; templateBudgetBytes: number | undefined }> = [
  { name: 'v1 templates', protocol: 1, templateBudgetBytes: undefined },
  { name: 'v1 fresh', protocol: 1, templateBudgetBytes: 0 },
  { name: 'v2 templates', protocol: 2, templateBudgetBytes: undefined },
  { name: 'v2 fresh', protocol: 2, templateBudgetBytes: 0 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(`request-builder: ${JSON.stringify(base)}, median of ${runs} runs of ${runMs} ms`);
for (const variant of variants) {
  const builder = new RequestBuilder({ ...base, protocol: variant.protocol, templateBudgetBytes: variant.templateBudgetBytes });
  // Warm up the JIT and, with templates, encode every group once.
  const groups = Math.ceil(base.series / builder.samplesPerRequest);
  for (let i = 0; i < Math.max(200, groups * 2); i++) builder.next();
  const reqPerS: number[] = [];
  const reqPerCpuS: number[] = [];
  let rawBytes = 0;
  let bodyBytes = 0;
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < runMs) {
      for (let i = 0; i < 20; i++) {
        const built = builder.next();
        rawBytes = built.raw.length;
        bodyBytes = built.body.length;
      }
      n += 20;
      t = performance.now();
    }
    const cpu = process.cpuUsage(cpu0);
    reqPerS.push((n * 1000) / (t - t0));
    reqPerCpuS.push((n * 1e6) / (cpu.user + cpu.system));
  }
  const m = median(reqPerS);
  const mc = median(reqPerCpuS);
  const spr = builder.samplesPerRequest;
  console.log(
    `${variant.name.padEnd(13)} ${m.toFixed(0).padStart(6)} req/s ${((m * spr) / 1e6).toFixed(2).padStart(6)} M samples/s` +
      ` | per CPU-second: ${mc.toFixed(0).padStart(6)} req ${((mc * spr) / 1e6).toFixed(2).padStart(6)} M samples` +
      ` | raw ${(rawBytes / 1024).toFixed(0)} KiB -> snappy ${(bodyBytes / 1024).toFixed(0)} KiB` +
      ` | wall runs: ${reqPerS.map((x) => x.toFixed(0)).join(' ')}`,
  );
}
