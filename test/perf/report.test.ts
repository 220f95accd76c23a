import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateReport } from '../../perf/report/generate.js';
import { NOTES_END, NOTES_START } from '../../perf/report/markdown.js';
import { checkTargets, cpuList, cpuListSize, spsPerCoreUsed } from '../../perf/report/targets.js';
import { figures, fixtureReports, report, result } from '../helpers/perf-report-fixture.js';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

/** Writes the fixture reports as the harness would and returns the paths the report writes to. */
function setUp(t: Tap.Test) {
  const dir = t.testdir({ results: {}, docs: {} });
  const { current, older } = fixtureReports();
  const resultsDir = path.join(dir, 'results');
  for (const r of [...current, older]) fs.writeFileSync(path.join(resultsDir, `${r.scenario}-${r.date.replace(/:/g, '')}.json`), JSON.stringify(r));
  const opts = { files: [], resultsDir, markdownPath: path.join(dir, 'docs/performance.md'), svgPath: path.join(dir, 'docs/performance.svg') };
  return { dir, opts, read: () => fs.readFileSync(opts.markdownPath, 'utf8') };
}

/** The result rows of the table in the section of `scenario`. */
function tableLines(md: string, scenario: string): string[] {
  const section = md.split('\n## ').find((s) => s.startsWith(`Scenario \`${scenario}\``)) ?? '';
  return section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| receiver') && !l.startsWith('| ---'));
}

/** The first result row that starts with `| first |`. */
function tableLine(md: string, scenario: string, first: string): string | undefined {
  return tableLines(md, scenario).find((l) => l.startsWith(`| ${first} |`));
}

/** Target lines as [target text, scenario, mark]. */
function targetLines(md: string): Array<[string, string, string]> {
  const section = md.slice(md.indexOf('## Targets'), md.indexOf('## Analysis'));
  return section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| target') && !l.startsWith('| ---'))
    .map((l) => {
      const cells = l.slice(2, -2).split(' | ');
      return [cells[0]!, cells[1]!, cells[3]!];
    });
}

t.test('the tables carry the newest report of each scenario, medians with min–max, and ratios', async (t) => {
  const { opts, read } = setUp(t);
  const summary = generateReport(opts);
  t.same(summary.used.map((f) => path.basename(f)), ['rw1-100k-2026-11-22T100000Z.json', 'rw1-1m-2026-11-22T110000Z.json']);
  const md = read();
  t.equal(
    tableLine(md, 'rw1-100k', 'adx-ingestor'),
    '| adx-ingestor | loadgen | 1.0 | 100 k | 1.60 M (1.50 M–1.70 M) | 2.10 M | 2.1 / 9.8 | 3.4 / 42 | 0.97 | 1.65 M | 300 | – | 3 |',
  );
  t.equal(
    tableLine(md, 'rw1-100k', 'victoria-metrics'),
    '| victoria-metrics | loadgen | 1.0 | 100 k | 1.00 M (900 k–1.10 M) | 1.20 M | 3.0 / 15 | 5.0 / 60 | 1.00 | 1.00 M | 400 | 1.60× | 3 |',
  );
  const rows = tableLines(md, 'rw1-100k');
  t.same(rows.map((l) => l.split(' | ').slice(0, 2).join(' ')), ['| adx-ingestor loadgen', '| adx-ingestor vmagent', '| victoria-metrics loadgen', '| prometheus loadgen'], 'adx-ingestor first, one row per receiver and sender');
  t.match(rows[1], /\| 1\.55 M \(1\.55 M–1\.55 M\) \| – \| .* \| – \| 3 \|$/, 'no closed-model max and no ratio with vmagent');
  t.match(tableLine(md, 'rw1-100k', 'prometheus'), /\| 500 k \(450 k–520 k\) \| .* \| 3\.20× \| 3 \|$/);
  t.match(tableLine(md, 'rw1-1m', 'adx-ingestor'), /^\| adx-ingestor \| loadgen \| 1\.0 \| 1 M \| 1\.20 M \(1\.10 M–1\.25 M\) \| – \|/);
  t.notMatch(md, '777 k', 'the older rw1-100k report is not used');
  t.ok(md.indexOf('## Scenario `rw1-100k`') < md.indexOf('## Scenario `rw1-1m`'), 'scenarios sorted');
  t.match(md, 'node dist/perf/harness/run.js --scenario rw1-100k', 'commands quoted');
  t.match(md, 'Test CPU @ 2.0GHz, 2 cores, 7.8 GiB');
  t.match(md, '![Sustained samples/s and p99 latency at 80 % of it, per receiver and scenario](performance.svg)');
});

