import t from 'tap';
import { ArrivalSchedule } from '../../perf/lib/arrival-schedule.js';

t.test('constant rate: request k is due at k * spr / rate', async (t) => {
  const s = new ArrivalSchedule({ fromSps: 1_500_000, toSps: 1_500_000, warmupMs: 3000, rampMs: 0, samplesPerRequest: 2000 });
  t.equal(s.startOf(0), 0);
  t.equal(s.startOf(750), 1000);
  t.equal(s.requestsDueBy(0), 1);
  t.equal(s.requestsDueBy(999.9), 750);
  t.equal(s.requestsDueBy(1000), 751);
  t.equal(s.rateAt(10_000), 1_500_000);
});

t.test('ramp: startOf inverts requestsDueBy, rate grows linearly', async (t) => {
  const cases = [
    { fromSps: 100_000, toSps: 2_000_000, warmupMs: 1000, rampMs: 10_000 },
    { fromSps: 0, toSps: 1_000_000, warmupMs: 0, rampMs: 5000 },
    { fromSps: 2_000_000, toSps: 500_000, warmupMs: 500, rampMs: 4000 },
  ];
  for (const c of cases) {
    const s = new ArrivalSchedule({ ...c, samplesPerRequest: 1000 });
    t.equal(s.rateAt(c.warmupMs + c.rampMs / 2), (c.fromSps + c.toSps) / 2);
    let bad = 0;
    for (let k = 0; k < s.requestsDueBy(c.warmupMs + c.rampMs + 2000); k++) {
      const at = s.startOf(k);
      if (!(s.requestsDueBy(at + 1e-6) >= k + 1 && s.requestsDueBy(at - 1e-3) <= k + 1)) bad++;
      if (k > 0 && !(at >= s.startOf(k - 1))) bad++;
    }
    t.equal(bad, 0, `consistent for ${JSON.stringify(c)}`);
    const total = c.fromSps * (c.warmupMs / 1000) + ((c.fromSps + c.toSps) / 2) * (c.rampMs / 1000);
    t.ok(Math.abs(s.samplesDueBy(c.warmupMs + c.rampMs) - total) < 1e-3, 'integral of the ramp');
  }
});

t.test('rejects rates that cannot be scheduled', async (t) => {
  const base = { warmupMs: 0, rampMs: 1000, samplesPerRequest: 100 };
  t.throws(() => new ArrivalSchedule({ ...base, fromSps: 10, toSps: 0 }), RangeError);
  t.throws(() => new ArrivalSchedule({ ...base, fromSps: 0, toSps: 10, warmupMs: 1000 }), RangeError);
});
