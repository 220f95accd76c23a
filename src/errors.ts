/**
 * Typed errors with stable codes. Callers branch on `code`, never on message text.
 * The HTTP status for each code lives in one table, `HTTP_STATUS_BY_CODE`.
 */
export type IngestErrorCode =
  | 'bad_snappy' // body is not a valid snappy block
  | 'bad_protobuf' // body is not a valid protobuf message of the expected type
  | 'invalid_utf8' // a string field is not valid UTF-8
  | 'invalid_labels' // empty or duplicate label names, missing or unusable metric name
  | 'invalid_request' // anything else the sender got wrong (bad references, bad values)
  | 'too_many_labels' // a series over --max-labels-per-series
  | 'label_too_long' // a label name or value over --max-label-bytes
  | 'unsupported_media_type' // Content-Type or Content-Encoding we do not speak
  | 'body_too_large' // body over --max-request-size
  | 'decompressed_too_large' // snappy preamble over --max-decompressed-size
  | 'request_timeout' // body not received within --request-timeout
  | 'overloaded' // ingest buffer or worker queue full: shed, retry later
  | 'disk_full' // WAL over --max-disk-usage or --max-segment-count, or ENOSPC
  | 'wal_io' // the WAL could not be written or synced (EIO and friends)
  | 'shutting_down'
  | 'internal';

export class IngestError extends Error {
  readonly code: IngestErrorCode;
  constructor(code: IngestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'IngestError';
  }
}

/**
 * Status per code. 4xx tells a remote-write sender to drop the batch (it will never succeed);
 * 5xx tells it to retry. `disk_full` is configurable at run time (see `--backpressure-status`),
 * the value here is its default.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<IngestErrorCode, number>> = Object.freeze({
  bad_snappy: 400,
  bad_protobuf: 400,
  invalid_utf8: 400,
  invalid_labels: 400,
  invalid_request: 400,
  too_many_labels: 400,
  label_too_long: 400,
  unsupported_media_type: 415,
  body_too_large: 413,
  decompressed_too_large: 413,
  request_timeout: 408,
  overloaded: 503,
  disk_full: 503,
  wal_io: 500,
  shutting_down: 503,
  internal: 500,
});

/** Codes an error crossing a worker boundary may carry; anything else becomes `internal`. */
export function errorCodeOf(err: unknown): IngestErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && Object.hasOwn(HTTP_STATUS_BY_CODE, code)) return code as IngestErrorCode;
  return 'internal';
}
