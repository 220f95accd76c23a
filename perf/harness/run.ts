/**
 * The performance harness: `npm run perf -- <scenario> [--runs N] [--receivers a,b] [--quick] [--out FILE]`.
 * Progress on stderr, the summary table on stdout, the JSON report (`PerfReport`) in
 * perf/results/. See perf/README.md, "Harness".
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, shellQuote, stopEverything } from './child-processes.js';
import { parseFlags, usage, UsageError } from './cli-flags.js';
import { renderTable } from './report-table.js';
import { runScenario } from './run-scenario.js';
import { quickened } from './scenarios.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** 2026-11-22T00:15:30.123Z → 20261122T001530Z */
function fileStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function onInterrupt(abort: AbortController): void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    if (++count > 1) process.exit(130); // the 'exit' hook SIGKILLs what is left
    log(`${sig}: stopping every process the harness started and removing its temp dirs`);
    abort.abort(new Error(`interrupted by ${sig}`));
    void stopEverything(3000).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function main(): Promise<number> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError) && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw err;
    process.stderr.write(`perf: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  const abort = new AbortController();
  onInterrupt(abort);
  const invocation = ['npm', 'run', 'perf', '--', ...process.argv.slice(2)].map(shellQuote).join(' ');
  let incomplete = false;
  for (const base of flags.scenarios) {
    const scenario = flags.quick ? quickened(base) : base;
    const started = new Date();
    log(`scenario ${scenario.name}: ${scenario.description}`);
    const report = await runScenario(scenario, { runs: flags.runs ?? scenario.runs, receivers: flags.receivers, invocation, log, signal: abort.signal });
    const file = flags.out ?? path.join(REPO_ROOT, 'perf/results', `${scenario.name}-${fileStamp(started)}.json`);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${renderTable(report)}\n\nwrote ${path.relative(process.cwd(), path.resolve(file)) || file}\n`);
    if (report.results.some((r) => r.runs.length === 0)) incomplete = true;
  }
  return incomplete ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    process.stderr.write(`perf: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopEverything(3000);
    process.exitCode = 1;
  },
);