t.test('samples/s per core used is the median over runs of each run\'s rate over its CPU, not the median rate over the median CPU', async (t) => {
  const sender = result('adx-ingestor', { sustainedSps: 402_000, cpuCores: 0.33 }, { sender: 'vmagent' });
  sender.runs = [
    figures({ sustainedSps: 400_000, cpuCores: 0.32 }), // 1.25 M per core
    figures({ sustainedSps: 402_000, cpuCores: 0.4 }), // 1.005 M
    figures({ sustainedSps: 404_000, cpuCores: 0.33 }), // 1.224 M
  ];
  t.equal(Math.round(spsPerCoreUsed(sender)!), 1_224_242);
  const backlog = result('adx-ingestor', { maxSps: 2_000_000, cpuCores: 0.97 }, { sender: 'vmagent' });
  t.equal(Math.round(spsPerCoreUsed(backlog)!), 2_061_856, 'a backlog drain divides its maximum');
  t.equal(spsPerCoreUsed(result('adx-ingestor', { sustainedSps: 402_000 })), undefined, 'no CPU measured: no figure');
  const dir = t.testdir({});
  fs.writeFileSync(path.join(dir, 'live.json'), JSON.stringify(report('live', '2026-11-22T10:00:00Z', [sender])));
  const markdownPath = path.join(dir, 'performance.md');
  generateReport({ files: [path.join(dir, 'live.json')], resultsDir: '', markdownPath, svgPath: path.join(dir, 'performance.svg') });
  t.match(tableLine(fs.readFileSync(markdownPath, 'utf8'), 'live', 'adx-ingestor'), / \| 0\.33 \| 1\.22 M \| /, 'shown beside the CPU cores');
});

t.test('targets are marked met / not met from the numbers', async (t) => {
  const { opts, read } = setUp(t);
  generateReport(opts);
  const lines = targetLines(read());
  const mark = (target: RegExp, scenario: string, sender = 'loadgen') =>
    lines.filter(([tt, s]) => target.test(tt) && s.startsWith(`${scenario} (`) && s.endsWith(`from ${sender})`)).map((l) => l[2]);
  t.same(mark(/per core/, 'rw1-100k'), ['✅ met']);
  t.same(mark(/per core/, 'rw1-1m'), ['❌ not met']);
  t.same(mark(/VictoriaMetrics/, 'rw1-100k'), ['✅ met']);
  t.same(mark(/Prometheus/, 'rw1-100k'), ['❌ not met']);
  t.same(mark(/p99 < 50 ms/, 'rw1-100k'), ['✅ met']);
  t.same(mark(/p99 < 50 ms/, 'rw1-1m'), ['❌ not met']);
  t.same(mark(/peak RSS/, 'rw1-1m'), ['❌ not met'], '500 MiB is 524 MB, above 512 MB');
  t.same(mark(/peak RSS/, 'rw1-100k'), [], 'RSS target only at 1 M series');
  t.same(mark(/per core/, 'rw1-100k', 'vmagent'), ['✅ met']);
  t.same(mark(/p99 < 50 ms/, 'rw1-100k', 'vmagent'), ['✅ met']);
  t.same(mark(/VictoriaMetrics|Prometheus/, 'rw1-100k', 'vmagent'), [], 'peers ran with loadgen only');
  t.equal(lines.length, 9);
});

