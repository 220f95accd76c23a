/**
 * CPU time and peak memory of a process tree from Linux `/proc`, the receiver-side figures the
 * harness reports (`cpuCores`, `peakRssMiB`). A process's `stat` covers all its threads (the
 * ingestor's worker threads, Go's); live child processes are found by their parent pid and added.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** The fields of `/proc/<pid>/stat` the harness uses; times in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  utimeTicks: number;
  stimeTicks: number;
  /** CPU time of children that exited and were waited for. */
  cutimeTicks: number;
  cstimeTicks: number;
}

export class ProcParseError extends Error {
  override readonly name = 'ProcParseError';
  readonly code = 'PROC_PARSE';
}

/**
 * Parses one `/proc/<pid>/stat` line (proc(5)): `pid (comm) state ppid … utime stime cutime cstime …`.
 * `comm` may hold spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const open = text.indexOf(' (');
  if (close < 0 || open < 0) throw new ProcParseError(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  // After ")": state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime cutime cstime
  const f = text.slice(close + 2).trim().split(/\s+/);
  const num = (i: number) => {
    const v = Number(f[i]);
    if (!Number.isFinite(v)) throw new ProcParseError(`field ${i + 3} of /proc/<pid>/stat is not a number: ${f[i]}`);
    return v;
  };
  return { pid: Number(text.slice(0, open)), ppid: num(1), utimeTicks: num(11), stimeTicks: num(12), cutimeTicks: num(13), cstimeTicks: num(14) };
}

/** `VmHWM` (peak resident set) and `VmRSS` from `/proc/<pid>/status`, KiB; undefined when absent (kernel threads, zombies). */
export function parseProcStatus(text: string): { vmHwmKiB: number | undefined; vmRssKiB: number | undefined } {
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return { vmHwmKiB: kib('VmHWM'), vmRssKiB: kib('VmRSS') };
}

let ticksPerSecond: number | undefined;

/** `sysconf(_SC_CLK_TCK)`, via `getconf`; 100 (the Linux value on every common architecture) if that fails. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function tryRead(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/** `pid` and every live process descended from it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = tryRead(`/proc/${entry}/stat`);
    if (text === undefined) continue;
    const st = parseProcStat(text);
    const list = children.get(st.ppid) ?? [];
    list.push(st.pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU seconds (user + system) used so far by `pid`'s whole tree: its threads, its live
 * descendants, and children it has reaped. Processes that ended meanwhile count as 0.
 */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const text = tryRead(`/proc/${p}/stat`);
    if (text === undefined) continue;
    const st = parseProcStat(text);
    ticks += st.utimeTicks + st.stimeTicks + (p === pid ? st.cutimeTicks + st.cstimeTicks : 0);
  }
  return ticks / clockTicksPerSecond();
}

/** Sum of `VmHWM` over `pid`'s live tree, MiB (an upper bound of the tree's peak when it has children). */
export function treePeakRssMiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    const text = tryRead(`/proc/${p}/status`);
    if (text !== undefined) kib += parseProcStatus(text).vmHwmKiB ?? 0;
  }
  return kib / 1024;
}
