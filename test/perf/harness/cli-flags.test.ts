import t from 'tap';
import { parseFlags, usage, UsageError } from '../../../perf/harness/cli-flags.js';
import { legReceivers } from '../../../perf/harness/run-scenario.js';
import { findScenario, quickened, SCENARIO_GROUPS, SCENARIOS } from '../../../perf/harness/scenarios.js';

t.test('flags', async (t) => {
  const f = parseFlags(['rw1-one-core', '--runs', '5', '--receivers', 'adx-ingestor,prometheus', '--quick', '--out', '/tmp/x.json']);
  t.same(f.scenarios.map((s) => s.name), ['rw1-one-core']);
  t.equal(f.runs, 5);
  t.same(f.receivers, ['adx-ingestor', 'prometheus']);
  t.equal(f.quick, true);
  t.equal(f.out, '/tmp/x.json');
  t.same(parseFlags(['all']).scenarios.map((s) => s.name), SCENARIO_GROUPS.all);
  t.equal(parseFlags(['smoke']).runs, undefined, 'the scenario decides by default');
  t.equal(parseFlags(['--help']).help, true);
  t.match(usage(), /rw1-1m-series/);
});

t.test('bad flags', async (t) => {
  t.throws(() => parseFlags([]), UsageError);
  t.throws(() => parseFlags(['nope']), UsageError);
  t.throws(() => parseFlags(['smoke', 'rw1-one-core']), UsageError);
  t.throws(() => parseFlags(['smoke', '--runs', '0']), UsageError);
  t.throws(() => parseFlags(['smoke', '--receivers', 'influxdb']), UsageError);
  t.throws(() => parseFlags(['all', '--out', 'x.json']), UsageError, '--out needs a single scenario');
  t.throws(() => parseFlags(['smoke', '--bogus']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
});

t.test('scenarios: the catalogue the brief asks for', async (t) => {
  const names = SCENARIOS.map((s) => s.name);
  for (const n of ['rw1-one-core', 'rw1-two-cores', 'rw2-one-core', 'rw1-1m-series', 'rw1-1000-tables', 'vmagent', 'prometheus-agent', 'smoke']) t.ok(names.includes(n), n);
  t.same(legReceivers(findScenario('rw2-one-core')!.legs[0]!, undefined), ['adx-ingestor'], '2.0: peers do not speak it');
  t.same(legReceivers(findScenario('rw1-one-core')!.legs[0]!, ['prometheus']), ['prometheus']);
  t.same(legReceivers(findScenario('rw1-one-core')!.legs[0]!, undefined), ['adx-ingestor', 'victoria-metrics', 'prometheus'], 'interleaving order');
  const big = findScenario('rw1-1m-series')!.legs[0]!.load;
  t.equal(big.kind === 'loadgen' && big.series, 1_000_000);
});

t.test('--quick shortens probes and never lengthens them', async (t) => {
  for (const s of SCENARIOS) {
    const q = quickened(s);
    s.legs.forEach((leg, i) => {
      const a = leg.load;
      const b = q.legs[i]!.load;
      if (a.kind === 'loadgen' && b.kind === 'loadgen') {
        t.ok(b.searchProbe.durationMs <= a.searchProbe.durationMs && b.latencyProbe.durationMs <= a.latencyProbe.durationMs && b.search.maxProbes <= a.search.maxProbes, `${s.name}: loadgen leg`);
      } else if (a.kind === 'scrape' && b.kind === 'scrape') {
        t.ok(b.step.durationMs <= a.step.durationMs && b.latencyProbe.warmupMs <= a.latencyProbe.warmupMs, `${s.name}: scrape leg`);
      } else if (a.kind === 'backlog' && b.kind === 'backlog') {
        t.ok(b.fillS <= a.fillS && b.warmupMs <= a.warmupMs && b.maxWindowMs <= a.maxWindowMs, `${s.name}: backlog leg`);
      } else {
        t.fail(`${s.name}: --quick changed the kind of load`);
      }
    });
  }
  const q = quickened(findScenario('rw1-one-core')!).legs[0]!.load;
  t.equal(q.kind === 'loadgen' && q.searchProbe.durationMs, 5000);
});
