import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import snappy from 'snappy';
import t from 'tap';
import { encodeWriteRequestV1 } from '../../src/prom/remote-write-encode.js';
import { metricValue, readWal, remoteWrite, request, scrape, startServer, type TestServer } from '../helpers/server.js';

const now = Date.now();
const good = () => encodeWriteRequestV1([{ labels: [['__name__', 'ok_metric'], ['job', 'j']], samples: [{ value: 1, timestampMs: now }] }]);
const snappyHeaders = { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' };

/** Sends raw bytes on a socket, optionally stalling, and returns the first response's status line. */
function raw(port: number, head: string, body: Buffer, opts: { stallAfter?: number; waitMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        resolve(got.split('\r\n')[0]!);
        sock.destroy();
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
    sock.write(head);
    sock.write(opts.stallAfter === undefined ? body : body.subarray(0, opts.stallAfter));
    setTimeout(() => sock.destroy(), opts.waitMs ?? 10_000).unref();
  });
}

async function expectAlive(t: Tap.Test, s: TestServer) {
  const r = await remoteWrite(s.url, good());
  t.equal(r.status, 204, 'server still serves valid requests');
}

t.test('bad requests get clear errors, never a crash', async (t) => {
  const s = await startServer(['--max-request-size', '1MiB', '--max-decompressed-size', '2MiB', '--ingest-buffer-size', '4MiB']);
  t.teardown(() => s.stop());
  const cases: [string, Promise<{ status: number; body: string }>, number, RegExp][] = [
    ['wrong content type', request(s.url, { headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'snappy' }, body: snappy.compressSync(Buffer.from(good())) }), 415, /unsupported Content-Type/],
    ['unknown proto type', request(s.url, { headers: { 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v3.Request' }, body: snappy.compressSync(Buffer.from(good())) }), 415, /unsupported Content-Type/],
    ['gzip encoding', request(s.url, { headers: { ...snappyHeaders, 'Content-Encoding': 'gzip' }, body: Buffer.from(good()) }), 415, /Content-Encoding/],
    ['body over max-request-size', request(s.url, { headers: snappyHeaders, body: Buffer.alloc(1024 * 1024 + 1) }), 413, /max-request-size/],
    ['preamble over max-decompressed-size', request(s.url, { headers: snappyHeaders, body: Buffer.from([0x80, 0x80, 0x80, 0x02, 0x00, 1, 2, 3]) }), 413, /max-decompressed-size/],
    ['garbage snappy', request(s.url, { headers: snappyHeaders, body: Buffer.from('this is not snappy at all') }), 400, /snappy/],
    ['snappy of garbage protobuf', request(s.url, { headers: snappyHeaders, body: snappy.compressSync(Buffer.from([0x0a, 0xff, 0xff, 0x01, 0x00])) }), 400, /protobuf/],
    ['truncated protobuf', request(s.url, { headers: snappyHeaders, body: snappy.compressSync(Buffer.from(good()).subarray(0, 10)) }), 400, /protobuf/],
    ['empty body', request(s.url, { headers: snappyHeaders, body: Buffer.alloc(0) }), 400, /snappy/],
    ['duplicate label', remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['__name__', 'm'], ['a', '1'], ['a', '2']], samples: [{ value: 1, timestampMs: now }] }])), 400, /label a twice/],
    ['empty label name', remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['__name__', 'm'], ['', '1']], samples: [{ value: 1, timestampMs: now }] }])), 400, /empty name/],
    ['no metric name', remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['job', 'x']], samples: [{ value: 1, timestampMs: now }] }])), 400, /__name__/],
    ['GET on the write path', request(s.url, { method: 'GET' }), 405, /POST/],
    ['unknown path', request(s.url.replace('/api/v1/write', '/api/v2/nope'), { body: 'x' }), 404, /POST \/api\/v1\/write/],
  ];
  for (const [what, p, status, message] of cases) {
    const r = await p;
    t.equal(r.status, status, what);
    t.match(r.body, message, what);
  }
  await expectAlive(t, s);
  const m = (await scrape(s.metricsPort)).body;
  for (const reason of ['unsupported_media_type', 'body_too_large', 'decompressed_too_large', 'bad_snappy', 'bad_protobuf', 'invalid_labels']) {
    t.ok(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason }) >= 1, `reject counted: ${reason}`);
  }
  t.same(readWal(s.dir).map((r) => r.table), ['OkMetric'], 'nothing from a rejected request reached the WAL');
});

