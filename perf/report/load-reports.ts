/**
 * Reads harness results (`perf/results/*.json`, shape in perf/harness/report-types.ts) and keeps
 * the newest report of each scenario.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Figures, PerfReport, ReceiverName, ReceiverResult } from '../harness/report-types.js';

/** `bad_notes`: the page's notes markers are broken, so regenerating would lose hand-written text. */
export type ReportInputErrorCode = 'no_results' | 'unreadable' | 'bad_json' | 'bad_shape' | 'bad_notes';

export class ReportInputError extends Error {
  constructor(
    readonly code: ReportInputErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReportInputError';
  }
}

export interface LoadedReport {
  /** Where it was read from, as given. */
  file: string;
  report: PerfReport;
}

const FIGURE_KEYS = [
  'sustainedSps', 'maxSps', 'p50At50Ms', 'p99At50Ms', 'p50At80Ms', 'p99At80Ms', 'cpuCores', 'peakRssMiB',
] as const satisfies ReadonlyArray<keyof Figures>;
/** Receivers in table and chart order. */
export const RECEIVER_ORDER: readonly ReceiverName[] = ['adx-ingestor', 'victoria-metrics', 'prometheus'];
const RECEIVERS = new Set<string>(RECEIVER_ORDER);

/** The `.json` files directly in `dir`, sorted by name. */
export function resultFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new ReportInputError('no_results', `cannot list ${dir}: ${(err as Error).message}`);
  }
  return names.filter((n) => n.endsWith('.json')).sort().map((n) => path.join(dir, n));
}

export function loadReport(file: string): LoadedReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReportInputError('unreadable', `cannot read ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ReportInputError('bad_json', `${file}: not JSON: ${(err as Error).message}`);
  }
  const problem = shapeProblem(data);
  if (problem !== undefined) throw new ReportInputError('bad_shape', `${file}: not a PerfReport: ${problem}`);
  return { file, report: data as PerfReport };
}

/**
 * The newest report of each scenario (by `date`; on equal dates the later file name), sorted by
 * scenario name.
 */
export function newestPerScenario(loaded: LoadedReport[]): LoadedReport[] {
  const newest = new Map<string, LoadedReport>();
  for (const l of loaded) {
    const seen = newest.get(l.report.scenario);
    if (seen === undefined || isNewer(l, seen)) newest.set(l.report.scenario, l);
  }
  return [...newest.values()].sort((a, b) => (a.report.scenario < b.report.scenario ? -1 : 1));
}

/** A report's results in RECEIVER_ORDER, then by protocol, then in the report's order (the sender). */
export function sortedResults(report: PerfReport): ReceiverResult[] {
  const rank = (r: ReceiverResult) => RECEIVER_ORDER.indexOf(r.receiver);
  return [...report.results].sort((a, b) => rank(a) - rank(b) || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

function isNewer(a: LoadedReport, b: LoadedReport): boolean {
  const ta = Date.parse(a.report.date);
  const tb = Date.parse(b.report.date);
  return ta !== tb ? ta > tb : path.basename(a.file) > path.basename(b.file);
}

/** Undefined when `data` has the fields the report reads, else what is wrong. */
function shapeProblem(data: unknown): string | undefined {
  if (!isObject(data)) return 'not an object';
  for (const k of ['scenario', 'description', 'date'] as const) if (typeof data[k] !== 'string') return `${k} is not a string`;
  if (Number.isNaN(Date.parse(data.date as string))) return `date is not a date: ${String(data.date)}`;
  const m = data.machine;
  if (!isObject(m) || typeof m.cpuModel !== 'string' || typeof m.cores !== 'number') return 'machine is incomplete';
  if (!isObject(data.versions)) return 'versions is not an object';
  if (!Array.isArray(data.commands) || !data.commands.every((c) => typeof c === 'string')) return 'commands is not a list of strings';
  if (!Array.isArray(data.results) || data.results.length === 0) return 'results is empty';
  for (const [i, r] of data.results.entries()) {
    const p = resultProblem(r);
    if (p !== undefined) return `results[${i}]: ${p}`;
  }
  return undefined;
}

function resultProblem(r: unknown): string | undefined {
  if (!isObject(r)) return 'not an object';
  if (typeof r.receiver !== 'string' || !RECEIVERS.has(r.receiver)) return `unknown receiver ${String(r.receiver)}`;
  if (r.protocol !== '1.0' && r.protocol !== '2.0') return `protocol must be "1.0" or "2.0", got ${String(r.protocol)}`;
  for (const k of ['sender', 'receiverCpus', 'senderCpus'] as const) if (typeof r[k] !== 'string') return `${k} is not a string`;
  if (typeof r.activeSeries !== 'number') return 'activeSeries is not a number';
  if (!Array.isArray(r.notes) || !r.notes.every((n) => typeof n === 'string')) return 'notes is not a list of strings';
  if (!Array.isArray(r.runs)) return 'runs is not a list';
  for (const k of ['median', 'min', 'max'] as const satisfies ReadonlyArray<keyof ReceiverResult>) {
    const f = r[k];
    if (!isObject(f)) return `${k} is missing`;
    const bad = FIGURE_KEYS.find((fk) => typeof f[fk] !== 'number' || !Number.isFinite(f[fk]));
    if (bad !== undefined) return `${k}.${bad} is not a finite number`;
  }
  return undefined;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
