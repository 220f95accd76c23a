/**
 * Where adx-ingestor's CPU goes under a scenario's loadgen load:
 *
 *   npm run perf:profile -- [--scenario rw1-one-core] [--rate 0] [--seconds 20] [--out DIR]
 *
 * Starts adx-ingestor and loadgen placed as the scenario places them (receiver CPUs, sender CPUs,
 * loadgen's nice), samples with `perf record` (Debian package linux-perf) for `--seconds` after
 * the warm-up, and prints the samples by part of the system (perf/report/profile-parts.ts): each
 * file of the native addon, the kernel, JavaScript, Node.js/V8, libc, uWebSockets.js. JavaScript
 * frames are named through `--perf-basic-prof`. When the receiver has its CPUs to itself perf
 * samples those CPUs (so the kernel's writeback threads count); otherwise only its process.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { REPO_ROOT, shellQuote, sleep, stopEverything } from './harness/child-processes.js';
import { type LoadgenMeasurement, runLoadgenProbe } from './harness/loadgen-probe.js';
import { machineInfo, versions } from './harness/machine-info.js';
import { findBinary, RECEIVERS, type RunningReceiver, startReceiver } from './harness/receivers.js';
import { findScenario, type Leg, type LoadgenLoad } from './harness/scenarios.js';
import { formatSps } from './report/format.js';
import { groupProfile, inlinedAway, nativeFunctionFiles, parsePerfReport, profileTable } from './report/profile-parts.js';
import { cpuList } from './report/targets.js';

const USAGE = `usage: npm run perf:profile -- [flags]
  --scenario NAME   a loadgen scenario whose load and placement to use (rw1-one-core)
  --rate N          samples/s offered; 0 = closed model, as fast as the receiver answers (0)
  --warmup S        seconds of load before sampling (8)
  --seconds S       seconds sampled (20)
  --out DIR         where perf.data, the report and profile.md go (perf/results/profile-<scenario>-<time>)
`;

interface Options {
  scenario: string;
  leg: Leg & { load: LoadgenLoad };
  rate: number;
  warmupS: number;
  seconds: number;
  out: string;
}

/** What was sampled, and how. */
interface Sampled {
  measured: LoadgenMeasurement;
  perfArgs: string[];
  /** The receiver's process only (loadgen shares its CPUs), not its CPUs. */
  processOnly: boolean;
}

/** The options, or a usage message. */
function parseOptions(argv: string[]): Options | string {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string', default: 'rw1-one-core' },
      rate: { type: 'string', default: '0' },
      warmup: { type: 'string', default: '8' },
      seconds: { type: 'string', default: '20' },
      out: { type: 'string' },
    },
  });
  const leg = findScenario(v.scenario)?.legs[0];
  const [rate, warmupS, seconds] = [Number(v.rate), Number(v.warmup), Number(v.seconds)];
  if (leg === undefined || leg.load.kind !== 'loadgen' || !(rate >= 0) || !(warmupS >= 0) || !(seconds > 0)) {
    return '--scenario must name a loadgen scenario, --rate and --warmup be ≥ 0, --seconds > 0';
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const out = path.resolve(v.out ?? path.join(REPO_ROOT, 'perf/results', `profile-${v.scenario}-${stamp}`));
  return { scenario: v.scenario, leg: { ...leg, load: leg.load }, rate, warmupS, seconds, out };
}

