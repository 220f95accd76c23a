/** Reads the results, judges the targets, writes the page and its chart. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ReportInputError, loadReport, newestPerScenario, resultFiles } from './load-reports.js';
import { extractNotes, renderMarkdown } from './markdown.js';
import { renderChart } from './svg-chart.js';
import { checkTargets, type TargetCheck } from './targets.js';

export interface ReportOptions {
  /** Result files to read; when empty, every `.json` in `resultsDir`. */
  files: string[];
  resultsDir: string;
  markdownPath: string;
  svgPath: string;
}

export interface ReportSummary {
  /** The files used, one per scenario. */
  used: string[];
  targets: TargetCheck[];
}

export function generateReport(opts: ReportOptions): ReportSummary {
  const files = opts.files.length > 0 ? opts.files : resultFiles(opts.resultsDir);
  if (files.length === 0) throw new ReportInputError('no_results', `no results (*.json) in ${opts.resultsDir}; run the harness first`);
  const loaded = newestPerScenario(files.map(loadReport));
  const reports = loaded.map((l) => l.report);
  const targets = checkTargets(reports);
  // Notes first: a page with broken markers stops everything before anything is written.
  const notes = extractNotes(tryRead(opts.markdownPath), opts.markdownPath);
  const chartHref = path.relative(path.dirname(opts.markdownPath), opts.svgPath).split(path.sep).join('/');
  writeAtomically(opts.svgPath, renderChart(reports));
  writeAtomically(opts.markdownPath, renderMarkdown({ reports: loaded, targets, chartHref, notes }));
  return { used: loaded.map((l) => l.file), targets };
}

function tryRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write then rename, so an interrupted run never leaves half a page (and never loses the notes). */
function writeAtomically(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
