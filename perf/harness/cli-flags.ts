/** The harness's command line: `npm run perf -- <scenario> [flags]`. */
import { parseArgs } from 'node:util';
import { isReceiverName } from './receivers.js';
import type { ReceiverName } from './report-types.js';
import { findScenario, SCENARIO_GROUPS, SCENARIOS, type Scenario } from './scenarios.js';

export interface Flags {
  scenarios: Scenario[];
  /** Overrides each scenario's default. */
  runs: number | undefined;
  receivers: ReceiverName[] | undefined;
  quick: boolean;
  /** Report file; only with a single scenario. */
  out: string | undefined;
  help: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

export function usage(): string {
  const names = [...SCENARIOS.map((s) => `  ${s.name.padEnd(18)} ${s.description}`), ...Object.entries(SCENARIO_GROUPS).map(([g, list]) => `  ${g.padEnd(18)} ${list.join(', ')}, in sequence`)];
  return `usage: npm run perf -- <scenario> [flags]
Measures receivers side by side on this machine and writes perf/results/<scenario>-<UTC time>.json.

scenarios:
${names.join('\n')}

flags:
  --runs N               runs per receiver (fresh receiver each run, receivers interleaved); default per scenario
  --receivers a,b        only these receivers (adx-ingestor, victoria-metrics, prometheus)
  --quick                shorter probes and search (to try the harness; noisier figures)
  --out FILE             write the JSON report here instead (single scenario only)
  --help                 this text
`;
}

export function parseFlags(argv: readonly string[]): Flags {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      runs: { type: 'string' },
      receivers: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { scenarios: [], runs: undefined, receivers: undefined, quick: false, out: undefined, help: true };
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'which scenario?' : `one scenario at a time, got ${positionals.join(' ')}`);
  const name = positionals[0]!;
  const group = SCENARIO_GROUPS[name];
  const scenarios = (group ?? [name]).map((n) => findScenario(n));
  if (scenarios.some((s) => s === undefined)) throw new UsageError(`no scenario ${name}`);
  let runs: number | undefined;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs: expected a positive integer, got ${values.runs}`);
  }
  let receivers: ReceiverName[] | undefined;
  if (values.receivers !== undefined) {
    const list = values.receivers.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = list.filter((r) => !isReceiverName(r));
    if (bad.length > 0 || list.length === 0) throw new UsageError(`--receivers: unknown ${bad.join(', ') || '(empty)'}; known: adx-ingestor, victoria-metrics, prometheus`);
    receivers = list as ReceiverName[];
  }
  if (values.out !== undefined && scenarios.length > 1) throw new UsageError(`--out takes a single scenario; ${name} runs ${scenarios.length}`);
  return { scenarios: scenarios as Scenario[], runs, receivers, quick: values.quick, out: values.out, help: false };
}
