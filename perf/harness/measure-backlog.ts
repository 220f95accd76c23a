/**
 * One run of one receiver fed a backlog by a real sender (`BacklogLoad`): vmagent's on-disk
 * queue, filled once per leg while no receiver answered, copied, and drained into a fresh
 * receiver as fast as it takes it. The receiver's storing rate over the drain is its maximum
 * with a real sender's batches (`maxSps`); sustained rate and latency at 50 %/80 % do not apply.
 *
 * vmagent names its queue after the remote-write URL, so every receiver of the leg listens on
 * the port the backlog was filled for.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, httpGet, makeTempDir, removeTempDir, shellQuote, sleep, spawnReady, type Child } from './child-processes.js';
import { drained, drainWindow, type DrainPoll } from './drain-window.js';
import { startTargets } from './measure-scrape.js';
import { bucketDelta, parsePromText, sumOrZero, tryQuantile } from './prom-text.js';
import { REAL_SENDERS, startSender, type RunningSender, type SenderReading } from './real-senders.js';
import { dataNote, startReceiver, type ReceiverSpec } from './receivers.js';
import type { Figures } from './report-types.js';
import { ms, si, type RunContext, type RunOutcome } from './run-context.js';
import type { BacklogLoad, Leg } from './scenarios.js';

type BacklogLeg = Leg & { load: BacklogLoad };

/** The receiver's counter, this often. */
const POLL_MS = 250;
/** Drained: nothing pending at the sender and the receiver's counter flat this long. */
const IDLE_MS = 1500;

interface Backlog {
  /** vmagent's -remoteWrite.tmpDataPath after the fill (copied for each run). */
  queueDir: string;
  /** The loopback port the queue was filled for; every receiver listens there. */
  port: number;
  /** Samples vmagent put into remote-write blocks (its own counter). */
  samples: number;
  commands: string[];
}

/** One backlog per leg (keyed by its load, which the leg's runs share), filled on first use; its directory goes when the harness exits. */
const backlogs = new WeakMap<BacklogLoad, Promise<Backlog>>();

async function fill(leg: BacklogLeg, ctx: RunContext): Promise<Backlog> {
  const { load } = leg;
  const port = await freePort();
  const dir = makeTempDir('adxi-perf-backlog-');
  const seriesPerTarget = Math.max(1, Math.round((load.fillSps * load.scrapeIntervalS) / load.targets));
  ctx.log(`${ctx.label}: filling a backlog: ${load.targets} targets × ${seriesPerTarget} series every ${load.scrapeIntervalS} s for ${load.fillS} s, nothing listening on :${port}`);
  // Nothing is measured while filling: the targets and vmagent may use every core.
  const targets = await startTargets({ targets: load.targets, metrics: load.metrics }, seriesPerTarget, undefined);
  let sender: RunningSender | undefined;
  try {
    sender = await startSender(REAL_SENDERS.vmagent, { dir, targets: targets.addresses, intervalS: load.scrapeIntervalS, writeUrl: writeUrl(port), cpus: undefined });
    await sleep(load.fillS * 1000);
    const m = parsePromText(await httpGet(sender.metricsUrl));
    const samples = sumOrZero(m, 'vmagent_remotewrite_block_size_rows_sum');
    const bytes = sumOrZero(m, 'vmagent_remotewrite_pending_data_bytes');
    ctx.log(`${ctx.label}: backlog of ~${si(samples)} samples (${(bytes / 2 ** 20).toFixed(0)} MiB queued)`);
    return { queueDir: path.join(dir, 'queue'), port, samples, commands: [targets.child.command, ...sender.commands, '# …for the fill; then, per run, a copy of the queue drained by:'] };
  } finally {
    // SIGTERM: vmagent writes what it holds in memory to the queue before it exits.
    await sender?.child.stop(30_000);
    await targets.child.stop(2000);
  }
}

function writeUrl(port: number): string {
  return `http://127.0.0.1:${port}/api/v1/write`;
}

function backlogOf(leg: BacklogLeg, ctx: RunContext): Promise<Backlog> {
  let b = backlogs.get(leg.load);
  if (b === undefined) {
    b = fill(leg, ctx);
    backlogs.set(leg.load, b);
  }
  return b;
}

