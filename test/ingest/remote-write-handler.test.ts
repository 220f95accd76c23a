import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { protocolOf, statusFor } from '../../src/ingest/remote-write-handler.js';

t.test('the protocol follows Content-Type as the remote write 2.0 spec says', async (t) => {
  t.equal(protocolOf(''), 'v1', 'no Content-Type: 1.0');
  t.equal(protocolOf('application/x-protobuf'), 'v1');
  t.equal(protocolOf('application/x-protobuf;proto=prometheus.WriteRequest'), 'v1');
  t.equal(protocolOf('application/x-protobuf; proto="prometheus.WriteRequest"'), 'v1');
  t.equal(protocolOf('application/x-protobuf;proto=io.prometheus.write.v2.Request'), 'v2');
  t.equal(protocolOf('Application/X-Protobuf; Proto=io.prometheus.write.v2.Request'), 'v2', 'case-insensitive');
  t.equal(protocolOf('application/x-protobuf;proto=io.prometheus.write.v3.Request'), undefined);
  t.equal(protocolOf('application/json'), undefined);
  t.equal(protocolOf('text/plain;proto=io.prometheus.write.v2.Request'), undefined);
});

t.test('statuses: disk_full follows --backpressure-status, the rest the fixed table', async (t) => {
  const d = loadConfig([], {}).server;
  const q = loadConfig(['--backpressure-status', '429'], {}).server;
  t.equal(statusFor('disk_full', d), 503);
  t.equal(statusFor('disk_full', q), 429);
  t.equal(statusFor('overloaded', q), 503, 'overload is always 503');
  t.equal(statusFor('bad_snappy', d), 400);
  t.equal(statusFor('decompressed_too_large', d), 413);
  t.equal(statusFor('unsupported_media_type', d), 415);
  t.equal(statusFor('request_timeout', d), 408);
  t.equal(statusFor('wal_io', d), 500);
});