t.test('metric names cannot escape the storage directory', async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const r = await remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['__name__', '../../../tmp/evil'], ['adxmon_database', '../..']], samples: [{ value: 1, timestampMs: now }] }]));
  t.equal(r.status, 400, 'a database name with no letters is refused');
  const r2 = await remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['__name__', '../../../tmp/evil'], ['adxmon_database', '/etc/']], samples: [{ value: 1, timestampMs: now }] }]));
  t.equal(r2.status, 204);
  const files = fs.readdirSync(s.dir);
  t.match(files, [/^etc_TmpEvil_[0-9a-z]+\.wal$/]);
});

t.test('slow bodies time out with 408; too many in flight get 503', async (t) => {
  const s = await startServer(['--request-timeout', '1s', '--max-inflight-requests', '1']);
  t.teardown(() => s.stop());
  const body = snappy.compressSync(Buffer.from(good()));
  const head = `POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: ${body.length}\r\n\r\n`;
  const started = Date.now();
  const slow = raw(s.port, head, body, { stallAfter: 3 });
  await new Promise((r) => setTimeout(r, 200));
  const second = await remoteWrite(s.url, good());
  t.equal(second.status, 503, 'second request is shed while the first holds the only slot');
  t.match(second.headers['retry-after'], /^\d+$/);
  t.equal(await slow, 'HTTP/1.1 408 Request Timeout');
  t.ok(Date.now() - started < 5000, 'answered by the timeout, not by the client giving up');
  await expectAlive(t, s);
  const m = (await scrape(s.metricsPort)).body;
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'request_timeout' }), 1);
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'overloaded' }), 1);
});

t.test('chunked bodies without Content-Length are accepted', async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  const body = snappy.compressSync(Buffer.from(good()));
  const chunked = `${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`;
  const head = 'POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nTransfer-Encoding: chunked\r\n\r\n';
  t.equal(await raw(s.port, head, Buffer.from(chunked, 'latin1')), 'HTTP/1.1 204 No Content');
  t.equal(readWal(s.dir).length, 1);
});

t.test('label limits are refused over HTTP and counted', async (t) => {
  const s = await startServer(['--max-labels-per-series', '3', '--max-label-bytes', '32']);
  t.teardown(() => s.stop());
  const many = await remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['__name__', 'm'], ['a', '1'], ['b', '2'], ['c', '3']], samples: [{ value: 1, timestampMs: now }] }]));
  t.equal(many.status, 400);
  t.match(many.body, /4 labels, over the limit of 3/);
  const long = await remoteWrite(s.url, encodeWriteRequestV1([{ labels: [['__name__', 'm'], ['a', 'x'.repeat(33)]], samples: [{ value: 1, timestampMs: now }] }]));
  t.equal(long.status, 400);
  t.match(long.body, /longer than 32 bytes/);
  const m = (await scrape(s.metricsPort)).body;
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'too_many_labels' }), 1);
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'label_too_long' }), 1);
  t.equal(readWal(s.dir).length, 0);
});