/** adx-ingestor with `--perf-basic-prof` (set for its spawn only: loadgen does without). */
async function startProfiledReceiver(cpus: string): Promise<RunningReceiver> {
  const nodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --perf-basic-prof`.trim();
  try {
    return await startReceiver(RECEIVERS['adx-ingestor'], cpus);
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
}

/** Runs loadgen and, after its warm-up, `perf record` into `data`. */
async function sample(o: Options, receiver: RunningReceiver, data: string): Promise<Sampled> {
  const { leg } = o;
  const senders = new Set(cpuList(leg.senderCpus));
  const processOnly = (cpuList(leg.receiverCpus) ?? []).some((c) => senders.has(c));
  const perfArgs = ['record', '-F', '997', '-o', data, ...(processOnly ? ['-p', String(receiver.pid)] : ['-C', leg.receiverCpus]), '--', 'sleep', String(o.seconds)];
  const timing = { warmupMs: o.warmupS * 1000, durationMs: (o.seconds + 2) * 1000 };
  const probe = runLoadgenProbe({ writeUrl: receiver.writeUrl, protocol: leg.protocol, rateSps: o.rate, load: leg.load, timing, cpus: leg.senderCpus, nice: leg.senderNice }, () => receiver.cpuSeconds());
  await sleep(timing.warmupMs + 1000);
  process.stderr.write(`profile: perf ${perfArgs.join(' ')}\n`);
  await promisify(execFile)('perf', perfArgs);
  return { measured: await probe, perfArgs, processOnly };
}

/** `perf report` of `data` by part, as profile.md's lines (`perf-report.txt` beside it). */
function describe(o: Options, receiver: RunningReceiver, data: string, s: Sampled, argv: string[]): string[] {
  const reportArgs = ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,sym', '-F', 'overhead,dso,sym', '-t', '\t', '--percent-limit', '0'];
  const text = execFileSync('perf', reportArgs, { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  fs.writeFileSync(path.join(o.out, 'perf-report.txt'), text);
  const native = path.join(REPO_ROOT, 'native');
  const sources = Object.fromEntries(fs.readdirSync(native).filter((f) => /\.[ch]$/.test(f)).map((f) => [f, fs.readFileSync(path.join(native, f), 'utf8')]));
  const functionFiles = nativeFunctionFiles(sources);
  const nm = execFileSync('nm', ['--defined-only', path.join(native, 'build', 'adx_native.node')], { encoding: 'utf8' });
  const symbols = new Set(nm.split('\n').map((l) => l.split(' ')[2] ?? '').filter((n) => n !== ''));
  const inlined = [...inlinedAway(functionFiles, symbols)].map(([file, fns]) => `${file}: ${fns.join(', ')}`);
  const { leg } = o;
  const r = s.measured.result;
  const m = machineInfo();
  const model = o.rate > 0 ? `open model, ${formatSps(o.rate)} samples/s offered` : 'closed model';
  return [
    `${new Date().toISOString()}, adx-ingestor ${versions()['adx-ingestor']}, node ${process.version}; ${m.cpuModel}, ${m.cores} cores, kernel ${m.kernel}.`,
    '',
    `Scenario \`${o.scenario}\`'s load (${model}): ${formatSps(r.samplesPerSec)} samples/s acknowledged, p99 ${r.latencyMs.p99.toFixed(1)} ms, ` +
      `receiver ${s.measured.receiverCpuCores.toFixed(2)} cores on CPUs ${leg.receiverCpus}, loadgen on CPUs ${leg.senderCpus}; ` +
      `${s.processOnly ? `the receiver's process (pid ${receiver.pid})` : `CPUs ${leg.receiverCpus}`} sampled for ${o.seconds} s.`,
    '',
    '```sh',
    ['npm', 'run', 'perf:profile', '--', ...argv].map(shellQuote).join(' '),
    receiver.child.command,
    s.measured.command,
    ['perf', ...s.perfArgs].map(shellQuote).join(' '),
    ['perf', ...reportArgs].map(shellQuote).join(' '),
    '```',
    '',
    ...profileTable(groupProfile(parsePerfReport(text), functionFiles)),
    '',
    `Inlined into their callers (no symbol of their own; their time counts for the caller's part): ${inlined.join('; ')}.`,
  ];
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = parseOptions(argv);
  if (typeof o === 'string') {
    process.stderr.write(`profile: ${o}\n${USAGE}`);
    return 2;
  }
  if (findBinary('perf') === undefined) {
    process.stderr.write('profile: perf not found (Debian: apt-get install -y linux-perf)\n');
    return 1;
  }
  fs.mkdirSync(o.out, { recursive: true });
  const data = path.join(o.out, 'perf.data');
  const receiver = await startProfiledReceiver(o.leg.receiverCpus);
  try {
    const lines = describe(o, receiver, data, await sample(o, receiver, data), argv);
    fs.writeFileSync(path.join(o.out, 'profile.md'), `${lines.join('\n')}\n`);
    process.stdout.write(`${lines.join('\n')}\nwrote ${path.relative(process.cwd(), o.out) || o.out}/profile.md, perf-report.txt and perf.data\n`);
    return 0;
  } finally {
    await receiver.stop();
    await stopEverything(3000);
    fs.rmSync(`/tmp/perf-${receiver.pid}.map`, { force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`profile: ${(err as Error).message}\n${(err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? USAGE : ''}`);
    process.exitCode = 1;
  },
);
