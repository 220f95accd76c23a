import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { SERVE_OPTIONS, envName } from '../src/config/options.js';
import { CLI, tempDir } from './helpers/server.js';

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

t.test('--help lists every flag with its default and environment variable', async (t) => {
  const r = run('serve', '--help');
  t.equal(r.status, 0);
  for (const o of SERVE_OPTIONS) {
    t.match(r.stdout, `--${o.name}`, o.name);
    t.match(r.stdout, envName(o.name));
    if (o.default !== undefined && o.name !== 'workers') t.match(r.stdout, `(default ${o.default})`);
  }
});

t.test('a bad flag exits 2 with the flag named', async (t) => {
  const r = run('serve', '--max-disk-usage', 'lots');
  t.equal(r.status, 2);
  t.match(r.stderr, /--max-disk-usage: "lots" is not a size/);
  t.equal(run('frobnicate').status, 2);
});

t.test('wal dump prints blocks and rows; wal verify finds bad bytes', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fixture = new URL('fixtures/wal/one-block.wal', import.meta.url);
  const file = path.join(dir, 'Metrics_HttpRequestsTotal_0mwqxr258020001.wal');
  fs.copyFileSync(fixture, file);
  const dump = run('wal', 'dump', file);
  t.equal(dump.status, 0);
  t.match(dump.stdout, /# block 0 at offset 8: type 1, 1 rows/);
  t.match(dump.stdout, /2024-05-01T12:00:00.123Z,-4021558826384217173,"\{""job"":""api""\}",1.000000000/);
  t.match(run('wal', 'verify', dir).stdout, /ok  .*1 blocks, 1 rows/);
  fs.appendFileSync(file, Buffer.from([0, 0, 0, 9, 1, 2, 3]));
  const verify = run('wal', 'verify', dir);
  t.equal(verify.status, 1);
  t.match(verify.stdout, /BAD .*bytes 165\.\.172 are bad \(torn frame/);
  t.match(verify.stdout, /1 segments checked, 1 bad/);
});

t.test('refuses to serve on the slow JavaScript fallback of uWebSockets.js', async (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [CLI, 'serve', '--storage-dir', dir, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'], {
    encoding: 'utf8',
    env: { ...process.env, UWS_USE_FALLBACK: '1' },
    timeout: 20_000,
  });
  t.equal(r.status, 1, 'exits with an error');
  t.match(r.stderr, /native binary did not load.*refusing to run on its slow pure-JS fallback/);
});
