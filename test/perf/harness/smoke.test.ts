/**
 * End to end: `node dist/perf/harness/run.js smoke` against the real receivers (the built
 * ingestor, VictoriaMetrics, Prometheus) and vmagent, then the JSON report checked for
 * completeness and sanity. Never asserts timings or how fast anything is. Needs `npm run build`
 * (`npm test` builds first).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FIGURE_KEYS } from '../../../perf/harness/figures.js';
import type { PerfReport } from '../../../perf/harness/report-types.js';
import { needBinaries } from '../../helpers/senders.js';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);
const bins = needBinaries('victoria-metrics', 'vmagent', 'prometheus', 'taskset');

function runHarness(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['dist/perf/harness/run.js', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // SIGTERM, not SIGKILL, if this test process goes first: the harness then stops its receivers
    // and senders and removes their data itself.
    const stop = () => p.kill('SIGTERM');
    process.once('exit', stop);
    p.once('exit', () => process.off('exit', stop));
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Command lines of processes still running that mention `needle`. */
function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

t.test('the smoke scenario runs end to end and writes a complete report', { skip: bins.skip, timeout: 150_000 }, async (t) => {
  if (bins.missing.length > 0) {
    t.fail(`CI is set but ${bins.missing.join(', ')} is not installed (scripts/install-test-deps.sh installs it)`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adxi-smoke-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'smoke.json');
  const run = await runHarness(['smoke', '--out', out]);
  t.equal(run.code, 0, `harness exits 0\n${run.stderr.slice(-4000)}`);
  t.match(run.stdout, /sustained samples\/s/, 'prints the table');
  t.match(run.stderr, /smoke run 1\/1 adx-ingestor ← loadgen: probe/, 'prints progress');
  const report = JSON.parse(fs.readFileSync(out, 'utf8')) as PerfReport;

  t.equal(report.scenario, 'smoke');
  t.ok(!Number.isNaN(Date.parse(report.date)), 'date is ISO 8601');
  t.ok(report.machine.cores >= 1 && report.machine.memGiB > 0 && report.machine.kernel !== '');
  for (const v of ['node', 'adx-ingestor', 'victoria-metrics', 'prometheus', 'vmagent']) t.ok(report.versions[v], `version of ${v}`);
  t.match(report.commands[0], /^npm run perf -- smoke --out /);
  for (const c of [/^taskset -c 0 node dist\/src\/cli\.js serve .*--workers 1/, /^taskset -c 0 victoria-metrics /, /^taskset -c 0 prometheus --web\.enable-remote-write-receiver /, /^taskset -c 1 node dist\/perf\/loadgen\.js .*--rate 0 /, /^taskset -c 1 node dist\/perf\/harness\/scrape-targets\.js /, /^taskset -c 1 vmagent /]) {
    t.ok(report.commands.some((line) => c.test(line)), `commands hold ${c}`);
  }

  t.ok(report.commands.some((line) => /^taskset -c 1 vmagent -remoteWrite\.url=\S+ -remoteWrite\.tmpDataPath=\S+ -remoteWrite\.queues=2 /.test(line)), 'commands hold the draining vmagent');
  t.same(report.results.map((r) => `${r.receiver}←${r.sender}`), ['adx-ingestor←loadgen', 'victoria-metrics←loadgen', 'prometheus←loadgen', 'adx-ingestor←vmagent', 'adx-ingestor←vmagent']);
  // The last leg drains a backlog: its one throughput figure is the closed-model maximum.
  const backlog = report.results[4]!;
  t.ok(backlog.median.maxSps > 0 && backlog.median.cpuCores > 0 && backlog.median.peakRssMiB > 0, `backlog: maxSps, cpu and RSS measured (notes: ${backlog.notes.join(' | ')})`);
  for (const k of ['sustainedSps', 'p50At50Ms', 'p99At50Ms', 'p50At80Ms', 'p99At80Ms'] as const) t.equal(backlog.median[k], 0, `backlog: ${k} not measured`);
  t.ok(backlog.notes.some((n) => /^stored [\d.]+k of ~[\d.]+k samples in [\d.]+ s; measured over/.test(n)), 'backlog: how much was drained, and over what window');
  t.ok(backlog.activeSeries === 20_000, 'backlog: series = fill rate × interval');
  for (const r of report.results.slice(0, 4)) {
    const name = `${r.receiver}←${r.sender}`;
    t.equal(r.runs.length, 1, `${name}: one run`);
    t.same(r.median, r.runs[0], `${name}: the median of one run is that run`);
    t.same(r.min, r.runs[0]);
    t.same(r.max, r.runs[0]);
    t.equal(r.protocol, '1.0');
    t.equal(r.receiverCpus, '0');
    t.equal(r.senderCpus, '1');
    t.ok(r.activeSeries > 0);
    for (const k of FIGURE_KEYS) t.ok(Number.isFinite(r.median[k]) && r.median[k] >= 0, `${name}: ${k} is a number`);
    for (const k of ['sustainedSps', 'p50At50Ms', 'p99At50Ms', 'p50At80Ms', 'p99At80Ms', 'cpuCores', 'peakRssMiB'] as const) {
      t.ok(r.median[k] > 0, `${name}: ${k} = ${r.median[k]} > 0 (notes: ${r.notes.join(' | ')})`);
    }
    t.ok(r.median.p99At50Ms >= r.median.p50At50Ms && r.median.p99At80Ms >= r.median.p50At80Ms, `${name}: p99 ≥ p50`);
    t.ok(r.median.cpuCores < 4, `${name}: cpu cores ${r.median.cpuCores} is plausible`);
    if (r.sender === 'loadgen') t.ok(r.median.maxSps > 0 && r.median.sustainedSps <= 1.25 * r.median.maxSps, `${name}: sustained within the search's ceiling`);
    else t.equal(r.median.maxSps, 0, `${name}: no closed-model max with a real sender`);
  }
  for (const peer of ['victoria-metrics', 'prometheus'] as const) {
    const ratios = report.ratios[peer];
    t.ok(ratios !== undefined, `ratios to ${peer}`);
    for (const k of ['sustainedSps', 'maxSps', 'cpuCores', 'peakRssMiB'] as const) t.ok(ratios?.[k] !== undefined && ratios[k]! > 0 && Number.isFinite(ratios[k]), `${peer} ${k} ratio ${ratios?.[k]}`);
  }
  t.notOk(report.ratios['adx-ingestor'], 'no ratio to itself');

  // Nothing left behind: every temp dir the commands name is gone, and nothing runs from one.
  const dirs = new Set(report.commands.flatMap((c) => c.match(/\/tmp\/adxi-perf-[\w-]+/g) ?? []));
  t.ok(dirs.size >= 4, 'commands name the temp dirs');
  for (const d of dirs) {
    t.notOk(fs.existsSync(d), `${d} removed`);
    t.same(processesMentioning(d), [], `nothing still running from ${d}`);
  }
});
