/**
 * The window a backlog drain is measured over, from polls of the receiver's stored-samples
 * counter: from the first poll after the warm-up to the last poll at which the counter still
 * rose (the idle tail after the backlog is gone does not count), or to the time limit.
 */

export interface DrainPoll {
  /** ms since the sender started. */
  atMs: number;
  /** The receiver's stored-samples counter. */
  stored: number;
  /** The receiver's CPU seconds so far. */
  cpuS: number;
}

export interface DrainWindow {
  from: DrainPoll;
  to: DrainPoll;
  /** Samples stored per second over the window. */
  sps: number;
  /** The receiver's CPU seconds per second over the window. */
  cpuCores: number;
}

/**
 * The window, or a reason there is none: every poll before the warm-up ended, or the counter
 * stopped rising less than `minWindowMs` after it (the backlog was too small to measure this
 * receiver: fill more).
 */
export function drainWindow(polls: readonly DrainPoll[], warmupMs: number, minWindowMs: number): DrainWindow | string {
  const first = polls.findIndex((p) => p.atMs >= warmupMs);
  if (first < 0) return `no poll after the ${warmupMs / 1000} s warm-up`;
  let last = first;
  for (let i = first + 1; i < polls.length; i++) if (polls[i]!.stored > polls[i - 1]!.stored) last = i;
  const from = polls[first]!;
  const to = polls[last]!;
  const ms = to.atMs - from.atMs;
  if (ms <= 0 || ms < minWindowMs) return `the receiver stored the backlog within ${((to.atMs) / 1000).toFixed(1)} s of the sender's start, leaving ${(ms / 1000).toFixed(1)} s after the warm-up (at least ${minWindowMs / 1000} s needed): fill a larger backlog`;
  return { from, to, sps: ((to.stored - from.stored) * 1000) / ms, cpuCores: ((to.cpuS - from.cpuS) * 1000) / ms };
}

/** True once the drain is over: nothing pending at the sender and the counter flat for `idleMs`. */
export function drained(polls: readonly DrainPoll[], pendingBytes: number, idleMs: number): boolean {
  const last = polls.at(-1);
  if (last === undefined || pendingBytes > 0 || last.stored === 0) return false;
  let flatFrom = polls.length - 1;
  while (flatFrom > 0 && polls[flatFrom - 1]!.stored === last.stored) flatFrom--;
  return last.atMs - polls[flatFrom]!.atMs >= idleMs;
}
