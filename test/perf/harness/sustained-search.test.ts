import t from 'tap';
import { findSustainedRate, nextRate, roundRate, type SearchOptions } from '../../../perf/harness/sustained-search.js';

const options: SearchOptions = { startSps: 400_000, ceilingSps: 600_000, floorSps: 10_000, tolerance: 0.05, maxProbes: 10, stepFactor: 1.25 };

/** A receiver that sustains exactly `capacity` samples/s. */
function receiver(capacity: number) {
  const probed: number[] = [];
  const probe = async (rate: number) => {
    probed.push(rate);
    return { ok: rate <= capacity, rate };
  };
  return { probe, probed };
}

t.test('roundRate keeps 3 significant digits', async (t) => {
  t.equal(roundRate(412_345.6), 412_000);
  t.equal(roundRate(1_234_567), 1_230_000);
  t.equal(roundRate(987), 987);
  t.equal(roundRate(12.4), 12);
  t.equal(roundRate(0), 0);
  t.equal(roundRate(0.2), 1, 'never rounds a positive rate to 0');
});

t.test('start passes: grows, then bisects to within the tolerance', async (t) => {
  const { probe, probed } = receiver(470_000);
  const r = await findSustainedRate(probe, options);
  t.equal(probed[0], 400_000);
  t.equal(probed[1], 500_000, 'grew by the step factor');
  t.ok(r.sustainedSps <= 470_000 && r.sustainedSps >= 470_000 / 1.05 / 1.05, `found ${r.sustainedSps}`);
  t.ok(r.failedAtSps !== undefined && r.failedAtSps > 470_000);
  t.ok(r.failedAtSps! - r.sustainedSps <= options.tolerance * r.sustainedSps || r.steps.length === options.maxProbes);
  t.equal(r.best?.rate, r.sustainedSps, 'best is the outcome at the sustained rate');
  t.same(r.steps.map((s) => s.rateSps), probed);
});

t.test('start fails: shrinks until a pass, then bisects', async (t) => {
  const { probe, probed } = receiver(150_000);
  const r = await findSustainedRate(probe, options);
  t.equal(probed[1], 320_000);
  t.equal(probed[2], 256_000);
  t.ok(r.sustainedSps <= 150_000 && r.sustainedSps > 140_000, `found ${r.sustainedSps}`);
});

t.test('never above the ceiling, nor below the floor', async (t) => {
  const high = receiver(10_000_000);
  const r1 = await findSustainedRate(high.probe, options);
  t.equal(r1.sustainedSps, 600_000);
  t.equal(r1.failedAtSps, undefined);
  t.ok(high.probed.every((x) => x <= 600_000));

  const low = receiver(1000);
  const r2 = await findSustainedRate(low.probe, options);
  t.equal(r2.sustainedSps, 0, 'nothing passed');
  t.equal(r2.best, undefined);
  t.ok(low.probed.every((x) => x >= 10_000));
});

t.test('the probe budget bounds the search', async (t) => {
  const { probe, probed } = receiver(471_234);
  const r = await findSustainedRate(probe, { ...options, maxProbes: 3, tolerance: 0.0001 });
  t.equal(probed.length, 3);
  t.equal(r.steps.length, 3);
  t.equal(r.sustainedSps, 450_000, '400k ok, 500k fail, 450k ok');
});

t.test('a noisy receiver still yields a rate that passed', async (t) => {
  let n = 0;
  const r = await findSustainedRate(async (rate) => ({ ok: rate <= 300_000 && n++ % 3 !== 1 }), options);
  t.ok(r.steps.some((s) => s.rateSps === r.sustainedSps && s.outcome.ok));
  t.ok(r.sustainedSps <= 300_000);
});

t.test('nextRate', async (t) => {
  t.equal(nextRate(400_000, undefined, options), 500_000, 'all passed: grow');
  t.equal(nextRate(600_000, undefined, options), undefined, 'at the ceiling: done');
  t.equal(nextRate(0, 400_000, options), 320_000, 'all failed: shrink');
  t.equal(nextRate(0, 12_000, options), undefined, 'below the floor: done');
  t.equal(nextRate(400_000, 500_000, options), 450_000, 'bracketed: bisect');
  t.equal(nextRate(400_000, 410_000, options), undefined, 'within the tolerance: done');
});

t.test('bad options are refused', async (t) => {
  await t.rejects(findSustainedRate(async () => ({ ok: true }), { ...options, stepFactor: 1 }), RangeError);
  await t.rejects(findSustainedRate(async () => ({ ok: true }), { ...options, maxProbes: 0 }), RangeError);
});
