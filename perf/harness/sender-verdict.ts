/**
 * Did a real sender keep up during a measured window, and what did it deliver? Pure function of
 * the readings taken at the window's start and end and about once a second in between.
 */
import { bucketDelta, tryQuantile } from './prom-text.js';
import type { SenderReading, TargetHealth } from './real-senders.js';
import type { Verdict } from './loadgen-probe.js';

/** Thresholds of "kept up". */
export const KEEP_UP_LIMITS = Object.freeze({
  /** Scrapes served by the targets must reach this fraction of what the interval promises (less one per target for the window's edges). */
  minScrapeFraction: 0.9,
  /** The backlog in the window's second half may exceed the first half's by this factor (beyond `normalPending`). */
  pendingGrowth: 1.5,
  /** Prometheus: newest sample taken in minus newest sent, at most, s. */
  maxLagS: 5,
  /**
   * The receiver must have stored at least this fraction of what the sender scraped (by its own
   * counter): a sender can look healthy for a 10 s window while it buffers what it cannot send.
   * Not 1: remote-write batches make a short window lumpy.
   */
  minStoredFraction: 0.8,
  /**
   * Settled (`scrapesSettled`): every target's last scrape took at most this fraction of the
   * interval. Steady scrapes take a few ms; a sender digesting new series takes seconds.
   */
  settledScrapeFraction: 0.5,
});

/**
 * Has the sender digested a change of the series set? A new rate means new series, and a sender
 * spends a few seconds at a full core taking them in (vmagent: ~5 s going from 200 k to 400 k
 * series, scrapes of up to 4 s), whichever receiver it sends to. That cost comes once per series,
 * not per sample, so the window that measures the sustained rate starts only once it is paid:
 * every target up, each one's last scrape well within the interval.
 */
export function scrapesSettled(h: TargetHealth, targets: number, intervalS: number): boolean {
  return h.active === targets && h.notUp === 0 && h.slowestScrapeS <= KEEP_UP_LIMITS.settledScrapeFraction * intervalS;
}

export interface SenderWindow {
  windowS: number;
  intervalS: number;
  targets: number;
  start: SenderReading;
  end: SenderReading;
  /** Readings in between, in order. */
  polls: readonly SenderReading[];
  /** Target health at each poll. */
  health: readonly TargetHealth[];
  /** Pages the synthetic targets served during the window, and the samples in them. */
  scrapesServed: number;
  samplesServed: number;
  /** Backlog that is normal at this rate. */
  normalPending: number;
  /** Samples per second the receiver stored over the window (its own counter); undefined: unknown. */
  receiverStoredSps?: number;
}

export interface SenderWindowResult extends Verdict {
  /** Samples per second the sender scraped from the targets over the window (without the series each scrape adds, like `up`). */
  intakeSps: number;
  /** Remote-write request duration quantiles over the window, ms; 0 when no request ended in it. */
  p50Ms: number;
  p99Ms: number;
}

function backlogReasons(w: SenderWindow): string[] {
  const reasons: string[] = [];
  const half = Math.ceil(w.polls.length / 2);
  const first = Math.max(w.start.pending, ...w.polls.slice(0, half).map((r) => r.pending));
  const second = Math.max(w.end.pending, ...w.polls.slice(half).map((r) => r.pending));
  if (second > w.normalPending && second > KEEP_UP_LIMITS.pendingGrowth * first) reasons.push(`remote-write backlog grew from ${first} to ${second}`);
  const lag = Math.max(w.end.lagS, ...w.polls.map((r) => r.lagS));
  if (lag > KEEP_UP_LIMITS.maxLagS) reasons.push(`remote write ${lag.toFixed(1)} s behind`);
  return reasons;
}

function scrapeReasons(w: SenderWindow): string[] {
  const reasons: string[] = [];
  const failures = w.end.scrapeFailures - w.start.scrapeFailures;
  if (failures > 0) reasons.push(`${failures} scrapes failed or timed out`);
  const worst = w.health.reduce<TargetHealth | undefined>((a, h) => (h.notUp > (a?.notUp ?? 0) ? h : a), undefined);
  if (worst !== undefined) reasons.push(`${worst.notUp} targets not up: ${worst.notUpSummary}`);
  const active = Math.min(w.targets, ...w.health.map((h) => h.active));
  if (active < w.targets) reasons.push(`only ${active} of ${w.targets} targets active`);
  const slowest = Math.max(0, ...w.health.map((h) => h.slowestScrapeS));
  if (slowest > w.intervalS) reasons.push(`a scrape took ${slowest.toFixed(2)} s (interval ${w.intervalS} s)`);
  const expected = w.targets * Math.max(0, w.windowS / w.intervalS - 1);
  if (w.scrapesServed < KEEP_UP_LIMITS.minScrapeFraction * expected) reasons.push(`${w.scrapesServed} scrapes served, ${Math.round(expected)}+ expected`);
  return reasons;
}

/**
 * Kept up = nothing dropped, failed or retried; every target up, scraped about once per
 * interval, each scrape within the interval; the remote-write backlog (and Prometheus's lag)
 * not growing; the receiver storing about what was scraped.
 */
export function judgeSenderWindow(w: SenderWindow): SenderWindowResult {
  const reasons: string[] = [];
  const lost = w.end.lost - w.start.lost;
  const retries = w.end.retries - w.start.retries;
  if (lost > 0) reasons.push(`${lost} dropped or failed`);
  if (retries > 0) reasons.push(`${retries} retries or non-2xx answers`);
  reasons.push(...scrapeReasons(w), ...backlogReasons(w));
  const intakeSps = w.windowS > 0 ? Math.round(w.samplesServed / w.windowS) : 0;
  if (w.receiverStoredSps !== undefined && w.receiverStoredSps < KEEP_UP_LIMITS.minStoredFraction * intakeSps) {
    reasons.push(`the receiver stored ${Math.round(w.receiverStoredSps)}/s of ${intakeSps}/s scraped`);
  }
  const took = bucketDelta(w.start.requestDurations, w.end.requestDurations);
  const ms = (q: number) => Math.round((tryQuantile(took, q) ?? 0) * 1e6) / 1000;
  return {
    ok: reasons.length === 0,
    reasons,
    intakeSps,
    p50Ms: ms(0.5),
    p99Ms: ms(0.99),
  };
}
