import t from 'tap';
import { loadShape, options, parseCount, parseDurationMs } from '../../../perf/k6/lib/load-shape.ts';

/** The k6 scripts read `__ENV`; here it is a plain global. */
function withEnv(env: Record<string, string>) {
  (globalThis as { __ENV?: Record<string, string> }).__ENV = env;
  return options(loadShape());
}

t.test('defaults: loadgen\'s closed model, 8 connections, 3 s warm-up then 30 s measured', async (t) => {
  const o = withEnv({});
  t.same(o.scenarios, {
    warmup: { executor: 'constant-vus', vus: 8, duration: '3000ms', gracefulStop: '30s' },
    measure: { executor: 'constant-vus', vus: 8, duration: '30000ms', startTime: '3000ms', gracefulStop: '30s' },
  });
  t.same(o.thresholds, {
    'http_req_failed{scenario:measure}': ['rate<0.01'],
    'http_req_duration{scenario:measure}': ['p(99)<50'],
    'checks{scenario:measure}': ['rate>0.99'],
    'samples_acked{scenario:measure}': ['count>=0'],
  });
});

t.test('RATE: constant arrival rate in requests per second, warm-up at the same rate', async (t) => {
  const o = withEnv({ RATE: '1.5M', VUS: '16', MAX_VUS: '32', WARMUP: '5s', DURATION: '1m', P99_MS: '100' });
  const common = { executor: 'constant-arrival-rate', rate: 750, timeUnit: '1s', preAllocatedVUs: 16, maxVUs: 32, gracefulStop: '30s' };
  t.same(o.scenarios, {
    warmup: { ...common, duration: '5000ms' },
    measure: { ...common, duration: '60000ms', startTime: '5000ms' },
  });
  t.same(o.thresholds!['http_req_duration{scenario:measure}'], ['p(99)<100']);
});

t.test('rates that are not whole requests per second go per minute', async (t) => {
  const o = withEnv({ RATE: '250k', SAMPLES_PER_REQUEST: '3000', WARMUP: '0' });
  t.same(Object.keys(o.scenarios!), ['measure'], 'no warm-up scenario for WARMUP=0');
  t.match(o.scenarios!.measure, { executor: 'constant-arrival-rate', rate: 5000, timeUnit: '1m', startTime: '0s' });
});

t.test('RAMP: warm-up at FROM, linear ramp, then TO holds until DURATION ends', async (t) => {
  const o = withEnv({ RAMP: '200k:3M:60s', DURATION: '90s' });
  t.match(o.scenarios!.warmup, { executor: 'constant-arrival-rate', rate: 100, duration: '3000ms' });
  t.match(o.scenarios!.measure, {
    executor: 'ramping-arrival-rate',
    startRate: 100,
    timeUnit: '1s',
    startTime: '3000ms',
    stages: [{ target: 1500, duration: '60000ms' }, { target: 1500, duration: '30000ms' }],
  });
  const fromZero = withEnv({ RAMP: '0:1M:10s' });
  t.same(Object.keys(fromZero.scenarios!), ['measure'], 'nothing to warm up at 0');
  t.match(fromZero.scenarios!.measure, { startRate: 0, startTime: '0s', stages: [{ target: 500, duration: '10000ms' }] });
});

t.test('bad settings are refused with the variable named', async (t) => {
  t.throws(() => withEnv({ RATE: '1M', RAMP: '0:1M:10s' }), /RAMP and RATE/);
  t.throws(() => withEnv({ RAMP: '0:1M' }), /FROM:TO:DURATION/);
  t.throws(() => withEnv({ RAMP: '0:1M:60s', DURATION: '30s' }), /shorter than the ramp/);
  t.throws(() => withEnv({ VUS: '0' }), /VUS/);
  t.throws(() => withEnv({ VUS: '8', MAX_VUS: '4' }), /MAX_VUS/);
  t.throws(() => withEnv({ SERIES: 'lots' }), /SERIES/);
  t.equal(parseCount('X', '1.5M'), 1_500_000);
  t.equal(parseCount('X', '500k'), 500_000);
  t.equal(parseDurationMs('X', '2m'), 120_000);
  t.equal(parseDurationMs('X', '250ms'), 250);
});
