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
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { REPO_ROOT, shellQuote, sleep, stopEverything } from './harness/child-processes.js';
import { runLoadgenProbe } from './harness/loadgen-probe.js';
import { machineInfo, versions } from './harness/machine-info.js';
import { findBinary, RECEIVERS, startReceiver } from './harness/receivers.js';
import { findScenario, type LoadgenLoad } from './harness/scenarios.js';
import { formatSps } from './report/format.js';
import { groupProfile, inlinedAway, nativeFunctionFiles, parsePerfReport, profileTable } from './report/profile-parts.js';

const USAGE = `usage: npm run perf:profile -- [flags]
  --scenario NAME   a loadgen scenario whose load and placement to use (rw1-one-core)
  --rate N          samples/s offered; 0 = closed model, as fast as the receiver answers (0)
  --warmup S        seconds of load before sampling (8)
  --seconds S       seconds sampled (20)
  --out DIR         where perf.data, the report and profile.md go (perf/results/profile-<scenario>-<time>)
`;

/** CPU numbers of a taskset list ("0", "0,1", "0-3"). */
function cpuSet(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    for (let c = from!; c <= to!; c++) out.add(c);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string', default: 'rw1-one-core' },
      rate: { type: 'string', default: '0' },
      warmup: { type: 'string', default: '8' },
      seconds: { type: 'string', default: '20' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const leg = findScenario(v.scenario)?.legs[0];
  const [rate, warmupS, seconds] = [Number(v.rate), Number(v.warmup), Number(v.seconds)];
  if (leg === undefined || leg.load.kind !== 'loadgen' || !(rate >= 0) || !(warmupS >= 0) || !(seconds > 0)) {
    process.stderr.write(`profile: --scenario must name a loadgen scenario, --rate and --warmup be ≥ 0, --seconds > 0\n${USAGE}`);
    return 2;
  }
  if (findBinary('perf') === undefined) {
    process.stderr.write('profile: perf not found (Debian: apt-get install -y linux-perf)\n');
    return 1;
  }
  const load: LoadgenLoad = leg.load;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const out = path.resolve(v.out ?? path.join(REPO_ROOT, 'perf/results', `profile-${v.scenario}-${stamp}`));
  fs.mkdirSync(out, { recursive: true });
  const data = path.join(out, 'perf.data');

  // --perf-basic-prof for the receiver only (loadgen is spawned after it is unset again).
  const nodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --perf-basic-prof`.trim();
  const receiver = await startReceiver(RECEIVERS['adx-ingestor'], leg.receiverCpus).finally(() => {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  });
  try {
    const shared = [...cpuSet(leg.receiverCpus)].some((c) => cpuSet(leg.senderCpus).has(c));
    const target = shared ? ['-p', String(receiver.pid)] : ['-C', leg.receiverCpus];
    const perfArgs = ['record', '-F', '997', '-o', data, ...target, '--', 'sleep', String(seconds)];
    const probe = runLoadgenProbe(
      { writeUrl: receiver.writeUrl, protocol: leg.protocol, rateSps: rate, load, timing: { warmupMs: warmupS * 1000, durationMs: (seconds + 2) * 1000 }, cpus: leg.senderCpus, nice: leg.senderNice },
      () => receiver.cpuSeconds(),
    );
    await sleep(warmupS * 1000 + 1000);
    process.stderr.write(`profile: perf ${perfArgs.join(' ')}\n`);
    await promisify(execFile)('perf', perfArgs);
    const measured = await probe;
    const reportArgs = ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,sym', '-F', 'overhead,dso,sym', '-t', '\t', '--percent-limit', '0'];
    const text = execFileSync('perf', reportArgs, { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    fs.writeFileSync(path.join(out, 'perf-report.txt'), text);
    const native = path.join(REPO_ROOT, 'native');
    const sources = Object.fromEntries(fs.readdirSync(native).filter((f) => /\.[ch]$/.test(f)).map((f) => [f, fs.readFileSync(path.join(native, f), 'utf8')]));
    const functionFiles = nativeFunctionFiles(sources);
    const parts = groupProfile(parsePerfReport(text), functionFiles);
    const addon = path.join(native, 'build', 'adx_native.node');
    const symbols = new Set(execFileSync('nm', ['--defined-only', addon], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[2] ?? '').filter((n) => n !== ''));
    const inlined = [...inlinedAway(functionFiles, symbols)].map(([file, fns]) => `${file}: ${fns.join(', ')}`);
    const r = measured.result;
    const m = machineInfo();
    const what = [
      `${new Date().toISOString()}, adx-ingestor ${versions()['adx-ingestor']}, node ${process.version}; ${m.cpuModel}, ${m.cores} cores, kernel ${m.kernel}.`,
      '',
      `Scenario \`${v.scenario}\`'s load (${rate > 0 ? `open model, ${formatSps(rate)} samples/s offered` : 'closed model'}): ` +
        `${formatSps(r.samplesPerSec)} samples/s acknowledged, p99 ${r.latencyMs.p99.toFixed(1)} ms, receiver ${measured.receiverCpuCores.toFixed(2)} cores ` +
        `on CPUs ${leg.receiverCpus}, loadgen on CPUs ${leg.senderCpus}; ${shared ? `the receiver's process (pid ${receiver.pid})` : `CPUs ${leg.receiverCpus}`} sampled for ${seconds} s.`,
      '',
      '```sh',
      ['npm', 'run', 'perf:profile', '--', ...argv].map(shellQuote).join(' '),
      receiver.child.command,
      measured.command,
      ['perf', ...perfArgs].map(shellQuote).join(' '),
      ['perf', ...reportArgs].map(shellQuote).join(' '),
      '```',
      '',
      ...profileTable(parts),
      '',
      `Inlined into their callers (no symbol of their own; their time counts for the caller's part): ${inlined.join('; ')}.`,
      '',
    ];
    fs.writeFileSync(path.join(out, 'profile.md'), `${what.join('\n')}\n`);
    process.stdout.write(`${what.join('\n')}\nwrote ${path.relative(process.cwd(), out) || out}/profile.md, perf-report.txt and perf.data\n`);
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
