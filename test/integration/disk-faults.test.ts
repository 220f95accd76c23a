/**
 * Disk faults against the real server: a full file system (tmpfs), the configured WAL limits,
 * EIO from fdatasync and ENOSPC from the segment writes (both injected with strace). Each test
 * proves that failures get a retryable answer with a clear message, the server keeps serving,
 * no segment keeps a partial frame (`wal verify`), and every acknowledged sample is in the WAL.
 *
 * Tests that need root, mount or strace skip with the reason when those are missing; the limit
 * tests need none of them.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadNativeHotPath } from '../../src/transform/native-hot-path.js';
import { tryParseSegmentName } from '../../src/wal/segment-name.js';
import { LoadDriver, summarize, type Attempt, type CheckResult } from '../helpers/load.js';
import { CLI, metricValue, readWal, scrape, startServer, tempDir, type TestServer } from '../helpers/server.js';

const isRoot = process.getuid?.() === 0;
const hasCommand = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const hasMount = hasCommand('mount') && hasCommand('umount');
const hasStrace = hasCommand('strace');

/** Why tmpfs cannot be mounted here (a container without CAP_SYS_ADMIN), or undefined. */
function tmpfsProblem(): string | undefined {
  const dir = tempDir('adxi-mountprobe-');
  try {
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
    if (m.status !== 0) return `cannot mount tmpfs: ${m.stderr.trim()}`;
    spawnSync('umount', [dir]);
    return undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Why a test that needs these cannot run here; false when it can. */
function needs(...what: ('root' | 'mount' | 'strace')[]): string | false {
  if (what.includes('root') && !isRoot) return 'needs root';
  if (what.includes('mount') && !hasMount) return 'needs mount/umount';
  if (what.includes('strace') && !hasStrace) return 'needs strace';
  if (what.includes('mount')) return tmpfsProblem() ?? false;
  return false;
}

function walVerify(dir: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'wal', 'verify', dir], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout.trim().split('\n').at(-1) ?? r.stderr };
}

function segments(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => tryParseSegmentName(f) !== undefined);
}

const rejected = async (s: TestServer, reason: string) => metricValue((await scrape(s.metricsPort)).body, 'adxmon_ingestor_requests_rejected_total', { reason });

/** Asserts the WAL holds every acknowledged sample and nothing that was not sent. */
function assertWal(t: Tap, what: string, c: CheckResult): void {
  t.comment(`${what}: ${summarize(c)}`);
  t.same(c.missing.slice(0, 10), [], `${what}: every acknowledged sample is in the WAL (${c.samplesVerified}/${c.samplesAcked})`);
  t.same(c.garbage.slice(0, 10), [], `${what}: no row that was not sent`);
  t.same(c.overCounted.slice(0, 10), [], `${what}: no sample stored more often than its request was attempted`);
  t.same(c.duplicatedSingleAttempt.slice(0, 10), [], `${what}: a request acknowledged on its only attempt is stored once`);
}
/** The assertions `assertWal` uses, from any test. */
type Tap = Pick<typeof t, 'comment' | 'same'>;

// ---------------------------------------------------------------------------------------------
// A server wrapped in strace: `s.proc` is strace, the server is its child. strace passes signals
// on only sometimes, so signals go to the node process itself.

interface Traced {
  readonly s: TestServer;
  /** strace's output file (outside the storage dir). */
  readonly log: string;
}

