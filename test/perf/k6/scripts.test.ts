import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { BodiesManifest } from '../../../perf/k6/lib/bodies-manifest.js';

// k6 is not installed here, so the scripts run in Node under a stand-in for the k6 modules they
// import: calls are recorded, http.post and the extension answer 204. This checks what the scripts
// do with their environment (options, headers, bodies, series windows, counted samples), not k6.

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);

/** Module hooks: `k6` and `k6/*` resolve to modules re-exporting `globalThis.k6Stub[specifier]`. */
const HOOKS = `
const NAMES = { 'k6': ['check', 'fail'], 'k6/metrics': ['Counter'], 'k6/execution': [], 'k6/http': [], 'k6/x/remotewrite': [] };
export async function resolve(specifier, context, next) {
  if (specifier in NAMES) return { url: 'k6stub:' + specifier, shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.startsWith('k6stub:')) return next(url, context);
  const spec = url.slice(7);
  const m = 'globalThis.k6Stub[' + JSON.stringify(spec) + ']';
  const named = NAMES[spec].map((n) => 'export const ' + n + ' = ' + m + '.' + n + ';').join('\\n');
  return { format: 'module', source: named + '\\nexport default ' + m + '.default;', shortCircuit: true };
}
`;

/** Runs the script's default function ITERATIONS times and prints what it did as JSON. */
const RUNNER = `
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
const calls = [];
const counters = {};
let iteration = 0;
globalThis.__ENV = JSON.parse(process.env.K6_ENV);
globalThis.open = (p, mode) => {
  const b = readFileSync(p);
  return mode === 'b' ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) : b.toString('utf8');
};
const answer = { status: 204 };
globalThis.k6Stub = {
  k6: { check: (v, sets) => Object.values(sets).every((f) => f(v)), fail: (m) => { throw new Error(m); } },
  'k6/execution': { default: { scenario: { get iterationInTest() { return iteration; } } } },
  'k6/http': { default: { post: (url, body, params) => { calls.push({ post: url, body: Buffer.from(body).toString('base64'), params }); return answer; } } },
  'k6/metrics': { Counter: class { constructor(name) { this.name = name; counters[name] = 0; } add(n) { counters[this.name] += n; } } },
  'k6/x/remotewrite': { default: {
    Client: class { constructor(config) { calls.push({ client: config }); } storeFromPrecompiledTemplates(...args) { calls.push({ store: args.slice(3, 5), value: args.slice(0, 2), compiled: args[5] }); return answer; } },
    precompileLabelTemplates: (template) => ({ template }),
  } },
};
const script = await import(process.env.SCRIPT);
for (; iteration < Number(process.env.ITERATIONS); iteration++) script.default();
process.stdout.write(JSON.stringify({ options: script.options, calls, counters }));
`;

/** The test's directory, with the stand-in in it. */
const setUp = (t: Tap.Test) => t.testdir({ 'hooks.mjs': HOOKS, 'runner.mjs': RUNNER });

function runScript(dir: string, script: string, env: Record<string, string>, iterations: number) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, 'runner.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, K6_ENV: JSON.stringify(env), SCRIPT: path.join(ROOT, 'perf/k6', script), ITERATIONS: String(iterations) },
  });
  if (r.status !== 0) throw new Error(`runner failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as {
    options: { scenarios: Record<string, Record<string, unknown>> };
    calls: Array<Record<string, unknown>>;
    counters: Record<string, number>;
  };
}

const HEADERS = {
  1: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
  2: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'X-Prometheus-Remote-Write-Version': '2.0.0' },
} as const;

for (const protocol of [1, 2] as const) {
  t.test(`remote-write-http.ts posts the prepared ${protocol}.0 bodies round-robin with their headers`, async (t) => {
    const dir = setUp(t);
    const bodiesDir = path.join(dir, 'bodies');
    const prep = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'perf/k6/prepare-bodies.ts'), '--protocol', String(protocol), '--out', bodiesDir, '--series', '1000', '--samples-per-request', '250'], { encoding: 'utf8' });
    t.equal(prep.status, 0, prep.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(bodiesDir, 'manifest.json'), 'utf8')) as BodiesManifest;
    const url = 'http://127.0.0.1:9999/api/v1/write';
    // SAMPLES_PER_REQUEST is the bodies', whatever the environment says.
    const out = runScript(dir, 'remote-write-http.ts', { BODIES: bodiesDir, URL: url, RATE: '50k', SAMPLES_PER_REQUEST: '2000' }, 10);
    t.match(out.options.scenarios.measure, { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s' });
    t.equal(out.calls.length, 10);
    out.calls.forEach((c, i) => {
      const file = manifest.bodies[i % manifest.bodies.length]!.file;
      t.equal(c.post, url);
      t.equal(c.body, fs.readFileSync(path.join(bodiesDir, file)).toString('base64'), `request ${i} is ${file}`);
      t.match(c.params, { headers: HEADERS[protocol], timeout: '30s' });
    });
    t.same(out.counters, { samples_acked: 10 * 250 });
  });
}

t.test('remote-write-http.ts without BODIES stops in the init context', async (t) => {
  t.throws(() => runScript(setUp(t), 'remote-write-http.ts', {}, 1), /BODIES: set it/);
});

t.test('remote-write-xk6.ts walks the series through the precompiled template', async (t) => {
  const url = 'http://127.0.0.1:9999/api/v1/write';
  const out = runScript(setUp(t), 'remote-write-xk6.ts', { URL: url, RAMP: '100k:1M:20s', SERIES: '5000', SAMPLES_PER_REQUEST: '2000', LABELS: '3', TIMEOUT: '5s' }, 4);
  t.match(out.options.scenarios.measure, { executor: 'ramping-arrival-rate', startRate: 50, stages: [{ target: 500, duration: '20000ms' }] });
  const [client, ...stores] = out.calls;
  t.same(client, { client: { url, timeout: '5s' } });
  t.same(stores.map((s) => s.store), [[0, 2000], [2000, 4000], [4000, 5000], [0, 2000]]);
  t.same(Object.keys((stores[0]!.compiled as { template: object }).template), ['__name__', 'instance', 'job', 'namespace']);
  t.same(out.counters, { samples_acked: 2000 + 2000 + 1000 + 2000 });
});
