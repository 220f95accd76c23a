/**
 * One run of one receiver fed by a real sender (vmagent, Prometheus agent): a fresh receiver, the
 * synthetic targets and the sender started once; the rate set step by step through the number of
 * series each target exposes (rate = targets × series / interval); each step judged over a
 * window; then the latency at 50 % and 80 % of the highest step the sender kept up with.
 */
import { performance } from 'node:perf_hooks';
import { httpGet, makeTempDir, removeTempDir, sleep, spawnChild, waitUntil, type Child } from './child-processes.js';
import { bucketDelta, tryQuantile } from './prom-text.js';
import { treeCpuSeconds } from './proc-stats.js';
import { REAL_SENDERS, startSender, type RunningSender, type TargetHealth } from './real-senders.js';
import { dataNote, startReceiver, type ReceiverSpec, type RunningReceiver } from './receivers.js';
import { ms, si, type RunContext, type RunOutcome } from './run-context.js';
import type { Figures } from './report-types.js';
import type { Leg, ProbeTiming, ScrapeLoad } from './scenarios.js';
import { judgeSenderWindow, scrapesSettled, type SenderWindowResult } from './sender-verdict.js';

type ScrapeLeg = Leg & { load: ScrapeLoad };

/** Readings during a window, this often. */
const POLL_MS = 1000;
/** After the warm-up, wait at most this long for the sender to settle (`scrapesSettled`); then measure anyway. */
const SETTLE_MAX_MS = 20_000;
/** Settled readings in a row, POLL_MS apart, that count as settled. */
const SETTLED_READINGS = 2;
/** A sender must have scraped every target within this long after its start. */
const TARGETS_UP_MS = 30_000;
/** After a step the sender did not keep up with, wait at most this long for its backlog to drain. */
const DRAIN_MS = 30_000;
/** The sender at this share of a core or more is likely the limit. */
const SENDER_BUSY = 0.9;
/** Receiver-stored and scraped rates further apart than this get a note (remote-write batches make short windows lumpy). */
const STORED_GAP = 0.2;

export interface Targets {
  child: Child;
  addresses: string[];
  setSeries(n: number): Promise<void>;
  /** Pages and samples served so far. */
  served(): Promise<{ scrapes: number; samples: number }>;
}

