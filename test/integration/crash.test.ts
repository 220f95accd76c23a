/**
 * Crash safety of the WAL: `kill -9` under concurrent load, restart on the same --storage-dir,
 * and prove that every acknowledged sample survived, nothing is garbage, and the WAL verifies
 * clean after start-up repair. Also: a torn tail left on disk is cut at start-up with a warning.
 *
 * A process crash keeps the page cache, so this holds for --wal-fsync=rotate as well as always;
 * power loss is not simulated here.
 *
 * Random kill delays come from a seeded generator; rerun a failure with CRASH_SEED=<seed>.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { scanFrames, WAL } from '../../src/wal/format.js';
import { tryParseSegmentName } from '../../src/wal/segment-name.js';
import { LoadDriver, summarize } from '../helpers/load.js';
import { CLI, readWal, startServer, tempDir, type TestServer } from '../helpers/server.js';

const KILLS = 5;
const MIN_DELAY_MS = 200;
const MAX_DELAY_MS = 1500;

/** `adx-ingestor wal verify DIR`: exit status and the `BAD ...` lines. */
function walVerify(dir: string): { status: number | null; bad: string[]; summary: string } {
  const r = spawnSync(process.execPath, [CLI, 'wal', 'verify', dir], { encoding: 'utf8' });
  const lines = r.stdout.split('\n');
  return { status: r.status, bad: lines.filter((l) => l.startsWith('BAD')), summary: lines.filter((l) => l !== '').at(-1) ?? r.stderr };
}

