import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { BodiesManifest } from '../../../perf/k6/lib/bodies-manifest.js';
import { RequestBuilder } from '../../../perf/lib/request-builder.js';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);
const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'perf/k6/prepare-bodies.ts'), ...args], { encoding: 'utf8' });

for (const protocol of [1, 2] as const) {
  t.test(`remote write ${protocol}.0: loadgen's bodies, byte for byte, and a manifest naming them`, async (t) => {
    const out = path.join(t.testdir(), 'bodies');
    const r = run('--protocol', String(protocol), '--out', out, '--series', '1000', '--samples-per-request', '300', '--labels', '4', '--seed', '7');
    t.equal(r.status, 0, r.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as BodiesManifest;
    t.match(manifest, { protocol, series: 1000, metrics: 100, labels: 4, labelValues: 300, samplesPerRequest: 300, seed: 7, metadata: true });
    t.equal(manifest.bodies.length, 4, 'one pass over the series by default');
    let tick = 0;
    const builder = new RequestBuilder({
      protocol, series: 1000, metrics: 100, labels: 4, labelValues: 300, samplesPerRequest: 300, seed: 7,
      now: () => manifest.firstTimestampMs + tick++,
    });
    for (const b of manifest.bodies) {
      const expected = builder.next();
      const body = fs.readFileSync(path.join(out, b.file));
      t.ok(body.equals(expected.body), `${b.file} equals RequestBuilder's body`);
      t.equal(b.samples, expected.samples);
      t.equal(b.bytes, body.length);
    }
  });
}

t.test('--count, bad flags and impossible series sets', async (t) => {
  const out = path.join(t.testdir(), 'bodies');
  t.equal(run('--out', out, '--series', '100', '--samples-per-request', '50', '--count', '3').status, 0);
  t.equal(fs.readdirSync(out).filter((f) => f.endsWith('.bin')).length, 3);
  const noOut = run('--series', '100');
  t.equal(noOut.status, 2);
  t.match(noOut.stderr, /--out is required/);
  t.equal(run('--out', out, '--protocol', '3').status, 2);
  t.match(run('--out', out, '--series', '100000', '--labels', '1', '--label-values', '2').stderr, /do not fit/);
});
