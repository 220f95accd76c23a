/**
 * Runs one scenario: for each leg, `runs` rounds in which every receiver is measured once, in
 * turn (ingestor, VM, Prometheus, ingestor, VM, …), so drift on the machine hits all alike; then
 * median / min / max per figure and the ratios, as a `PerfReport`.
 */
import { computeRatios, summarize } from './figures.js';
import { machineInfo, versions } from './machine-info.js';
import { measureWithBacklog } from './measure-backlog.js';
import { measureWithLoadgen } from './measure-loadgen.js';
import { measureWithScrapeSender } from './measure-scrape.js';
import { REAL_SENDERS } from './real-senders.js';
import { ensureBinaries, RECEIVERS } from './receivers.js';
import type { Figures, PerfReport, ReceiverName, ReceiverResult, SenderName } from './report-types.js';
import type { RunContext, RunOutcome } from './run-context.js';
import type { Leg, Scenario } from './scenarios.js';

export interface RunOptions {
  runs: number;
  /** Only these receivers (all of the scenario's when undefined). */
  receivers: readonly ReceiverName[] | undefined;
  /** The harness command line, first entry of `commands`. */
  invocation: string;
  log(line: string): void;
  /** Set on Ctrl-C: stop after the current step and throw. */
  signal: AbortSignal;
}

/** Dispatch on the kind of load; later stages (ack → queryable, upload rate) add their measurer here. */
function measure(leg: Leg, receiver: ReceiverName, ctx: RunContext): Promise<RunOutcome> {
  const spec = RECEIVERS[receiver];
  switch (leg.load.kind) {
    case 'loadgen':
      return measureWithLoadgen({ ...leg, load: leg.load }, spec, ctx);
    case 'scrape':
      return measureWithScrapeSender({ ...leg, load: leg.load }, spec, ctx);
    case 'backlog':
      return measureWithBacklog({ ...leg, load: leg.load }, spec, ctx);
  }
}

function activeSeries(leg: Leg): number {
  switch (leg.load.kind) {
    case 'loadgen':
      return leg.load.series;
    case 'scrape': // the series at the highest rate tried (each step changes the series per target)
      return Math.max(...leg.load.ratesSps) * leg.load.scrapeIntervalS;
    case 'backlog':
      return leg.load.fillSps * leg.load.scrapeIntervalS;
  }
}

function senderOf(leg: Leg): SenderName {
  return leg.load.kind === 'loadgen' ? 'loadgen' : leg.load.sender;
}

function binariesOf(legs: readonly Leg[]): string[] {
  const out = new Set<string>();
  for (const leg of legs) {
    for (const r of leg.receivers) out.add(RECEIVERS[r].binary);
    if (leg.load.kind !== 'loadgen') out.add(REAL_SENDERS[leg.load.sender].binary);
  }
  out.add('taskset');
  return [...out];
}

/** The leg's receivers after `--receivers`, minus those that do not speak its protocol. */
export function legReceivers(leg: Leg, only: readonly ReceiverName[] | undefined): ReceiverName[] {
  return leg.receivers.filter((r) => (only === undefined || only.includes(r)) && RECEIVERS[r].protocols.includes(leg.protocol));
}

interface Tally {
  runs: Figures[];
  notes: string[];
}

function addNote(notes: string[], note: string): void {
  if (!notes.includes(note)) notes.push(note);
}

async function runLeg(scenario: Scenario, leg: Leg, o: RunOptions, commands: string[]): Promise<ReceiverResult[]> {
  const receivers = legReceivers(leg, o.receivers);
  const tallies = new Map<ReceiverName, Tally>(receivers.map((r) => [r, { runs: [], notes: [...leg.notes] }]));
  for (let run = 1; run <= o.runs; run++) {
    for (const receiver of receivers) {
      o.signal.throwIfAborted();
      const ctx: RunContext = { label: `${scenario.name} run ${run}/${o.runs} ${receiver} ← ${senderOf(leg)}`, log: o.log };
      const tally = tallies.get(receiver)!;
      try {
        const outcome = await measure(leg, receiver, ctx);
        tally.runs.push(outcome.figures);
        for (const n of outcome.notes) addNote(tally.notes, o.runs > 1 ? `run ${run}: ${n}` : n);
        if (run === 1) for (const c of outcome.commands) if (!commands.includes(c)) commands.push(c);
      } catch (err) {
        if (o.signal.aborted) throw err;
        const message = err instanceof Error ? err.message : String(err);
        o.log(`${ctx.label}: FAILED: ${message}`);
        addNote(tally.notes, `run ${run} failed: ${message.split('\n')[0]}`);
      }
    }
  }
  return receivers.map((receiver) => {
    const t = tallies.get(receiver)!;
    return {
      receiver,
      sender: senderOf(leg),
      protocol: leg.protocol,
      receiverCpus: leg.receiverCpus,
      senderCpus: leg.senderCpus,
      activeSeries: activeSeries(leg),
      runs: t.runs,
      ...summarize(t.runs),
      notes: t.notes,
    };
  });
}

export async function runScenario(scenario: Scenario, o: RunOptions): Promise<PerfReport> {
  const date = new Date().toISOString();
  ensureBinaries(binariesOf(scenario.legs.filter((l) => legReceivers(l, o.receivers).length > 0)), o.log);
  const commands = [o.invocation];
  const results: ReceiverResult[] = [];
  for (const leg of scenario.legs) {
    if (legReceivers(leg, o.receivers).length === 0) continue;
    results.push(...(await runLeg(scenario, leg, o, commands)));
  }
  return {
    scenario: scenario.name,
    description: scenario.description,
    date,
    machine: machineInfo(),
    versions: versions(),
    commands,
    results,
    ratios: computeRatios(results),
  };
}
