import t from 'tap';
import { csvField, csvQuoted, formatTimestamp, formatValue, jsonString } from '../../src/transform/csv-format.js';
import { normalizeIdentifier, normalizeMetricName } from '../../src/transform/metric-name.js';

t.test('timestamps are RFC 3339 with trailing fraction zeros trimmed (Go RFC3339Nano)', async (t) => {
  t.equal(formatTimestamp(0), '1970-01-01T00:00:00Z');
  t.equal(formatTimestamp(1714564800000), '2024-05-01T12:00:00Z');
  t.equal(formatTimestamp(1714564800500), '2024-05-01T12:00:00.5Z');
  t.equal(formatTimestamp(1714564800050), '2024-05-01T12:00:00.05Z');
  t.equal(formatTimestamp(1714564800123), '2024-05-01T12:00:00.123Z');
  t.equal(formatTimestamp(1714564800120), '2024-05-01T12:00:00.12Z');
  t.equal(formatTimestamp(1714564800007), '2024-05-01T12:00:00.007Z');
  t.equal(formatTimestamp(-1), '1969-12-31T23:59:59.999Z');
  t.equal(formatTimestamp(1714564801001), '2024-05-01T12:00:01.001Z', 'cache moves to the next second');
  t.throws(() => formatTimestamp(1e17));
});

t.test("values are Go 'f' with 9 decimals", async (t) => {
  t.equal(formatValue(1), '1.000000000');
  t.equal(formatValue(-2.5), '-2.500000000');
  t.equal(formatValue(0.1), '0.100000000');
  t.equal(formatValue(1e-10), '0.000000000');
  t.equal(formatValue(123456789.123456789), '123456789.123456791');
  t.equal(formatValue(0), '0.000000000');
  t.equal(formatValue(-0), '-0.000000000');
  t.equal(formatValue(NaN), 'NaN');
  t.equal(formatValue(Infinity), '+Inf');
  t.equal(formatValue(-Infinity), '-Inf');
  t.equal(formatValue(1e21), '1000000000000000000000.000000000');
  t.equal(formatValue(-1.5e22), '-15000000000000000000000.000000000');
});

t.test('JSON strings escape as Go encoding/json does', async (t) => {
  t.equal(jsonString('plain'), '"plain"');
  t.equal(jsonString('a"b\\c'), '"a\\"b\\\\c"');
  t.equal(jsonString('<a&b>'), '"\\u003ca\\u0026b\\u003e"');
  t.equal(jsonString('l1\nl2\tx\r'), '"l1\\nl2\\tx\\r"');
  t.equal(jsonString('\u0001'), '"\\u0001"');
  t.equal(jsonString('\u2028'), '"\\u2028"');
  t.equal(jsonString('héllo 😀'), '"héllo 😀"');
  t.equal(jsonString('bad\ud800x'), '"bad\ufffdx"');
  t.same(JSON.parse(jsonString('any "thing" <here>\n')), 'any "thing" <here>\n', 'always valid JSON');
});

t.test('CSV fields', async (t) => {
  t.equal(csvField('abc'), 'abc');
  t.equal(csvField(''), '');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField(' lead'), '" lead"');
  t.equal(csvField('two\nlines'), '"two\nlines"');
  t.equal(csvQuoted('{"a":"b"}'), '"{""a"":""b""}"');
});

t.test('table and database names follow adx-mon', async (t) => {
  t.equal(normalizeMetricName('http_requests_total'), 'HttpRequestsTotal');
  t.equal(normalizeMetricName('up'), 'Up');
  t.equal(normalizeMetricName('node:cpu_seconds:rate5m'), 'NodeCpuSecondsRate5m');
  t.equal(normalizeMetricName('a__b'), 'AB');
  t.equal(normalizeMetricName('_x_9'), 'X9');
  t.equal(normalizeMetricName('../../etc/passwd'), 'EtcPasswd');
  t.equal(normalizeMetricName('日本'), '');
  t.equal(normalizeMetricName('x'.repeat(2000)).length, 1024);
  t.equal(normalizeIdentifier('My-DB_1'), 'MyDB1');
  t.equal(normalizeIdentifier('../'), '');
});
