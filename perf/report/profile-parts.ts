/**
 * Where a core goes, by part of the system: `perf report` rows (overhead, shared object, symbol)
 * grouped into the native addon's files (native/*.h, from the functions each defines), the
 * kernel, JavaScript (JIT code, named with `--perf-basic-prof`), Node.js/V8, libc,
 * uWebSockets.js and the rest. Pure functions; perf/profile.ts runs perf and prints the result.
 *
 * A static function the compiler inlined has no symbol of its own: its time counts for the
 * function it was inlined into, and so for that function's file.
 */

/** One `perf report` row: percent of the samples, shared object, symbol. */
export interface ProfileRow {
  percent: number;
  dso: string;
  symbol: string;
}

export interface ProfilePart {
  part: string;
  percent: number;
  /** The heaviest symbols of the part, heaviest first, with their percent. */
  top: Array<{ symbol: string; percent: number }>;
}

/** The native addon's file name (see scripts/build-native.mjs). */
const NATIVE_DSO = 'adx_native.node';

/**
 * Rows of `perf report --stdio --no-children --sort dso,sym -F overhead,dso,sym -t '\t'`:
 * `12.34%\tadx_native.node\t[.] compress_block`. Comment and blank lines are skipped; so is
 * anything else that is not such a row.
 */
export function parsePerfReport(text: string): ProfileRow[] {
  const rows: ProfileRow[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [overhead, dso, sym] = line.split('\t').map((s) => s.trim());
    const m = /^(\d+(?:\.\d+)?)%$/.exec(overhead ?? '');
    if (m === null || dso === undefined || sym === undefined) continue;
    rows.push({ percent: Number(m[1]), dso, symbol: sym.replace(/^\[[^\]]*\]\s+/, '') });
  }
  return rows;
}

/**
 * The functions each native source file defines: name → file. `sources` maps a file name to
 * its text; a definition is a line starting with `static` that names a function.
 */
export function nativeFunctionFiles(sources: Readonly<Record<string, string>>): Map<string, string> {
  const files = new Map<string, string>();
  for (const [file, text] of Object.entries(sources)) {
    for (const m of text.matchAll(/^static\b[^(=;]*?\b(\w+)\s*\(/gm)) files.set(m[1]!, file);
  }
  return files;
}

/** The part a row belongs to. GCC's clones (`f.constprop.0`, `f.part.0`) count as `f`. */
export function partOf(row: ProfileRow, functionFiles: ReadonlyMap<string, string>): string {
  const { dso, symbol } = row;
  if (dso === NATIVE_DSO) return `native/${functionFiles.get(symbol.split('.')[0]!) ?? '(other)'}`;
  if (dso === '[kernel.kallsyms]' || dso === '[kernel.vmlinux]') return 'kernel';
  if (/^perf-\d+\.map$/.test(dso) || dso.startsWith('[JIT]')) return 'JavaScript (JIT)';
  if (dso === 'node') return 'Node.js and V8 (C++)';
  if (/^libc[.-]/.test(dso)) return 'libc';
  if (/^uws_/.test(dso)) return 'uWebSockets.js';
  return 'other';
}

/** Rows summed per part, heaviest part first, each with its `topN` heaviest symbols. */
export function groupProfile(rows: readonly ProfileRow[], functionFiles: ReadonlyMap<string, string>, topN = 3): ProfilePart[] {
  const parts = new Map<string, ProfilePart>();
  for (const row of rows) {
    const name = partOf(row, functionFiles);
    const part = parts.get(name) ?? { part: name, percent: 0, top: [] };
    part.percent += row.percent;
    part.top.push({ symbol: row.symbol, percent: row.percent });
    parts.set(name, part);
  }
  return [...parts.values()]
    .map((p) => ({ ...p, percent: Math.round(p.percent * 100) / 100, top: p.top.sort((a, b) => b.percent - a.percent).slice(0, topN) }))
    .sort((a, b) => b.percent - a.percent);
}

/**
 * The native functions with no symbol in the built addon (`symbols`: its `nm` names), by file:
 * the compiler inlined them everywhere, so their time counts for their callers (say, the request
 * walk for `js_encode_v1`).
 */
export function inlinedAway(functionFiles: ReadonlyMap<string, string>, symbols: ReadonlySet<string>): Map<string, string[]> {
  const present = new Set([...symbols].map((s) => s.split('.')[0]!));
  const out = new Map<string, string[]>();
  for (const [fn, file] of functionFiles) if (!present.has(fn)) out.set(file, [...(out.get(file) ?? []), fn]);
  return out;
}

/** The parts as a Markdown table. */
export function profileTable(parts: readonly ProfilePart[]): string[] {
  return [
    '| part | % of the samples | heaviest functions |',
    '| --- | --- | --- |',
    ...parts.map((p) => `| ${p.part} | ${p.percent.toFixed(1)} % | ${p.top.map((s) => `\`${s.symbol.replace(/\|/g, '\\|')}\` ${s.percent.toFixed(1)}`).join(', ')} |`),
  ];
}
