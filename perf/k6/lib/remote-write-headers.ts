/**
 * The headers of a remote write request by protocol version, as Prometheus sends them: shared by
 * loadgen (perf/loadgen.ts, Node) and the plain-HTTP k6 scenario (perf/k6/remote-write-http.ts),
 * so that both send the same requests. No imports: it runs in Node and in k6.
 */
export const REMOTE_WRITE_HEADERS: Readonly<Record<1 | 2, Readonly<Record<string, string>>>> = Object.freeze({
  1: Object.freeze({
    'Content-Encoding': 'snappy',
    'Content-Type': 'application/x-protobuf',
    'X-Prometheus-Remote-Write-Version': '0.1.0',
  }),
  2: Object.freeze({
    'Content-Encoding': 'snappy',
    'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
    'X-Prometheus-Remote-Write-Version': '2.0.0',
  }),
});