/** The synthetic targets (`scrape-targets.ts`), each serving `series` series over `load.metrics` families. */
export async function startTargets(load: Pick<ScrapeLoad, 'targets' | 'metrics'>, series: number, cpus: string | undefined): Promise<Targets> {
  const argv = ['node', 'dist/perf/harness/scrape-targets.js', '--targets', String(load.targets), '--series', String(series), '--metrics', String(load.metrics)];
  const child = spawnChild('scrape-targets', argv, { cpus, pipeStdout: true });
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    void child.exited.then((code) => reject(new Error(`scrape-targets exited with ${code}: ${child.logTail()}`)));
  });
  const { controlPort, targets } = JSON.parse(first) as { controlPort: number; targets: string[] };
  const control = `http://127.0.0.1:${controlPort}`;
  return {
    child,
    addresses: targets,
    async setSeries(n) {
      const res = await fetch(`${control}/series?n=${n}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
      if (res.status !== 204) throw new Error(`scrape-targets refused series=${n}: ${res.status}`);
    },
    served: async () => JSON.parse(await httpGet(`${control}/stats`)) as { scrapes: number; samples: number },
  };
}

interface Step extends SenderWindowResult {
  nominalSps: number;
  receiverCpuCores: number;
  senderCpuCores: number;
  targetsCpuCores: number;
  /** Samples the receiver stored per second over the window, by its own counter. */
  storedSps: number | undefined;
  /** Time from the end of the warm-up until the sender had settled, s; undefined: it had not after SETTLE_MAX_MS. */
  settleS: number | undefined;
  /** The receiver's own p99 request duration over the window, ms (`requestDurationMetric`); undefined when it keeps none. */
  receiverP99Ms: number | undefined;
}

interface Rig {
  leg: ScrapeLeg;
  receiver: RunningReceiver;
  targets: Targets;
  /** Replaced when restarted after a step it did not keep up with. */
  sender: RunningSender;
  senderDir: string;
}

/** Sets the rate, waits the warm-up, observes one window. */
async function observe(rig: Rig, nominalSps: number, timing: ProbeTiming): Promise<Step> {
  const { load } = rig.leg;
  await rig.targets.setSeries(Math.max(1, Math.round((nominalSps * load.scrapeIntervalS) / load.targets)));
  await sleep(timing.warmupMs);
  const settleS = await waitUntilSettled(rig);
  const cpu = () => ({ at: performance.now(), receiver: rig.receiver.cpuSeconds(), sender: treeCpuSeconds(rig.sender.child.pid), targets: treeCpuSeconds(rig.targets.child.pid) });
  const [start, served0, receiver0] = [await rig.sender.reading(), await rig.targets.served(), await rig.receiver.reading()];
  const cpu0 = cpu();
  const polls = [];
  const health: TargetHealth[] = [];
  const endAt = cpu0.at + timing.durationMs;
  for (let now = performance.now(); now < endAt - 50; now = performance.now()) {
    await sleep(Math.min(POLL_MS, endAt - now));
    if (performance.now() < endAt - 50) polls.push(await rig.sender.reading());
    health.push(await rig.sender.targetHealth());
  }
  const cpu1 = cpu();
  const [end, served1, receiver1] = [await rig.sender.reading(), await rig.targets.served(), await rig.receiver.reading()];
  const [stored0, stored1, took0, took1] = [receiver0.storedSamples, receiver1.storedSamples, receiver0.requestDurations, receiver1.requestDurations];
  const receiverP99 = took0 !== undefined && took1 !== undefined ? tryQuantile(bucketDelta(took0, took1), 0.99) : undefined;
  const windowS = (cpu1.at - cpu0.at) / 1000;
  const receiverStoredSps = stored0 !== undefined && stored1 !== undefined ? (stored1 - stored0) / windowS : undefined;
  const verdict = judgeSenderWindow({
    windowS,
    intervalS: load.scrapeIntervalS,
    targets: load.targets,
    start,
    end,
    polls,
    health,
    scrapesServed: served1.scrapes - served0.scrapes,
    samplesServed: served1.samples - served0.samples,
    normalPending: rig.sender.spec.normalPending(nominalSps, load.scrapeIntervalS),
    receiverStoredSps,
  });
  return {
    ...verdict,
    nominalSps,
    receiverCpuCores: (cpu1.receiver - cpu0.receiver) / windowS,
    senderCpuCores: (cpu1.sender - cpu0.sender) / windowS,
    targetsCpuCores: (cpu1.targets - cpu0.targets) / windowS,
    storedSps: receiverStoredSps === undefined ? undefined : Math.round(receiverStoredSps),
    settleS,
    receiverP99Ms: receiverP99 === undefined ? undefined : Math.round(receiverP99 * 1e4) / 10,
  };
}

/** Waits until the sender has settled after a change of rate (`scrapesSettled`); seconds waited, or undefined after SETTLE_MAX_MS. */
async function waitUntilSettled(rig: Rig): Promise<number | undefined> {
  const { load } = rig.leg;
  const start = performance.now();
  for (let inARow = 0; ; ) {
    const settled = scrapesSettled(await rig.sender.targetHealth(), load.targets, load.scrapeIntervalS);
    inARow = settled ? inARow + 1 : 0;
    if (inARow === SETTLED_READINGS) return (performance.now() - start) / 1000;
    if (performance.now() - start >= SETTLE_MAX_MS) return undefined;
    await sleep(POLL_MS);
  }
}

function describe(s: Step): string {
  const head = s.ok ? 'ok  ' : 'FAIL';
  const stored = s.storedSps === undefined ? '' : ` receiver stored ${si(s.storedSps)}/s`;
  const why = s.ok ? '' : ` (${s.reasons.join('; ')})`;
  // One poll interval is the least the settling check takes; more is worth a mention.
  const settle = s.settleS === undefined ? ` (sender not settled ${SETTLE_MAX_MS / 1000} s after the warm-up)` : s.settleS > (SETTLED_READINGS - 1) * (POLL_MS / 1000) + 0.5 ? ` (sender settled ${s.settleS.toFixed(1)} s after the warm-up)` : '';
  const own = s.receiverP99Ms === undefined ? '' : ` (receiver's own p99 ${ms(s.receiverP99Ms)})`;
  return `${head}${settle} intake ${si(s.intakeSps)}/s${stored} request p50 ${ms(s.p50Ms)} p99 ${ms(s.p99Ms)}${own} cpu receiver ${s.receiverCpuCores.toFixed(2)} sender ${s.senderCpuCores.toFixed(2)} targets ${s.targetsCpuCores.toFixed(2)}${why}`;
}

async function waitForDrain(rig: Rig, nominalSps: number): Promise<boolean> {
  const normal = rig.sender.spec.normalPending(nominalSps, rig.leg.load.scrapeIntervalS);
  const deadline = performance.now() + DRAIN_MS;
  while (performance.now() < deadline) {
    if ((await rig.sender.reading()).pending <= normal) return true;
    await sleep(POLL_MS);
  }
  return false;
}

async function launchSender(rig: Omit<Rig, 'sender' | 'senderDir'>): Promise<{ sender: RunningSender; senderDir: string }> {
  const { load } = rig.leg;
  const senderDir = makeTempDir(`adxi-perf-${load.sender}-`);
  const sender = await startSender(REAL_SENDERS[load.sender], { dir: senderDir, targets: rig.targets.addresses, intervalS: load.scrapeIntervalS, writeUrl: rig.receiver.writeUrl, cpus: rig.leg.senderCpus }).catch((err: unknown) => {
    removeTempDir(senderDir);
    throw err;
  });
  try {
    // Prometheus's discovery hands targets to the scrape loops only after a few seconds.
    const allUp = async () => {
      const h = await sender.targetHealth();
      return h.active === load.targets && h.notUp === 0;
    };
    await waitUntil(`${load.sender} to scrape all ${load.targets} targets`, allUp, TARGETS_UP_MS, sender.child);
    return { sender, senderDir };
  } catch (err) {
    await sender.child.stop(2000);
    removeTempDir(senderDir);
    throw err;
  }
}

async function stopSender(rig: Rig): Promise<void> {
  // Prometheus flushes its queue on exit, for up to a minute: bounded here.
  await rig.sender.child.stop(10_000);
  removeTempDir(rig.senderDir);
}

/** The rate steps in order, stopping at the first the sender does not keep up with. */
async function climb(rig: Rig, ctx: RunContext, notes: string[]): Promise<Step | undefined> {
  const name = rig.sender.spec.name;
  let best: Step | undefined;
  for (const rate of rig.leg.load.ratesSps) {
    const step = await observe(rig, rate, rig.leg.load.step);
    ctx.log(`${ctx.label}: step ${si(rate)}/s: ${describe(step)}`);
    if (step.senderCpuCores >= SENDER_BUSY) notes.push(`at ${si(rate)}/s ${name} used ${step.senderCpuCores.toFixed(2)} cores: the sender is likely the limit`);
    if (step.storedSps !== undefined && Math.abs(step.storedSps - step.intakeSps) > STORED_GAP * step.intakeSps) {
      notes.push(`at ${si(rate)}/s the receiver stored ${si(step.storedSps)}/s while the sender scraped ${si(step.intakeSps)}/s`);
    }
    if (!step.ok) {
      notes.push(`${name} did not keep up at ${si(rate)}/s: ${step.reasons.join('; ')}`);
      if (!(await waitForDrain(rig, best?.nominalSps ?? rate))) {
        notes.push(`its backlog had not drained ${DRAIN_MS / 1000} s later: restarted it (fresh queue) for the latency steps`);
        await stopSender(rig);
        Object.assign(rig, await launchSender(rig));
      }
      return best;
    }
    best = step;
  }
  notes.push(`${name} kept up at every rate tried (up to ${si(best!.nominalSps)}/s)`);
  return best;
}

async function latencyAt(rig: Rig, ctx: RunContext, nominalSps: number, fraction: number, notes: string[]): Promise<Step> {
  const step = await observe(rig, nominalSps * fraction, rig.leg.load.latencyProbe);
  ctx.log(`${ctx.label}: latency at ${fraction * 100} % (${si(nominalSps * fraction)}/s): ${describe(step)}`);
  if (!step.ok) notes.push(`at ${fraction * 100} % of ${si(nominalSps)}/s the sender did not keep up: ${step.reasons.join('; ')}`);
  // The sender times its requests on its own core, busy with scraping: its p99 can be several times the receiver's.
  if (step.receiverP99Ms !== undefined) notes.push(`at ${fraction * 100} %: request p99 ${ms(step.p99Ms)} as ${rig.sender.spec.name} measured it, ${ms(step.receiverP99Ms)} by the receiver's own histogram`);
  return step;
}

function figuresOf(best: Step | undefined, at50: Step | undefined, at80: Step | undefined, peakRssMiB: number): Figures {
  return {
    sustainedSps: best?.intakeSps ?? 0,
    maxSps: 0,
    p50At50Ms: at50?.p50Ms ?? 0,
    p99At50Ms: at50?.p99Ms ?? 0,
    p50At80Ms: at80?.p50Ms ?? 0,
    p99At80Ms: at80?.p99Ms ?? 0,
    cpuCores: Math.round((best?.receiverCpuCores ?? 0) * 1000) / 1000,
    peakRssMiB: Math.round(peakRssMiB * 10) / 10,
  };
}

export async function measureWithScrapeSender(leg: ScrapeLeg, spec: ReceiverSpec, ctx: RunContext): Promise<RunOutcome> {
  const { load } = leg;
  const receiver = await startReceiver(spec, leg.receiverCpus);
  ctx.log(`${ctx.label}: started (pid ${receiver.pid}) on cpu ${leg.receiverCpus}: ${receiver.child.command}`);
  let targets: Targets | undefined;
  let rig: Rig | undefined;
  try {
    targets = await startTargets(load, Math.max(1, Math.round((load.ratesSps[0]! * load.scrapeIntervalS) / load.targets)), leg.senderCpus);
    rig = { leg, receiver, targets, ...(await launchSender({ leg, receiver, targets })) };
    const commands = [...receiver.commands, targets.child.command, ...rig.sender.commands];
    const notes: string[] = [];
    const best = await climb(rig, ctx, notes);
    const at50 = best !== undefined ? await latencyAt(rig, ctx, best.nominalSps, 0.5, notes) : undefined;
    const at80 = best !== undefined ? await latencyAt(rig, ctx, best.nominalSps, 0.8, notes) : undefined;
    notes.push(dataNote(receiver));
    return { figures: figuresOf(best, at50, at80, receiver.peakRssMiB()), notes, commands };
  } finally {
    // The sender first, while the receiver still answers.
    if (rig !== undefined) await stopSender(rig);
    await targets?.child.stop(2000);
    await receiver.stop();
  }
}