/** vmagent with a copy of the backlog and no scrape jobs: it only sends its queue. */
async function startDrain(leg: BacklogLeg, backlog: Backlog, dir: string): Promise<{ child: Child; metricsUrl: string }> {
  const queue = path.join(dir, 'queue');
  fs.cpSync(backlog.queueDir, queue, { recursive: true });
  const port = await freePort();
  const argv = ['vmagent', `-remoteWrite.url=${writeUrl(backlog.port)}`, `-remoteWrite.tmpDataPath=${queue}`, `-remoteWrite.queues=${leg.load.queues}`, `-httpListenAddr=127.0.0.1:${port}`, '-loggerLevel=WARN'];
  if (leg.load.rateLimitBytesPerS !== undefined) argv.push(`-remoteWrite.rateLimit=${leg.load.rateLimitBytesPerS}`);
  const child = await spawnReady('vmagent', argv, { cpus: leg.senderCpus }, `http://127.0.0.1:${port}/health`);
  return { child, metricsUrl: `http://127.0.0.1:${port}/metrics` };
}

async function senderReading(metricsUrl: string): Promise<SenderReading> {
  return REAL_SENDERS.vmagent.read(parsePromText(await httpGet(metricsUrl)));
}

export async function measureWithBacklog(leg: BacklogLeg, spec: ReceiverSpec, ctx: RunContext): Promise<RunOutcome> {
  const { load } = leg;
  const backlog = await backlogOf(leg, ctx);
  const receiver = await startReceiver(spec, leg.receiverCpus, backlog.port);
  ctx.log(`${ctx.label}: started (pid ${receiver.pid}) on cpu ${leg.receiverCpus}: ${receiver.child.command}`);
  const dir = makeTempDir('adxi-perf-drain-');
  let drain: { child: Child; metricsUrl: string } | undefined;
  try {
    const t0 = performance.now();
    drain = await startDrain(leg, backlog, dir);
    const before = await senderReading(drain.metricsUrl);
    const polls: DrainPoll[] = [];
    let reading = before;
    for (;;) {
      await sleep(POLL_MS);
      const atMs = performance.now() - t0;
      polls.push({ atMs, stored: (await receiver.storedSamples()) ?? 0, cpuS: receiver.cpuSeconds() });
      reading = await senderReading(drain.metricsUrl);
      if (drained(polls, reading.pending, IDLE_MS) || atMs > load.warmupMs + load.maxWindowMs) break;
    }
    const window = drainWindow(polls, load.warmupMs, load.minWindowMs);
    if (typeof window === 'string') throw new Error(window);
    const last = polls.at(-1)!;
    const durations = bucketDelta(before.requestDurations, reading.requestDurations);
    const p50 = (tryQuantile(durations, 0.5) ?? 0) * 1000;
    const p99 = (tryQuantile(durations, 0.99) ?? 0) * 1000;
    const notes = [
      `stored ${si(last.stored)} of ~${si(backlog.samples)} samples in ${(last.atMs / 1000).toFixed(1)} s${reading.pending > 0 ? ` (stopped at the ${load.maxWindowMs / 1000} s limit, ${(reading.pending / 2 ** 20).toFixed(0)} MiB still queued)` : ''}; measured over ${((window.to.atMs - window.from.atMs) / 1000).toFixed(1)} s after a ${load.warmupMs / 1000} s warm-up`,
      `vmagent's requests while draining (closed model, ${load.queues} in flight): p50 ${ms(p50)}, p99 ${ms(p99)}`,
    ];
    const lost = reading.lost - before.lost;
    const retries = reading.retries - before.retries;
    if (lost > 0 || retries > 0) notes.push(`vmagent dropped ${lost} blocks and retried or got non-2xx answers ${retries} times`);
    // Drained, yet short of the backlog: the receiver refused or lost part of it.
    if (reading.pending === 0 && last.stored < 0.99 * backlog.samples) notes.push(`the receiver stored only ${((100 * last.stored) / backlog.samples).toFixed(1)} % of the backlog`);
    notes.push(dataNote(receiver));
    ctx.log(`${ctx.label}: ${si(window.sps)}/s at ${window.cpuCores.toFixed(2)} cores; ${notes[0]}`);
    const figures: Figures = {
      sustainedSps: 0,
      maxSps: Math.round(window.sps),
      p50At50Ms: 0,
      p99At50Ms: 0,
      p50At80Ms: 0,
      p99At80Ms: 0,
      cpuCores: Math.round(window.cpuCores * 1000) / 1000,
      peakRssMiB: Math.round(receiver.peakRssMiB() * 10) / 10,
    };
    const commands = [...backlog.commands, `cp -a ${shellQuote(backlog.queueDir)} ${shellQuote(path.join(dir, 'queue'))}`, ...receiver.commands, drain.child.command];
    return { figures, notes, commands };
  } finally {
    await drain?.child.stop(10_000);
    removeTempDir(dir);
    await receiver.stop();
  }
}