t.test('a full ingest buffer sheds with 503, for ring-sized and for large bodies', async (t) => {
  // Ring 1 MiB: bodies up to 256 KiB share it; larger ones get their own buffer, up to
  // max(ring, --max-request-size) = 4 MiB in flight.
  const s = await startServer(['--ingest-buffer-size', '1MiB', '--max-request-size', '4MiB', '--request-timeout', '30s']);
  t.teardown(() => s.stop());
  const hold = (length: number) => raw(s.port, `POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${length}\r\n\r\n`, Buffer.alloc(1), { stallAfter: 1, waitMs: 5000 });
  const held = [hold(250_000), hold(250_000), hold(250_000), hold(250_000)];
  await new Promise((r) => setTimeout(r, 300));
  const ring = await request(s.url, { headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': 250_000 }, body: Buffer.alloc(250_000) });
  t.equal(ring.status, 503, 'the ring is full');
  t.match(ring.body, /ingest buffer is full/);
  const big = [hold(3_000_000)];
  await new Promise((r) => setTimeout(r, 300));
  const large = await request(s.url, { headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': 2_000_000 }, body: Buffer.alloc(2_000_000) });
  t.equal(large.status, 503, 'the large-body budget is used up');
  const m = (await scrape(s.metricsPort)).body;
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'overloaded' }), 2);
  t.ok(metricValue(m, 'adxmon_ingestor_ingest_buffer_used_bytes') >= 4_000_000, 'held bodies are accounted');
  await Promise.all([...held, ...big]);
  await expectAlive(t, s);
});

t.test('a body refused before it is read is read past: the sender gets the answer and keeps its connection', async (t) => {
  const s = await startServer(['--ingest-buffer-size', '1MiB', '--max-request-size', '4MiB']);
  t.teardown(() => s.stop());
  // One keep-alive connection for everything: a reset while the 3 MB body is still being
  // written would fail the request (EPIPE/ECONNRESET) or show up as a fresh socket after it.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const post = (headers: Record<string, string | number>, body: Buffer) =>
    new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
      const req = http.request(s.url, { method: 'POST', headers: { ...headers, 'Content-Length': body.length }, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const first = await post(snappyHeaders, snappy.compressSync(Buffer.from(good())));
  t.equal(first.status, 204);
  const wrongType = await post({ 'Content-Type': 'application/json' }, Buffer.alloc(3_000_000));
  t.equal(wrongType.status, 415);
  t.match(wrongType.body, /unsupported Content-Type/);
  t.ok(wrongType.reused, 'the refused request used the open connection');
  // A held 3 MB request takes most of the large-body budget (4 MiB), so the next 3 MB body is shed.
  const held = raw(s.port, `POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 3000000\r\n\r\n`, Buffer.alloc(1), { stallAfter: 1, waitMs: 3000 });
  await new Promise((r) => setTimeout(r, 300));
  const shed = await post(snappyHeaders, Buffer.alloc(3_000_000));
  t.equal(shed.status, 503);
  t.match(shed.body, /ingest buffer is full/);
  t.ok(shed.reused, 'the shed request used the open connection');
  const after = await post(snappyHeaders, snappy.compressSync(Buffer.from(good())));
  t.equal(after.status, 204, 'the same connection serves the next request');
  t.ok(after.reused, 'and it is still the first connection');
  const m = (await scrape(s.metricsPort)).body;
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'unsupported_media_type' }), 1);
  t.equal(metricValue(m, 'adxmon_ingestor_requests_rejected_total', { reason: 'overloaded' }), 1);
  t.equal(readWal(s.dir).length, 2, 'only the two valid requests were written');
  await held;
});

t.test('random bytes as bodies never crash the server', async (t) => {
  const s = await startServer();
  t.teardown(() => s.stop());
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const valid = snappy.compressSync(Buffer.from(good()));
  const statuses = new Map<number, number>();
  for (let i = 0; i < 200; i++) {
    let body: Buffer;
    if (i % 2 === 0) body = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    else {
      body = Buffer.from(valid);
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
    }
    const r = await request(s.url, { headers: { ...snappyHeaders, ...(i % 3 === 0 ? { 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' } : {}) }, body });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  }
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.ok([...statuses.keys()].every((c) => c === 204 || c === 400 || c === 413), 'only 204, 400 or 413');
  t.notOk(/"level":"error"/.test(s.logs()), 'no internal errors logged');
  await expectAlive(t, s);
});
