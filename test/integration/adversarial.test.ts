import fs from 'node:fs';
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