t.test('targets nobody measured are "not measured"; per core divides by the pinned CPUs', async (t) => {
  const alone = report('alone', '2026-11-22T10:00:00Z', [
    result('adx-ingestor', { sustainedSps: 2_000_000, cpuCores: 1.9 }, { receiverCpus: '0-1' }),
    result('victoria-metrics', { sustainedSps: 1_000_000 }, { protocol: '2.0' }),
  ]);
  const checks = checkTargets([alone]);
  const byTarget = (re: RegExp) => checks.filter((c) => re.test(c.target)).map((c) => c.status);
  t.same(byTarget(/per core/), ['not met'], '2 M on CPUs 0-1 is 1 M per core');
  t.same(byTarget(/VictoriaMetrics/), ['not measured'], 'the peer ran another protocol');
  t.same(byTarget(/Prometheus/), ['not measured']);
  t.same(byTarget(/p99/), ['not measured'], 'p99 of 0 is not measured');
  t.same(byTarget(/RSS/), ['not measured']);
  const failed = report('failed', '2026-11-22T10:00:00Z', [
    { ...result('adx-ingestor', {}), runs: [] },
    result('victoria-metrics', { sustainedSps: 1_000_000, p99At80Ms: 20 }),
  ]);
  t.ok(checkTargets([failed]).every((c) => c.status === 'not measured'), 'an adx-ingestor result without runs measures nothing');
  t.equal(cpuListSize('0-3,6'), 5);
  t.same(cpuList('0-3,6'), [0, 1, 2, 3, 6]);
  t.equal(cpuList('3-1'), undefined);
  t.equal(cpuListSize('all'), undefined);
});

t.test('a receiver without a completed run is shown as such, without ratios', async (t) => {
  const dir = t.testdir({});
  const failed = report('failed', '2026-11-22T10:00:00Z', [
    { ...result('adx-ingestor', {}), runs: [] },
    result('victoria-metrics', { sustainedSps: 1_000_000, p99At80Ms: 20 }),
  ]);
  fs.writeFileSync(path.join(dir, 'failed.json'), JSON.stringify(failed));
  const markdownPath = path.join(dir, 'performance.md');
  generateReport({ files: [path.join(dir, 'failed.json')], resultsDir: '', markdownPath, svgPath: path.join(dir, 'performance.svg') });
  const md = fs.readFileSync(markdownPath, 'utf8');
  t.equal(tableLine(md, 'failed', 'adx-ingestor'), '| adx-ingestor | loadgen | 1.0 | 100 k | no run completed | – | – | – | – | – | – | – | 0 |');
  t.match(tableLine(md, 'failed', 'victoria-metrics'), / \| – \| 3 \|$/, 'no ratio');
});

t.test('the notes between the markers survive a regeneration', async (t) => {
  const { opts, read } = setUp(t);
  generateReport(opts);
  const notes = 'Hand-written: the series cache lookup leads the profile.\n\n| a | b |\n| --- | --- |\n| 1 | 2 |';
  const first = read();
  t.match(first, `${NOTES_START}\n_Analysis`, 'placeholder on the first run');
  fs.writeFileSync(opts.markdownPath, first.replace(/<!-- notes:start -->[\s\S]*<!-- notes:end -->/, `${NOTES_START}\n${notes}\n${NOTES_END}`));
  // A newer rw1-100k result arrives; the numbers change, the notes do not.
  const { current } = fixtureReports();
  const newer = { ...current[0]!, date: '2026-11-23T10:00:00Z' };
  newer.results = newer.results.map((r) => (r.receiver === 'adx-ingestor' ? { ...r, median: { ...r.median, sustainedSps: 1_800_000 } } : r));
  fs.writeFileSync(path.join(opts.resultsDir, 'rw1-100k-newer.json'), JSON.stringify(newer));
  generateReport(opts);
  const second = read();
  t.ok(second.includes(`${NOTES_START}\n${notes}\n${NOTES_END}`), 'notes kept verbatim');
  t.equal(second.split(NOTES_START).length, 2, 'once');
  t.match(tableLine(second, 'rw1-100k', 'adx-ingestor'), /\| 1\.80 M \(/, 'numbers regenerated');
  generateReport(opts);
  t.equal(read(), second, 'regenerating from the same results changes nothing');
});

t.test('broken notes markers stop the report before anything is written', async (t) => {
  const { opts, read } = setUp(t);
  generateReport(opts);
  const broken = read().replace(NOTES_END, '');
  fs.writeFileSync(opts.markdownPath, broken);
  t.throws(() => generateReport(opts), { code: 'bad_notes' });
  t.equal(read(), broken);
});

t.test('bad input is reported with a stable code', async (t) => {
  const dir = t.testdir({ empty: {}, 'bad.json': '{"scenario": 1}', 'broken.json': '{' });
  const out = { markdownPath: path.join(dir, 'p.md'), svgPath: path.join(dir, 'p.svg') };
  t.throws(() => generateReport({ files: [], resultsDir: path.join(dir, 'empty'), ...out }), { code: 'no_results' });
  t.throws(() => generateReport({ files: [path.join(dir, 'bad.json')], resultsDir: '', ...out }), { code: 'bad_shape' });
  t.throws(() => generateReport({ files: [path.join(dir, 'broken.json')], resultsDir: '', ...out }), { code: 'bad_json' });
  t.notOk(fs.existsSync(out.markdownPath));
});

t.test('the command line writes both files and exits 1 without results', async (t) => {
  const { dir, opts } = setUp(t);
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'perf/report.ts'), ...args], { cwd: dir, encoding: 'utf8' });
  const ok = run('--results', 'results', '--markdown', 'docs/performance.md', '--svg', 'docs/performance.svg');
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stderr, /targets: 5 met, 4 not met, 0 not measured/);
  t.ok(fs.existsSync(opts.markdownPath) && fs.existsSync(opts.svgPath));
  fs.mkdirSync(path.join(dir, 'none'));
  const none = run('--results', 'none', '--markdown', 'x.md', '--svg', 'x.svg');
  t.equal(none.status, 1);
  t.match(none.stderr, /no results/);
  t.equal(run('--bogus').status, 2);
});

