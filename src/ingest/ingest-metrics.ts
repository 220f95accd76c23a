import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Ingress metrics, named as the adx-mon ingestor's where the meaning is the same. */
export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'adxmon_ingestor_requests_received_total', help: 'Requests answered, by path and status code.', labelNames: ['path', 'code'], registers }),
    rejects: new Counter({ name: 'adxmon_ingestor_requests_rejected_total', help: 'Requests refused, by reason (the error code; see docs/operations.md).', labelNames: ['reason'], registers }),
    samples: new Counter({ name: 'adxmon_ingestor_samples_stored_total', help: 'Float samples written to the WAL.', registers }),
    histograms: new Counter({ name: 'adxmon_ingestor_histograms_stored_total', help: 'Native histogram samples written to the WAL (as classic rows).', registers }),
    exemplars: new Counter({ name: 'adxmon_ingestor_exemplars_dropped_total', help: 'Exemplars received; they are not stored.', registers }),
    rows: new Counter({ name: 'adxmon_ingestor_rows_written_total', help: 'CSV rows written to the WAL.', registers }),
    droppedSeries: new Counter({ name: 'adxmon_ingestor_series_dropped_total', help: 'Series dropped by --drop-metrics.', registers }),
    seriesCache: new Counter({ name: 'adxmon_ingestor_series_cache_lookups_total', help: 'Series cache lookups in the workers, by result (hit, miss).', labelNames: ['result'], registers }),
    newSeries: new Counter({
      name: 'adxmon_ingestor_new_series_total',
      help: 'Series that missed a worker\'s series cache, by where their row text was prepared: native (C, the fast path) or typescript (the first series of each table, labels that need checking such as non-ASCII ones, --drop-* rules).',
      labelNames: ['prepared_by'],
      registers,
    }),
    bytesReceived: new Counter({ name: 'adxmon_ingestor_request_bytes_total', help: 'Compressed request body bytes received.', registers }),
    duration: new Histogram({
      name: 'adxmon_ingestor_request_duration_seconds',
      help: 'Time from request start to answer, by path.',
      labelNames: ['path'],
      // Fine between 5 and 100 ms, where p99 targets sit (a p99 read from 10 and 25 ms buckets
      // alone can only say "between 10 and 25").
      buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    inflight: new Gauge({ name: 'adxmon_ingestor_requests_inflight', help: 'Requests being received or decoded.', registers }),
    queueDepth: new Gauge({ name: 'adxmon_ingestor_worker_queue_depth', help: 'Decode tasks waiting for a worker.', registers }),
    ringBytes: new Gauge({ name: 'adxmon_ingestor_ingest_buffer_used_bytes', help: 'Bytes of the shared ingest ring holding request bodies.', registers }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
