// The decode pool serves requests first come, first served: with more requests than a worker
// takes at once, none may be overtaken by many that came after it. (Piscina's default sends a
// task it could not place to the back of its queue; under saturation that starved some requests
// for seconds while the rest took milliseconds.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { DecodePool } from '../../src/ingest/decode-pool.js';
import { RequestBuilder } from '../../perf/lib/request-builder.js';

/**
 * A one-worker pool over a ring holding `count` remote write bodies of `samples` samples each;
 * `placed[i]` is where body i is. Torn down with the test.
 */
function poolWithBodies(t: Tap.Test, count: number, samples: number, seed: number, flags: string[] = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-pool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--storage-dir', dir, '--workers', '1', '--log-level', 'error', ...flags], {});
  const builder = new RequestBuilder({ protocol: 1, samplesPerRequest: samples, series: 10 * samples, metrics: 5, labels: 4, labelValues: 20, seed });
  const bodies = Array.from({ length: count }, () => Buffer.from(builder.next().body));
  const ring = new SharedArrayBuffer(bodies.reduce((n, b) => n + b.length, 0));
  const placed: { offset: number; length: number }[] = [];
  let at = 0;
  for (const b of bodies) {
    new Uint8Array(ring, at, b.length).set(b);
    placed.push({ offset: at, length: b.length });
    at += b.length;
  }
  const pool = new DecodePool(config, ring, () => undefined, (e) => t.fail(`worker failed: ${String(e)}`));
  t.teardown(() => pool.destroy());
  return { pool, placed };
}

t.test('queued requests complete in the order they came, give or take what a worker holds at once', async (t) => {
  const { pool, placed } = poolWithBodies(t, 64, 200, 3);
  // One request first, so the worker is up before the burst.
  const first = await pool.run({ ...placed[0]!, protocol: 'v1', company: false });
  t.ok(first.ok, 'a request decodes');

  const done: number[] = [];
  await Promise.all(
    placed.slice(1).map((p, i) =>
      pool.run({ ...p, protocol: 'v1', company: true }).then((r) => {
        if (!r.ok) t.fail(`request ${i}: ${r.message}`);
        done.push(i);
      }),
    ),
  );
  t.equal(done.length, 63, 'all answered');
  // A worker holds 8 tasks at once and answers them a flush at a time: allow two such windows.
  const late = done.map((req, rank) => ({ req, rank })).filter(({ req, rank }) => rank > req + 16);
  t.same(late, [], 'no request answered more than 16 places after its turn');
});

t.test('a worker holding all the tasks the pool gives it flushes at once instead of waiting out the delay', async (t) => {
  // A group-commit delay far longer than the test: only a full worker can make it flush sooner.
  const { pool, placed } = poolWithBodies(t, 10, 100, 4, ['--group-commit-delay', '1h']);
  // Two requests alone (no company: written at once) so the worker has seen requests come close together.
  for (const p of placed.slice(0, 2)) t.ok((await pool.run({ ...p, protocol: 'v1', company: false })).ok, 'a lone request is written at once');

  const answered: number[] = [];
  const run = (i: number) =>
    pool.run({ ...placed[i]!, protocol: 'v1', company: true }).then((r) => {
      t.ok(r.ok, `request ${i} written`);
      answered.push(i);
    });
  const first7 = [2, 3, 4, 5, 6, 7, 8].map(run);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.same(answered, [], 'seven requests with company wait for the group commit (the worker takes eight)');
  const eighth = run(9);
  const outcome = await Promise.race([
    Promise.all([...first7, eighth]).then(() => 'flushed'),
    new Promise((resolve) => setTimeout(() => resolve('still waiting after 30 s'), 30_000).unref()),
  ]);
  t.equal(outcome, 'flushed', 'the eighth fills the worker: all eight are written together, without waiting out the delay');
  t.equal(answered.length, 8);
});

t.test('destroy waits for workers still loading their task module', async (t) => {
  // Terminating a worker while piscina's synchronous require() loads its ES module aborts the
  // process on Node 20 (SIGABRT); a SIGTERM right after start-up did that about 1 in 150 times.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-pool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--storage-dir', dir, '--workers', '2', '--log-level', 'error'], {});
  const pool = new DecodePool(config, new SharedArrayBuffer(1024), () => undefined, (e) => t.fail(`worker failed: ${String(e)}`));
  t.equal(pool.loadedWorkers, 0, 'no worker has loaded yet');
  await pool.destroy();
  t.equal(pool.loadedWorkers, 2, 'both workers had loaded before the pool ended them');
});

t.test('loadingWorkers counts the workers that cannot take a task yet, for /readyz', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-pool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig(['--storage-dir', dir, '--workers', '2', '--log-level', 'error'], {});
  const pool = new DecodePool(config, new SharedArrayBuffer(1024), () => undefined, (e) => t.fail(`worker failed: ${String(e)}`));
  t.teardown(() => pool.destroy());
  t.equal(pool.loadingWorkers, 2, 'both workers loading at start');
  await pool.allLoaded;
  t.equal(pool.loadingWorkers, 0, 'none once allLoaded has settled');
  t.equal(pool.loadedWorkers, 2);
});