/** The strace logs' directories, removed once every test of this file has run (tests read the logs until their end). */
const straceDirs: string[] = [];
t.teardown(() => {
  for (const d of straceDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function startTraced(strace: string[], args: string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<Traced> {
  const logDir = tempDir('adxi-strace-');
  straceDirs.push(logDir);
  const log = path.join(logDir, 'strace.log');
  const s = await startServer(args, { dir, env, prefix: ['strace', '-f', '--seccomp-bpf', '-o', log, ...strace, '--'] });
  return { s, log };
}

function nodePid(s: TestServer): number | undefined {
  try {
    const kids = fs.readFileSync(`/proc/${s.proc.pid}/task/${s.proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids[0];
  } catch {
    return undefined;
  }
}

const running = (s: TestServer) => s.proc.exitCode === null && s.proc.signalCode === null;

/** Stops a (possibly traced) server: SIGTERM to node, SIGKILL after `graceMs`; resolves on exit. */
async function stopAny(s: TestServer | undefined, graceMs = 10_000): Promise<number | null> {
  if (s === undefined || !running(s)) return s?.proc.exitCode ?? null;
  const exited = once(s.proc, 'exit');
  const pid = s.proc.spawnfile === 'strace' ? nodePid(s) : s.proc.pid;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (pid !== undefined) process.kill(pid, sig);
      else s.proc.kill(sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  return code;
}

/** fd, bytes asked, offset and result of a pwrite64 or pwritev line of strace output. */
function parseWrite(line: string): [string, number, number, number] | undefined {
  const w = /pwrite64\((\d+), .*, (\d+), (\d+)\) += (-?\d+)/.exec(line);
  if (w) return [w[1]!, Number(w[2]), Number(w[3]), Number(w[4])];
  const v = /pwritev\((\d+), \[(.*)\], \d+, (\d+)\) += (-?\d+)/.exec(line);
  if (!v) return undefined;
  const len = [...v[2]!.matchAll(/iov_len=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  return [v[1]!, len, Number(v[3]), Number(v[4])];
}

/**
 * Follows segment appends in an strace log (`-e trace=pwrite64,pwritev,ftruncate`): a short write
 * leaves a partial frame at `offset`; it must be cut (`ftruncate(fd, offset)`) before any
 * further write to that file succeeds.
 */
function partialFrameCuts(lines: string[]): { failedWrites: number; cut: string[]; uncut: string[] } {
  const open = new Map<string, { offset: number; line: string }>(); // fd → start of a partial frame
  const cut: string[] = [];
  const uncut: string[] = [];
  let failedWrites = 0;
  for (const line of lines) {
    const w = parseWrite(line);
    const f = /ftruncate\((\d+), (\d+)\) += 0/.exec(line);
    const fd = w?.[0] ?? f?.[1];
    if (fd === undefined) continue;
    const partial = open.get(fd);
    if (w) {
      const [, len, offset, ret] = w;
      if (ret < 0) failedWrites++;
      else if (ret < len) {
        if (!partial) open.set(fd, { offset, line: line.replace(/"[^"]*"(\.\.\.)?/, '"…"').trim() });
      } else if (partial) {
        // Completes the frame after a short write (offset past its start), or writes over it uncut.
        if (offset <= partial.offset) uncut.push(`${partial.line}: written over without a cut`);
        open.delete(fd);
      }
    } else if (partial) {
      if (Number(f![2]) <= partial.offset) cut.push(`${partial.line}, then ftruncate to ${f![2]}`);
      else uncut.push(`${partial.line}: cut only to ${f![2]}`);
      open.delete(fd);
    }
  }
  for (const p of open.values()) uncut.push(`${p.line}: never cut`);
  return { failedWrites, cut, uncut };
}

function straceLines(log: string): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n') : [];
}

/** Sends the driver's requests one at a time until `stop(attempt)` or `max` attempts. */
async function sendUntil(d: LoadDriver, max: number, stop: (a: Attempt) => boolean): Promise<Attempt[]> {
  const out: Attempt[] = [];
  for (let i = 0; i < max; i++) {
    const a = await d.sendNext();
    out.push(a);
    if (stop(a)) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

t.test('ENOSPC from a full tmpfs: 503 with a clear message, no partial frame, acknowledged data kept, writes resume after growing the fs', { skip: needs('root', 'mount', 'strace'), timeout: 60_000 }, async (t) => {
  const dir = tempDir('adxi-enospc-');
  let server: TestServer | undefined;
  let mounted = false;
  const driver = new LoadDriver({ senders: 1, seriesPerRequest: 50, samplesPerSeries: 1, padBytes: 1000 });
  t.teardown(async () => {
    driver.close();
    await stopAny(server);
    if (mounted && spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { encoding: 'utf8' });
  t.equal(m.status, 0, `mount a 2 MiB tmpfs ${m.stderr.trim()}`);
  mounted = m.status === 0;

  // --max-disk-usage far above the fs size: the kernel's ENOSPC is what stops the writes. strace
  // only records the segment writes and truncations (no injection), to show what was cut back.
  const args = ['--workers', '1', '--max-disk-usage', '1GiB'];
  const traced = await startTraced(['-e', 'trace=pwrite64,pwritev,ftruncate'], args, dir);
  server = traced.s;
  driver.setTarget(server.url);
  const attempts = await sendUntil(driver, 200, (a) => a.status !== 204);
  const acked = attempts.filter((a) => a.status === 204).length;
  t.ok(acked > 10, `${acked} requests acknowledged before the fs filled up`);
  const first = attempts.at(-1)!;
  t.equal(first.status, 503, 'the first failure is a retryable 503');
  t.match(first.body, /no space left on device|ENOSPC/i, `clear message: ${first.body?.trim()}`);
  t.equal(first.headers?.['retry-after'], '5', 'with Retry-After');
  const more = await sendUntil(driver, 5, () => false);
  t.same(more.map((a) => a.status), [503, 503, 503, 503, 503], 'the fs stays full: retries get 503 too');
  t.ok(running(server), 'the server did not crash');
  t.equal((await scrape(server.metricsPort, '/healthz')).status, 200, '/healthz still answers');
  t.equal(await rejected(server, 'disk_full'), 6, 'rejects counted as disk_full');
  const ready = await scrape(server.metricsPort, '/readyz');
  t.equal(ready.status, 503, '/readyz turns 503 while the kernel refuses writes');
  t.match(ready.body, /disk is full/);

  let v = walVerify(dir);
  t.equal(v.status, 0, `no partial frame while full: ${v.out}`);
  assertWal(t, 'while full', driver.check(readWal(dir)));

  const cuts = partialFrameCuts(straceLines(traced.log));
  t.ok(cuts.failedWrites >= 6, `${cuts.failedWrites} segment writes failed with ENOSPC`);
  t.same(cuts.uncut, [], 'every partial frame (short write before ENOSPC) was truncated before the next append');
  t.comment(`${cuts.cut.length} partial frames written by the kernel and cut back, e.g. ${cuts.cut[0] ?? 'none'}`);

  driver.close(); // idle keep-alive connections hold the stopped server up (see stopAny)
  t.equal(await stopAny(server), 0, 'graceful stop on a full fs');
  server = await startServer(args, { dir });
  v = walVerify(dir);
  t.equal(v.status, 0, `wal verify clean after restart: ${v.out}`);
  t.notMatch(server.logs(), /segment repaired/, 'start-up found nothing to repair');
  assertWal(t, 'after restart', driver.check(readWal(dir)));
  driver.setTarget(server.url);
  t.equal((await driver.sendNext()).status, 503, 'still full after restart: 503');

  // Free space without deleting anything acknowledged: grow the fs.
  t.equal(spawnSync('mount', ['-o', 'remount,size=8m', dir]).status, 0, 'remount with size=8m');
  const after = await sendUntil(driver, 10, () => false);
  t.same(after.map((a) => a.status), Array(10).fill(204), 'writes succeed again (the refused request first)');
  v = walVerify(dir);
  t.equal(v.status, 0, `wal verify clean: ${v.out}`);
  const c = driver.check(readWal(dir));
  assertWal(t, 'after growing the fs', c);
  t.equal(c.requestsAcked, acked + 10, 'acknowledged before and after');
});

// ---------------------------------------------------------------------------------------------

t.test('--max-disk-usage: 503 with Retry-After, /readyz 503 with the reason, counted as disk_full', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('adxi-limit-');
  const driver = new LoadDriver({ senders: 1, seriesPerRequest: 20, samplesPerSeries: 1, padBytes: 1000 });
  let server: TestServer | undefined;
  t.teardown(async () => {
    driver.close();
    await stopAny(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  server = await startServer(['--workers', '1', '--max-disk-usage', '64KiB'], { dir });
  t.equal((await scrape(server.metricsPort, '/readyz')).status, 200, 'ready while under the limit');
  driver.setTarget(server.url);
  const attempts = await sendUntil(driver, 50, (a) => a.status !== 204);
  const refused = attempts.at(-1)!;
  const acked = attempts.length - 1;
  t.ok(acked >= 2, `${acked} requests (about 20 KiB each) acknowledged under 64KiB`);
  t.equal(refused.status, 503, 'over the limit: 503');
  t.equal(refused.headers?.['retry-after'], '5', 'Retry-After: 5 (--retry-after default)');
  t.match(refused.body, /--max-disk-usage 65536/, `message names the limit: ${refused.body?.trim()}`);
  const more = await sendUntil(driver, 3, () => false);
  t.same(more.map((a) => a.status), [503, 503, 503], 'stays refused');
  const ready = await scrape(server.metricsPort, '/readyz');
  t.equal(ready.status, 503, '/readyz turns 503');
  t.match(ready.body, /not ready: .*--max-disk-usage/, `with the reason: ${ready.body.trim()}`);
  t.equal(await rejected(server, 'disk_full'), 4, 'adxmon_ingestor_requests_rejected_total{reason="disk_full"} counts every refusal');
  t.equal(walVerify(dir).status, 0, 'wal verify clean');
  assertWal(t, 'max-disk-usage', driver.check(readWal(dir)));
});

t.test('--backpressure-status 429: the same refusal as 429', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('adxi-limit429-');
  const driver = new LoadDriver({ senders: 1, seriesPerRequest: 20, samplesPerSeries: 1, padBytes: 1000 });
  let server: TestServer | undefined;
  t.teardown(async () => {
    driver.close();
    await stopAny(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  server = await startServer(['--workers', '1', '--max-disk-usage', '64KiB', '--backpressure-status', '429', '--retry-after', '2s'], { dir });
  driver.setTarget(server.url);
  const attempts = await sendUntil(driver, 50, (a) => a.status !== 204);
  const refused = attempts.at(-1)!;
  t.equal(refused.status, 429, 'over the limit: 429');
  t.equal(refused.headers?.['retry-after'], '2', 'Retry-After follows --retry-after');
  t.match(refused.body, /--max-disk-usage/, 'message names the limit');
  t.equal((await scrape(server.metricsPort, '/readyz')).status, 503, '/readyz 503');
  t.equal(await rejected(server, 'disk_full'), 1, 'counted as disk_full');
  assertWal(t, 'backpressure 429', driver.check(readWal(dir)));
});

for (const status of [503, 429] as const) {
  t.test(`--max-segment-count (--backpressure-status ${status}): refused once the WAL holds that many segments`, { timeout: 60_000 }, async (t) => {
    const dir = tempDir('adxi-segcount-');
    const drivers = ['seg_a', 'seg_b', 'seg_c'].map((metric) => new LoadDriver({ senders: 1, metric, seriesPerRequest: 2, samplesPerSeries: 2 }));
    let server: TestServer | undefined;
    t.teardown(async () => {
      for (const d of drivers) d.close();
      await stopAny(server);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    server = await startServer(['--workers', '1', '--max-segment-count', '2', '--backpressure-status', String(status)], { dir });
    for (const d of drivers) d.setTarget(server.url);
    const [a, b, c] = drivers as [LoadDriver, LoadDriver, LoadDriver];
    t.equal((await a.sendNext()).status, 204, 'table A: first segment');
    t.equal((await a.sendNext()).status, 204, 'table A again: same segment');
    t.equal((await b.sendNext()).status, 204, 'table B: second segment');
    t.equal(segments(dir).length, 2, 'two segments');
    const refused = await c.sendNext();
    t.equal(refused.status, status, 'table C: refused, the WAL holds 2 segments');
    t.equal(refused.headers?.['retry-after'], '5', 'with Retry-After');
    t.match(refused.body, /--max-segment-count 2/, `message names the limit: ${refused.body?.trim()}`);
    t.equal((await a.sendNext()).status, status, 'every write is refused, also to an existing segment');
    const ready = await scrape(server.metricsPort, '/readyz');
    t.equal(ready.status, 503, '/readyz 503');
    t.match(ready.body, /--max-segment-count/, ready.body.trim());
    t.equal(await rejected(server, 'disk_full'), 2, 'counted as disk_full');
    t.equal(segments(dir).length, 2, 'no segment was created for the refused requests');
    const rows = readWal(dir);
    assertWal(t, 'table A', a.check(rows.filter((r) => r.table === 'SegA')));
    assertWal(t, 'table B', b.check(rows.filter((r) => r.table === 'SegB')));
    t.equal(rows.filter((r) => r.table === 'SegC').length, 0, 'nothing of table C');
  });
}

// ---------------------------------------------------------------------------------------------

t.test('EIO from fdatasync (--wal-fsync=always): 500, the server keeps serving, nothing acknowledged is lost', { skip: needs('root', 'strace'), timeout: 60_000 }, async (t) => {
  const dir = tempDir('adxi-eio-');
  const driver = new LoadDriver({ senders: 1, seriesPerRequest: 5, samplesPerSeries: 2 });
  let server: TestServer | undefined;
  t.teardown(async () => {
    driver.close();
    await stopAny(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // fs.fdatasync runs fdatasync(2) on the libuv pool; with one pool thread the per-thread count of
  // strace's injection is the count of WAL syncs: the 3rd, 4th and 5th fail with EIO.
  const args = ['--workers', '1', '--wal-fsync', 'always'];
  const traced = await startTraced(['-e', 'trace=fdatasync,fsync', '-e', 'inject=fdatasync:error=EIO:when=3..5'], args, dir, { UV_THREADPOOL_SIZE: '1' });
  server = traced.s;
  driver.setTarget(server.url);
  const attempts = await sendUntil(driver, 12, () => false);
  const statuses = attempts.map((a) => a.status);
  t.comment(`statuses: ${statuses.join(' ')}`);
  const injected = straceLines(traced.log).filter((l) => l.includes('fdatasync(') && l.includes('(INJECTED)'));
  t.equal(injected.length, 3, 'three fdatasync calls failed with EIO');
  t.same(statuses.slice(0, 2), [204, 204], 'synced requests are acknowledged');
  t.same(statuses.slice(2, 5), [500, 500, 500], 'a request whose fdatasync fails gets 500 (retryable), not 204');
  t.match(attempts[2]!.body, /EIO/, `message: ${attempts[2]!.body?.trim()}`);
  t.same(statuses.slice(5), Array(7).fill(204), 'the server keeps serving: once fdatasync works again, requests are acknowledged');
  t.ok(running(server), 'the server did not crash');
  t.equal(await rejected(server, 'wal_io'), 3, 'counted as wal_io');
  t.match(server.logs(), /"level":"error".*"code":"wal_io"/, 'logged as an error');
  // A segment whose fdatasync failed is never appended to again (its pages may be gone): each
  // failure retired one. Its rows stay for upload, so a retried request may be stored again.
  t.ok(segments(dir).length >= 4, `failed segments were retired (${segments(dir).length} segments)`);
  t.equal(walVerify(dir).status, 0, 'wal verify clean');
  const c = driver.check(readWal(dir));
  assertWal(t, 'with EIO', c);
  t.equal(c.requestsAcked, 9, 'nine requests acknowledged (one after three failed attempts)');

  driver.close();
  t.equal(await stopAny(server), 0, 'graceful stop');
  server = await startServer(args, { dir });
  t.equal(walVerify(dir).status, 0, 'wal verify clean after restart');
  assertWal(t, 'after restart', driver.check(readWal(dir)));
});

t.test('ENOSPC injected into a segment write: 503, the segment is cut back, later writes land after it', { skip: needs('root', 'strace'), timeout: 60_000 }, async (t) => {
  const dir = tempDir('adxi-pwrite-');
  const driver = new LoadDriver({ senders: 1, seriesPerRequest: 5, samplesPerSeries: 2 });
  let server: TestServer | undefined;
  t.teardown(async () => {
    driver.close();
    await stopAny(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // The worker appends with one positional fs.writevSync per frame, on its own thread. With the
  // native addon a frame is one buffer, which libuv writes with pwrite64(2), as it does the
  // segment header: the 1st pwrite64 is the header, the 2nd the first request's frame, and the
  // 3rd and 4th fail. (Without the addon a frame is two buffers, a pwritev(2): then the 2nd and
  // 3rd pwritev fail.) strace counts each syscall per thread.
  const native = !(loadNativeHotPath() instanceof Error);
  const call = native ? 'pwrite64' : 'pwritev';
  const args = ['--workers', '1'];
  const traced = await startTraced(['-e', 'trace=pwrite64,pwritev,ftruncate', '-e', `inject=${call}:error=ENOSPC:when=${native ? '3..4' : '2..3'}`], args, dir);
  server = traced.s;
  driver.setTarget(server.url);
  const sizes: number[] = [];
  const size = () => fs.statSync(path.join(dir, segments(dir)[0]!)).size;
  const attempts: Attempt[] = [];
  for (let i = 0; i < 8; i++) {
    attempts.push(await driver.sendNext());
    sizes.push(size());
  }
  t.comment(`statuses ${attempts.map((a) => a.status).join(' ')}; segment size after each: ${sizes.join(' ')}`);
  const injected = straceLines(traced.log).filter((l) => l.includes(`${call}(`) && l.includes('(INJECTED)'));
  t.equal(injected.length, 2, 'two segment writes failed with ENOSPC');
  t.same(attempts.map((a) => a.status), [204, 503, 503, 204, 204, 204, 204, 204], 'the failed appends get 503; the retry and later requests 204');
  t.match(attempts[1]!.body, /ENOSPC|no space left/i, `message: ${attempts[1]!.body?.trim()}`);
  t.equal(attempts[1]!.headers?.['retry-after'], '5', 'with Retry-After');
  t.same([sizes[1], sizes[2]], [sizes[0], sizes[0]], 'the segment is cut back to its last good frame after each failure');
  t.ok(sizes[3]! > sizes[0]!, 'the next frame is appended right after it');
  t.equal(segments(dir).length, 1, 'the same segment stays in use');
  t.equal(await rejected(server, 'disk_full'), 2, 'counted as disk_full');
  t.ok(running(server), 'the server did not crash');
  t.equal(walVerify(dir).status, 0, 'wal verify clean: no partial frame');
  const c = driver.check(readWal(dir));
  assertWal(t, 'with injected ENOSPC', c);
  t.equal(c.duplicatedSamples, 0, 'the refused attempts left no rows');
  t.equal(c.requestsAcked, 6, 'six requests acknowledged (one after two failed attempts)');

  driver.close();
  t.equal(await stopAny(server), 0, 'graceful stop');
  server = await startServer(args, { dir });
  t.equal(walVerify(dir).status, 0, 'wal verify clean after restart');
  assertWal(t, 'after restart', driver.check(readWal(dir)));
});
