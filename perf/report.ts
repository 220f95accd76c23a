/**
 * Turns harness results into docs/performance.md and docs/performance.svg:
 *
 *   npm run perf:report                                   # newest perf/results/*.json per scenario
 *   node dist/perf/report.js perf/results/a.json b.json   # these files (newest per scenario)
 *
 * Text between `<!-- notes:start -->` and `<!-- notes:end -->` in the page is kept.
 */
import { parseArgs } from 'node:util';
import { generateReport } from './report/generate.js';
import { ReportInputError } from './report/load-reports.js';

const USAGE = `usage: node dist/perf/report.js [flags] [RESULT.json ...]
  --results DIR     where the harness writes results, read when no files are given (perf/results)
  --markdown FILE   page to write (docs/performance.md)
  --svg FILE        chart to write (docs/performance.svg)
`;

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        results: { type: 'string', default: 'perf/results' },
        markdown: { type: 'string', default: 'docs/performance.md' },
        svg: { type: 'string', default: 'docs/performance.svg' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw err;
    process.stderr.write(`report: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const { used, targets } = generateReport({ files: positionals, resultsDir: v.results, markdownPath: v.markdown, svgPath: v.svg });
    const count = (s: string) => targets.filter((t) => t.status === s).length;
    process.stderr.write(
      `report: wrote ${v.markdown} and ${v.svg} from ${used.length} scenario(s) (${used.join(', ')}); ` +
        `targets: ${count('met')} met, ${count('not met')} not met, ${count('not measured')} not measured\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof ReportInputError)) throw err;
    process.stderr.write(`report: ${err.message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
