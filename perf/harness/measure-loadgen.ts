/**
 * One run of one receiver driven by loadgen: a fresh receiver; the closed-model maximum; the
 * search for the sustained rate (open model); latency probes at 50 % and 80 % of it; CPU at the
 * sustained rate and peak RSS; the receiver stopped and its data removed, whatever happens.
 */
import { judgeOpenProbe, runLoadgenProbe, type LoadgenMeasurement, type Verdict } from './loadgen-probe.js';
import { dataNote, startReceiver, type ReceiverSpec, type RunningReceiver } from './receivers.js';
import { ms, si, type RunContext, type RunOutcome } from './run-context.js';
import type { Leg, LoadgenLoad, ProbeTiming } from './scenarios.js';
import { findSustainedRate, roundRate } from './sustained-search.js';

/** Warm-ups cover at least this many passes over the series (the first pass creates them: slower). */
const WARMUP_SERIES_PASSES = 1.2;
/** …but never longer than this. */
const MAX_WARMUP_MS = 30_000;
/** The search never probes below this fraction of the closed-model maximum. */
const FLOOR_FRACTION = 0.02;
/** …nor above this multiple of it. */
const CEILING_FACTOR = 1.2;
/** loadgen at this share of its core or more may itself be the limit. */
const GENERATOR_BUSY = 0.9;

type LoadgenLeg = Leg & { load: LoadgenLoad };

interface Probed {
  ok: boolean;
  m: LoadgenMeasurement;
  verdict: Verdict;
}

function describe(m: LoadgenMeasurement, verdict?: Verdict): string {
  const r = m.result;
  const status = Object.entries(r.statusCounts).map(([s, n]) => `${s}:${n}`).join(' ') || '-';
  const head = verdict === undefined ? '' : verdict.ok ? 'ok   ' : 'FAIL ';
  const why = verdict !== undefined && !verdict.ok ? ` (${verdict.reasons.join('; ')})` : '';
  return `${head}acked ${si(r.samplesPerSec)}/s p50 ${ms(r.latencyMs.p50)} p99 ${ms(r.latencyMs.p99)} late ${r.late}/${r.requests} status ${status} receiver cpu ${m.receiverCpuCores.toFixed(2)}${why}`;
}

async function search(leg: LoadgenLeg, receiver: RunningReceiver, ctx: RunContext, maxSps: number) {
  const { load } = leg;
  const probe = async (rateSps: number): Promise<Probed> => {
    const m = await runLoadgen(leg, receiver, rateSps, load.searchProbe);
    const verdict = judgeOpenProbe(m.result, load);
    ctx.log(`${ctx.label}: probe ${si(rateSps)}/s: ${describe(m, verdict)}`);
    return { ok: verdict.ok, m, verdict };
  };
  return findSustainedRate(probe, {
    startSps: maxSps * load.search.startFraction,
    ceilingSps: roundRate(maxSps * CEILING_FACTOR),
    floorSps: Math.max(1, roundRate(maxSps * FLOOR_FRACTION)),
    tolerance: load.search.tolerance,
    maxProbes: load.search.maxProbes,
    stepFactor: load.search.stepFactor,
  });
}

function runLoadgen(leg: LoadgenLeg, receiver: RunningReceiver, rateSps: number, timing: ProbeTiming): Promise<LoadgenMeasurement> {
  const passMs = rateSps > 0 ? (WARMUP_SERIES_PASSES * leg.load.series * 1000) / rateSps : 0;
  const warmupMs = Math.round(Math.max(timing.warmupMs, Math.min(MAX_WARMUP_MS, passMs)));
  return runLoadgenProbe(
    { writeUrl: receiver.writeUrl, protocol: leg.protocol, rateSps, load: leg.load, timing: { ...timing, warmupMs }, cpus: leg.senderCpus, nice: leg.senderNice },
    receiver.cpuSeconds,
  );
}

/** Open-model probe at `fraction` of the sustained rate, for its latency. */
async function latencyAt(leg: LoadgenLeg, receiver: RunningReceiver, ctx: RunContext, sustainedSps: number, fraction: number, notes: string[]) {
  if (sustainedSps <= 0) return undefined;
  const rate = roundRate(sustainedSps * fraction);
  const m = await runLoadgen(leg, receiver, rate, leg.load.latencyProbe);
  const verdict = judgeOpenProbe(m.result, leg.load);
  ctx.log(`${ctx.label}: latency at ${fraction * 100} % (${si(rate)}/s): ${describe(m, verdict)}`);
  if (!verdict.ok) notes.push(`at ${fraction * 100} % of the sustained rate (${si(rate)}/s) the longer probe did not pass: ${verdict.reasons.join('; ')}`);
  return m;
}

export async function measureWithLoadgen(leg: LoadgenLeg, spec: ReceiverSpec, ctx: RunContext): Promise<RunOutcome> {
  const receiver = await startReceiver(spec, leg.receiverCpus);
  ctx.log(`${ctx.label}: started (pid ${receiver.pid}) on cpu ${leg.receiverCpus}: ${receiver.child.command}`);
  const notes: string[] = [];
  const commands = [...receiver.commands];
  try {
    const max = await runLoadgen(leg, receiver, 0, leg.load.maxProbe);
    commands.push(max.command);
    ctx.log(`${ctx.label}: max (closed model, ${leg.load.connections} connections): ${describe(max)}`);
    const refused = Object.keys(max.result.statusCounts).filter((s) => !/^2\d\d$/.test(s));
    if (refused.length > 0) notes.push(`closed-model run saw non-2xx answers (${refused.join(', ')}): maxSps counts 2xx only; ${max.firstErrors.join('; ')}`);
    if (max.result.generatorCpuS >= GENERATOR_BUSY * max.result.durationS) notes.push(`loadgen used ${(max.result.generatorCpuS / max.result.durationS).toFixed(2)} of its core in the closed-model run: the generator may be the limit`);

    const found = await search(leg, receiver, ctx, max.result.samplesPerSec);
    if (found.steps[0] !== undefined) commands.push(found.steps[0].outcome.m.command);
    if (found.sustainedSps === 0) notes.push(`no open-model rate passed (lowest tried ${si(Math.min(...found.steps.map((s) => s.rateSps)))}/s)`);
    else if (found.failedAtSps === undefined) notes.push(`every rate up to ${si(found.sustainedSps)}/s passed (the search's ceiling or probe limit)`);
    ctx.log(`${ctx.label}: sustained ${si(found.sustainedSps)}/s${found.failedAtSps !== undefined ? ` (failed at ${si(found.failedAtSps)}/s)` : ''}`);

    const at50 = await latencyAt(leg, receiver, ctx, found.sustainedSps, 0.5, notes);
    const at80 = await latencyAt(leg, receiver, ctx, found.sustainedSps, 0.8, notes);
    if (at50 !== undefined) commands.push(at50.command);
    notes.push(dataNote(receiver));
    return {
      figures: {
        sustainedSps: found.sustainedSps,
        maxSps: max.result.samplesPerSec,
        p50At50Ms: at50?.result.latencyMs.p50 ?? 0,
        p99At50Ms: at50?.result.latencyMs.p99 ?? 0,
        p50At80Ms: at80?.result.latencyMs.p50 ?? 0,
        p99At80Ms: at80?.result.latencyMs.p99 ?? 0,
        cpuCores: Math.round((found.best?.m.receiverCpuCores ?? 0) * 1000) / 1000,
        peakRssMiB: Math.round(receiver.peakRssMiB() * 10) / 10,
      },
      notes,
      commands,
    };
  } finally {
    await receiver.stop();
  }
}