/** Log lines (parsed JSON) with this message. */
function logLines(s: TestServer, msg: string): Record<string, unknown>[] {
  return s
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(JSON.stringify(msg)))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.msg === msg);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const fsync of ['rotate', 'always'] as const) {
  t.test(`kill -9 under load (--wal-fsync=${fsync}): every acknowledged sample survives, nothing is garbage`, { timeout: 60_000 }, async (t) => {
    const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = mulberry32(seed);
    const dir = tempDir('adxi-crash-');
    const args = ['--workers', '2', '--wal-fsync', fsync];
    // Many small requests (group commit merges them), plus a few large ones whose frames take long
    // enough to write that a kill can land in the middle of one and leave a torn tail to repair.
    const driver = new LoadDriver({ senders: 8, seriesPerRequest: 10, samplesPerSeries: 5 });
    const bulk = new LoadDriver({ senders: 1, metric: 'load_bulk', seriesPerRequest: 50, samplesPerSeries: 2, padBytes: 2000 });
    const drivers = [driver, bulk];
    let server: TestServer | undefined;
    t.teardown(async () => {
      for (const d of drivers) (await d.stop(), d.close());
      if (server && server.proc.exitCode === null && server.proc.signalCode === null) await server.kill9();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    server = await startServer(args, { dir });
    for (const d of drivers) (d.setTarget(server.url), d.start());
    const delays: number[] = [];
    const ackedPerRound: number[] = [];
    let tornAfterKill = 0;
    let repairedAtStart = 0;
    for (let k = 1; k <= KILLS; k++) {
      // The delay counts from the round's first acknowledgment, so every kill lands in flowing load.
      const acksAtStart = driver.acks;
      await driver.nextAck();
      const delay = MIN_DELAY_MS + Math.floor(rand() * (MAX_DELAY_MS - MIN_DELAY_MS));
      delays.push(delay);
      await sleep(delay);
      t.equal(server.proc.exitCode, null, `round ${k}: server still running when killed`);
      await server.kill9();
      for (const d of drivers) d.setTarget(undefined);
      ackedPerRound.push(driver.acks - acksAtStart);
      tornAfterKill += walVerify(dir).bad.length; // informational: what the kill left behind

      server = await startServer(args, { dir });
      repairedAtStart += logLines(server, 'segment repaired: torn or corrupt tail truncated').length;
      const v = walVerify(dir);
      t.equal(v.status, 0, `round ${k}: wal verify is clean after restart (${v.summary})`, { bad: v.bad });
      if (k < KILLS) for (const d of drivers) d.setTarget(server.url);
    }
    for (const d of drivers) await d.stop();

    const rows = readWal(dir);
    const c = driver.check(rows.filter((r) => r.table === 'LoadTest'));
    const b = bulk.check(rows.filter((r) => r.table === 'LoadBulk'));
    t.equal(rows.length, c.rows + b.rows, 'every row is in one of the two tables');
    t.comment(`seed ${seed}; ${KILLS} kills, ${delays.join(', ')} ms after each round's first ack; acks per round ${ackedPerRound.join(', ')}; ${tornAfterKill} torn segments left by the kills, ${repairedAtStart} repaired at start-up`);
    for (const [what, r] of [['small', c], ['bulk', b]] as const) {
      t.comment(`${what}: ${summarize(r)}`);
      t.ok(r.requestsAcked > 0, `${what}: some requests were acknowledged`);
      t.same(r.missing.slice(0, 20), [], `${what}: no acknowledged sample is lost (${r.missing.length} missing)`);
      t.same(r.garbage.slice(0, 20), [], `${what}: every row is a sample that was sent (${r.garbage.length} garbage)`);
      t.same(r.overCounted.slice(0, 20), [], `${what}: no sample is stored more often than its request was attempted`);
      t.same(r.duplicatedSingleAttempt.slice(0, 20), [], `${what}: a request acknowledged on its only attempt is stored exactly once`);
    }
    t.same(fs.readdirSync(dir).filter((f) => f.endsWith('.corrupt')), [], 'no segment was moved aside as corrupt');
    const v = walVerify(dir);
    t.equal(v.status, 0, `wal verify clean after the final restart (${v.summary})`);
  });
}

t.test('a torn tail is truncated at start-up with a warning; the good rows stay', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('adxi-torn-');
  let server: TestServer | undefined;
  t.teardown(async () => {
    if (server && server.proc.exitCode === null && server.proc.signalCode === null) await server.kill9();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // One worker: one segment per table, so each kind of damage gets its own segment.
  const kinds = ['half_frame', 'garbage', 'bad_crc', 'torn_header'] as const;
  const drivers = new Map(kinds.map((k) => [k, new LoadDriver({ senders: 1, metric: `torn_${k}`, seriesPerRequest: 4, samplesPerSeries: 3 })]));
  server = await startServer(['--workers', '1'], { dir });
  for (const d of drivers.values()) {
    d.setTarget(server.url);
    for (let i = 0; i < 5; i++) t.equal((await d.sendNext()).status, 204);
    d.close();
  }
  t.equal(await server.stop(), 0, 'graceful stop');
  const tableOf = (k: string) => `Torn${k.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;

  const segmentOf = (k: string) => {
    const table = tableOf(k);
    const files = fs.readdirSync(dir).filter((f) => tryParseSegmentName(f)?.table === table);
    t.equal(files.length, 1, `one segment for ${table}`);
    return path.join(dir, files[0]!);
  };
  const goodSize = new Map<string, number>();
  for (const k of kinds) {
    const file = segmentOf(k);
    const bytes = fs.readFileSync(file);
    const scan = scanFrames(bytes);
    t.equal(scan.problem, undefined, `${k}: segment clean before damage`);
    goodSize.set(k, bytes.length);
    const last = scan.payloads.at(-1)!;
    const lastFrame = Buffer.from(bytes.subarray(last.byteOffset - bytes.byteOffset - WAL.frameHeaderBytes, last.byteOffset - bytes.byteOffset + last.byteLength));
    let tail: Buffer;
    if (k === 'half_frame') tail = lastFrame.subarray(0, Math.floor(lastFrame.length / 2));
    else if (k === 'garbage') tail = Buffer.from('\xff\xfe this is not a frame \x00\x01\x02'.repeat(8), 'latin1');
    else if (k === 'bad_crc') {
      tail = Buffer.from(lastFrame);
      tail[tail.length - 1]! ^= 0xff; // complete frame, payload byte flipped
    } else tail = lastFrame.subarray(0, 5); // not even a whole frame header
    fs.appendFileSync(file, tail);
  }
  const damaged = walVerify(dir);
  t.equal(damaged.bad.length, kinds.length, 'wal verify sees every damaged tail', { bad: damaged.bad });
  t.equal(damaged.status, 1, 'wal verify exits 1 on damage');

  server = await startServer(['--workers', '1'], { dir });
  const warnings = logLines(server, 'segment repaired: torn or corrupt tail truncated');
  for (const k of kinds) {
    const file = segmentOf(k);
    const w = warnings.find((l) => l.path === file);
    t.ok(w, `${k}: warning logged for ${path.basename(file)}`);
    t.equal(w?.level, 'warn', `${k}: at warn level`);
    t.equal(w?.keptBytes, goodSize.get(k), `${k}: kept bytes are the good prefix`);
    t.equal(fs.statSync(file).size, goodSize.get(k), `${k}: file cut back to its last good frame`);
  }
  t.equal(warnings.length, kinds.length, 'one warning per damaged segment');
  const v = walVerify(dir);
  t.equal(v.status, 0, `wal verify clean after start-up repair (${v.summary})`);

  // The good rows are all there, and the repaired server keeps writing.
  const rows = readWal(dir);
  for (const [k, d] of drivers) {
    const c = d.check(rows.filter((r) => r.table === tableOf(k)));
    t.same([c.samplesVerified, c.missing.length, c.garbage.length, c.duplicatedSamples], [5 * 12, 0, 0, 0], `${k}: every acknowledged row kept by the repair, nothing else (${summarize(c)})`);
  }
  for (const [k, d] of drivers) {
    d.setTarget(server.url);
    t.equal((await d.sendNext()).status, 204, `${k}: writes after repair`);
    d.close();
  }
  const after = readWal(dir);
  for (const [k, d] of drivers) {
    const c = d.check(after.filter((r) => r.table === tableOf(k)));
    t.same([c.samplesVerified, c.missing.length, c.garbage.length, c.duplicatedSamples], [6 * 12, 0, 0, 0], `${k}: ${summarize(c)}`);
  }
  t.equal(walVerify(dir).status, 0, 'wal verify clean after writing on');
});