t.test('a backlog scenario (closed-model maximum only) is judged and compared on that maximum', async (t) => {
  const drain = report('backlog', '2026-11-22T10:00:00Z', [
    result('adx-ingestor', { maxSps: 1_600_000, cpuCores: 0.95 }, { sender: 'vmagent', min: { maxSps: 1_500_000 }, max: { maxSps: 1_700_000 } }),
    result('victoria-metrics', { maxSps: 600_000 }, { sender: 'vmagent' }),
    result('prometheus', { maxSps: 500_000 }, { sender: 'vmagent' }),
  ]);
  const checks = checkTargets([drain]);
  const of = (re: RegExp) => checks.filter((c) => re.test(c.target));
  t.same(of(/per core/).map((c) => c.status), ['met'], '1.6 M on one pinned CPU');
  t.match(of(/per core/)[0]!.measured, /closed-model maximum, 1\.60 M/, 'says which figure it judged');
  t.same(of(/VictoriaMetrics/).map((c) => c.status), ['met'], '2.67×');
  t.match(of(/VictoriaMetrics/)[0]!.measured, /^2\.67× \(closed-model maximum: 1\.60 M vs 600 k samples\/s\)$/);
  t.same(of(/Prometheus/).map((c) => c.status), ['not met'], '3.2× < 4×');
  t.same(of(/p99/).map((c) => c.status), ['not measured'], 'no latency at 80 % in a drain');

  // A result with a sustained rate is still judged on it, whatever its closed-model maximum.
  const both = report('both', '2026-11-22T10:00:00Z', [result('adx-ingestor', { sustainedSps: 700_000, maxSps: 1_600_000 })]);
  t.same(checkTargets([both]).filter((c) => /per core/.test(c.target)).map((c) => c.status), ['not met']);

  const dir = t.testdir({ results: {}, docs: {} });
  fs.writeFileSync(path.join(dir, 'results', 'backlog-20261122T100000Z.json'), JSON.stringify(drain));
  generateReport({ files: [], resultsDir: path.join(dir, 'results'), markdownPath: path.join(dir, 'docs/performance.md'), svgPath: path.join(dir, 'docs/performance.svg') });
  const md = fs.readFileSync(path.join(dir, 'docs/performance.md'), 'utf8');
  t.match(tableLine(md, 'backlog', 'adx-ingestor'), /^\| adx-ingestor \| vmagent \| 1\.0 \| 100 k \| – \| 1\.60 M \(1\.50 M–1\.70 M\) \|/, 'the maximum with its spread, no sustained rate');
  t.match(tableLine(md, 'backlog', 'victoria-metrics'), /\| 2\.67× \| 3 \|$/, 'ratio on the maximum');
});
