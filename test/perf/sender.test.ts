import http from 'node:http';
import type { AddressInfo } from 'node:net';
import snappy from 'snappy';
import t from 'tap';
import { ArrivalSchedule } from '../../perf/lib/arrival-schedule.js';
import { RequestBuilder } from '../../perf/lib/request-builder.js';
import { runLoad, type SenderOptions } from '../../perf/lib/sender.js';

/** A loopback receiver that checks the body decodes and answers `statusFor(n)` to the n-th request. */
async function startReceiver(statusFor: (n: number) => number) {
  const seen = { requests: 0, bytes: 0, contentEncoding: new Set<string>() };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.bytes += (snappy.uncompressSync(body) as Buffer).length;
      seen.contentEncoding.add(String(req.headers['content-encoding']));
      const status = statusFor(seen.requests++);
      res.writeHead(status, status < 300 ? { 'X-Prometheus-Remote-Write-Samples-Written': '50' } : {});
      res.end(status < 300 ? undefined : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}/api/v1/write`), seen, close: () => new Promise((r) => server.close(r)) };
}

const builder = () => new RequestBuilder({ protocol: 2, series: 500, metrics: 10, labels: 4, labelValues: 50, samplesPerRequest: 50, seed: 1 });

function options(url: URL, extra: Partial<SenderOptions>): SenderOptions {
  return {
    url,
    headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' },
    connections: 4,
    schedule: undefined,
    warmupMs: 100,
    durationMs: 400,
    timeoutMs: 5000,
    lateThresholdMs: 10,
    prebuild: 4,
    drainMs: 1000,
    progressIntervalMs: 100,
    ...extra,
  };
}

t.test('closed model: every acknowledged request is counted', async (t) => {
  const rx = await startReceiver(() => 204);
  t.teardown(rx.close);
  const progress: number[] = [];
  const r = await runLoad(builder(), options(rx.url, { onProgress: (p) => progress.push(p.requestsPerSec) }));
  t.ok(r.requests > 0, 'requests completed');
  t.same(Object.keys(r.statusCounts), ['204']);
  t.equal(r.samplesAcked, r.requests * 50);
  t.equal(r.samplesWrittenHeader, r.samplesAcked, 'Samples-Written header summed');
  t.equal(r.writtenHeaderMissing, 0);
  t.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  t.ok(r.bytesSent > 0 && r.generatorCpuS > 0);
  t.ok(progress.length >= 2, 'progress reported');
  t.same([...rx.seen.contentEncoding], ['snappy']);
});

t.test('statuses and connection errors are counted apart', async (t) => {
  const rx = await startReceiver((n) => (n % 3 === 0 ? 503 : n % 3 === 1 ? 400 : 204));
  t.teardown(rx.close);
  const r = await runLoad(builder(), options(rx.url, { connections: 1 }));
  t.ok(r.statusCounts['503']! > 0 && r.statusCounts['400']! > 0 && r.statusCounts['204']! > 0, JSON.stringify(r.statusCounts));
  t.equal(r.samplesAcked, r.statusCounts['204']! * 50, 'only 2xx count as acknowledged');

  const refused = await runLoad(builder(), options(new URL('http://127.0.0.1:1/api/v1/write'), { durationMs: 200 }));
  t.equal(refused.samplesAcked, 0);
  t.ok(refused.statusCounts['ECONNREFUSED']! > 0, JSON.stringify(refused.statusCounts));
});

t.test('open model: sends what the schedule asks for and stops by itself', async (t) => {
  const rx = await startReceiver(() => 204);
  t.teardown(rx.close);
  // 50-sample requests at 10k samples/s: one every 5 ms.
  const schedule = new ArrivalSchedule({ fromSps: 10_000, toSps: 10_000, warmupMs: 100, rampMs: 0, samplesPerRequest: 50 });
  const r = await runLoad(builder(), options(rx.url, { schedule }));
  const due = schedule.requestsDueBy(500) - schedule.requestsDueBy(100);
  t.ok(r.samplesSent <= (due + 1) * 50, `not more than scheduled (${r.samplesSent} for ${due} due)`);
  t.ok(r.requests > 0, 'requests completed');
  t.equal(r.statusCounts['204'], r.requests);
});

t.test('aborting ends the run early with a result', async (t) => {
  const rx = await startReceiver(() => 204);
  t.teardown(rx.close);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 250);
  const r = await runLoad(builder(), options(rx.url, { durationMs: 60_000, signal: abort.signal }));
  t.ok(r.durationS < 1, `stopped after ${r.durationS}s`);
  t.ok(r.requests > 0);
});

t.test('a receiver that never answers yields timeouts, not a hang', async (t) => {
  const server = http.createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  const { port } = server.address() as AddressInfo;
  const url = new URL(`http://127.0.0.1:${port}/api/v1/write`);
  const r = await runLoad(builder(), options(url, { warmupMs: 0, durationMs: 500, timeoutMs: 100, connections: 2 }));
  t.ok(r.statusCounts['timeout']! > 0, JSON.stringify(r.statusCounts));
  t.equal(r.samplesAcked, 0);
});
