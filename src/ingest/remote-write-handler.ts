import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ServerConfig } from '../config/config.js';
import { HTTP_STATUS_BY_CODE, IngestError, type IngestErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { WalCatalog } from '../wal/wal-catalog.js';
import { blockDecodedLength } from '../wal/s2.js';
import type { BodySlot, BodyStore } from './body-store.js';
import type { DecodePool } from './decode-pool.js';
import type { IngestMetrics } from './ingest-metrics.js';
import type { DecodeResult, RemoteWriteProtocol } from './task-types.js';

const V2_TYPE = 'io.prometheus.write.v2.request';
/** After an ENOSPC, /readyz reports not ready for this long (renewed by every further failure). */
const DISK_FULL_READINESS_MS = 10_000;

/**
 * Picks the protocol from Content-Type as the remote-write 2.0 spec says: no type or plain
 * `application/x-protobuf` is 1.0; `proto=prometheus.WriteRequest` is 1.0; `proto=
 * io.prometheus.write.v2.Request` is 2.0; anything else is unsupported (415).
 */
export function protocolOf(contentType: string): RemoteWriteProtocol | undefined {
  const [media, ...params] = contentType.toLowerCase().split(';').map((s) => s.trim());
  if (media === '' && params.length === 0) return 'v1';
  if (media !== 'application/x-protobuf') return undefined;
  const proto = params.find((p) => p.startsWith('proto='))?.slice(6).replace(/^"|"$/g, '');
  if (proto === undefined || proto === 'prometheus.writerequest') return 'v1';
  if (proto === V2_TYPE) return 'v2';
  return undefined;
}

/** State of one request from its headers until its answer. */
interface Pending {
  readonly res: HttpResponse;
  readonly path: string;
  readonly protocol: RemoteWriteProtocol;
  readonly startedAt: number;
  readonly deadline: number;
  /** Declared Content-Length, or -1 for chunked bodies. */
  readonly declared: number;
  /** Where the body goes; undefined until reserved. */
  slot: BodySlot | undefined;
  received: number;
  /** Chunks of a body without Content-Length, until it is complete. */
  chunks: Buffer[] | undefined;
  aborted: boolean;
  answered: boolean;
  /** Counted in `inflight` (admitted and not yet finished). */
  admitted: boolean;
  /** `slot` is reserved for this request; released only when no worker can still read it. */
  holdsRing: boolean;
  /** A worker holds the body; `#onResult` finishes the request. */
  inWorker: boolean;
}

export interface HandlerDeps {
  readonly config: ServerConfig;
  readonly bodies: BodyStore;
  readonly pool: DecodePool;
  readonly catalog: WalCatalog;
  readonly metrics: IngestMetrics;
  readonly log: Logger;
  isShuttingDown(): boolean;
}

/**
 * The remote-write endpoint on the main thread: checks headers and limits, copies the body once
 * into shared memory, hands it to a worker, and answers from the worker's result. It never decodes.
 */
export class RemoteWriteHandler {
  readonly #d: HandlerDeps;
  readonly #receiving = new Set<Pending>();
  #inflight = 0;
  /** Running totals for the periodic stats log line. */
  readonly totals = { requests: 0, samples: 0, histograms: 0, rejected: 0, bytes: 0 };
  /** Until when (performance.now()) the disk counts as full after a write failed with ENOSPC. */
  #diskFullUntil = 0;
  #diskFullMessage = '';

  constructor(deps: HandlerDeps) {
    this.#d = deps;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Why the WAL recently could not be written (ENOSPC), for /readyz; undefined when it could. */
  recentWriteFailure(now = performance.now()): string | undefined {
    return now < this.#diskFullUntil ? this.#diskFullMessage : undefined;
  }

  handle(res: HttpResponse, req: HttpRequest, path: string): void {
    const cfg = this.#d.config;
    const contentType = req.getHeader('content-type');
    const encoding = req.getHeader('content-encoding').trim().toLowerCase();
    const lengthHeader = req.getHeader('content-length');
    const now = performance.now();
    const protocol = protocolOf(contentType);
    const declared = lengthHeader === '' ? -1 : Number(lengthHeader);
    const p: Pending = { res, path, protocol: protocol ?? 'v1', startedAt: now, deadline: now + cfg.requestTimeoutMs, declared, slot: undefined, received: 0, chunks: undefined, aborted: false, answered: false, admitted: false, holdsRing: false, inWorker: false };
    res.onAborted(() => {
      p.aborted = true;
      this.#finish(p);
    });
    if (!Number.isSafeInteger(declared) || declared < -1) return this.#reject(p, new IngestError('invalid_request', 'bad Content-Length'), true);
    if (declared > cfg.maxRequestBytes) return this.#reject(p, new IngestError('body_too_large', `body of ${declared} bytes is over --max-request-size ${cfg.maxRequestBytes}`), true);
    // Refused before its body is read: a body of known length within the limit is left for
    // uWS to read past and discard, so the sender reads the answer instead of a reset while
    // it is still writing, and the connection stays open. A body of unknown length closes it.
    const unframed = declared < 0;
    if (protocol === undefined) return this.#reject(p, new IngestError('unsupported_media_type', `unsupported Content-Type "${contentType}"; send application/x-protobuf (remote write 1.0) or application/x-protobuf;proto=io.prometheus.write.v2.Request`), unframed);
    if (encoding !== '' && encoding !== 'snappy') return this.#reject(p, new IngestError('unsupported_media_type', `unsupported Content-Encoding "${encoding}"; remote write bodies are snappy block-compressed`), unframed);
    const refusal = this.#admission();
    if (refusal) return this.#reject(p, refusal, unframed || refusal.code === 'shutting_down');
    if (declared >= 0) {
      const slot = this.#d.bodies.tryAlloc(declared);
      if (slot === undefined) return this.#reject(p, new IngestError('overloaded', 'ingest buffer is full; retry later'), false);
      p.slot = slot;
      p.holdsRing = true;
    } else p.chunks = [];
    p.admitted = true;
    this.#inflight++;
    this.#receiving.add(p);
    this.#gauges();
    res.onData((chunk, isLast) => this.#onData(p, chunk, isLast));
  }

  /** Answers 408 to requests whose bodies are too slow; call about once a second. */
  sweep(now = performance.now()): void {
    for (const p of this.#receiving) {
      if (now > p.deadline) this.#reject(p, new IngestError('request_timeout', 'request body not received in time'), true);
    }
  }

  #admission(): IngestError | undefined {
    if (this.#d.isShuttingDown()) return new IngestError('shutting_down', 'server is shutting down');
    const over = this.#d.catalog.overLimit();
    if (over) return new IngestError('disk_full', over);
    if (this.#inflight >= this.#d.config.maxInflightRequests) return new IngestError('overloaded', 'too many requests in flight; retry later');
    return undefined;
  }

  #onData(p: Pending, chunk: ArrayBuffer, isLast: boolean): void {
    if (p.answered) return;
    const bytes = new Uint8Array(chunk);
    const cfg = this.#d.config;
    if (p.chunks) {
      if (p.received + bytes.length > cfg.maxRequestBytes) {
        return this.#reject(p, new IngestError('body_too_large', `body is over --max-request-size ${cfg.maxRequestBytes}`), true);
      }
      p.chunks.push(Buffer.from(bytes)); // copies: the chunk is only valid during this call
    } else {
      if (p.received + bytes.length > p.declared) return this.#reject(p, new IngestError('invalid_request', 'body is longer than its Content-Length'), true);
      this.#d.bodies.view(p.slot!, p.received, bytes.length).set(bytes);
    }
    const before = p.received;
    p.received += bytes.length;
    if (before < 5 && (p.received >= 5 || isLast)) {
      const err = this.#checkPreamble(p);
      if (err) return this.#reject(p, err, true);
    }
    if (!isLast) return;
    if (p.chunks && !this.#placeChunks(p)) return;
    if (p.received !== p.declared) return this.#reject(p, new IngestError('invalid_request', 'body is shorter than its Content-Length'), true);
    this.#receiving.delete(p);
    this.#d.metrics.bytesReceived.inc(p.received);
    this.totals.bytes += p.received;
    this.#dispatch(p);
  }

  /** Refuses a body whose snappy preamble declares more than --max-decompressed-size, before decoding. */
  #checkPreamble(p: Pending): IngestError | undefined {
    const head = p.chunks ? Buffer.concat(p.chunks).subarray(0, 5) : this.#d.bodies.view(p.slot!, 0, Math.min(5, p.received));
    const decoded = blockDecodedLength(head);
    if (decoded === undefined) return head.length >= 5 ? new IngestError('bad_snappy', 'body is not a snappy block (bad length preamble)') : undefined;
    if (decoded.length > this.#d.config.maxDecompressedBytes) {
      return new IngestError('decompressed_too_large', `snappy body declares ${decoded.length} bytes, over --max-decompressed-size ${this.#d.config.maxDecompressedBytes}`);
    }
    return undefined;
  }

  /** A chunked body is complete: copy it into the ring (its one copy there). */
  #placeChunks(p: Pending): boolean {
    const body = Buffer.concat(p.chunks!);
    p.chunks = undefined;
    const slot = this.#d.bodies.tryAlloc(body.length);
    if (slot === undefined) {
      this.#reject(p, new IngestError('overloaded', 'ingest buffer is full; retry later'), false);
      return false;
    }
    p.slot = slot;
    p.holdsRing = true;
    (p as { declared: number }).declared = body.length;
    this.#d.bodies.view(slot, 0, body.length).set(body);
    return true;
  }

  #dispatch(p: Pending): void {
    p.inWorker = true;
    this.#d.metrics.queueDepth.set(this.#d.pool.queueSize);
    const slot = p.slot!;
    // #inflight counts this request too (admitted, not yet answered).
    const company = this.#inflight > this.#d.pool.threads;
    this.#d.pool.run({ offset: slot.offset, length: p.received, protocol: p.protocol, buffer: slot.inRing ? undefined : slot.buffer, company }).then(
      (r) => this.#onResult(p, r),
      // The pool's queue cannot overflow (it is longer than --max-inflight-requests), so a
      // rejection here is a worker failure.
      (e) => this.#onResult(p, { ok: false, code: 'internal', message: `decode pool: ${(e as Error).message}`, wal: { bytes: 0, events: [] } }),
    );
  }

  #onResult(p: Pending, r: DecodeResult): void {
    p.inWorker = false;
    this.#d.catalog.apply(r.wal);
    if (r.ok) this.#count(r);
    else this.#noteFailure(r.code, r.message);
    if (p.aborted) return this.#finish(p); // nobody to tell: the sender retries what it did not hear back
    if (!r.ok) return this.#reject(p, new IngestError(r.code, r.message), false);
    this.#answer(p, 204, '', p.protocol === 'v2' ? [r.samples, r.histograms, 0] : undefined, false);
  }

  /** What a request wrote, counted whether or not its sender is still there to hear the 204. */
  #count(r: Extract<DecodeResult, { ok: true }>): void {
    const m = this.#d.metrics;
    m.samples.inc(r.samples);
    m.histograms.inc(r.histograms);
    m.exemplars.inc(r.exemplars);
    m.rows.inc(r.rows);
    if (r.droppedSeries > 0) m.droppedSeries.inc(r.droppedSeries);
    if (r.seriesCacheHits > 0) m.seriesCache.inc({ result: 'hit' }, r.seriesCacheHits);
    if (r.seriesCacheMisses > 0) m.seriesCache.inc({ result: 'miss' }, r.seriesCacheMisses);
    if (r.seriesPreparedInC > 0) m.newSeries.inc({ prepared_by: 'native' }, r.seriesPreparedInC);
    if (r.seriesCacheMisses > r.seriesPreparedInC) m.newSeries.inc({ prepared_by: 'typescript' }, r.seriesCacheMisses - r.seriesPreparedInC);
    this.totals.requests++;
    this.totals.samples += r.samples;
    this.totals.histograms += r.histograms;
  }

  #noteFailure(code: IngestErrorCode, message: string): void {
    if (code === 'internal' || code === 'wal_io') this.#d.log.throttled('error', code, 'request failed', { code, error: message });
    if (code === 'disk_full') {
      this.#diskFullUntil = performance.now() + DISK_FULL_READINESS_MS;
      this.#diskFullMessage = `the WAL disk is full: ${message}`;
      this.#d.log.throttled('warn', 'enospc', 'WAL write failed: disk full', { error: message });
    }
  }

  #reject(p: Pending, err: IngestError, closeConnection: boolean): void {
    this.totals.rejected++;
    this.#d.metrics.rejects.inc({ reason: err.code });
    const status = statusFor(err.code, this.#d.config);
    const retry = status === 429 || status === 503;
    this.#answer(p, status, err.message + '\n', p.protocol === 'v2' ? [0, 0, 0] : undefined, closeConnection, retry);
  }

  #answer(p: Pending, status: number, body: string, written: [number, number, number] | undefined, close: boolean, retryAfter = false): void {
    if (p.answered) return;
    p.answered = true;
    this.#receiving.delete(p);
    const m = this.#d.metrics;
    m.requests.inc({ path: p.path, code: String(status) });
    m.duration.observe({ path: p.path }, (performance.now() - p.startedAt) / 1000);
    if (!p.aborted) {
      p.res.cork(() => {
        p.res.writeStatus(STATUS_TEXT[status] ?? String(status));
        if (written) {
          p.res.writeHeader('X-Prometheus-Remote-Write-Samples-Written', String(written[0]));
          p.res.writeHeader('X-Prometheus-Remote-Write-Histograms-Written', String(written[1]));
          p.res.writeHeader('X-Prometheus-Remote-Write-Exemplars-Written', String(written[2]));
        }
        if (retryAfter) p.res.writeHeader('Retry-After', String(this.#d.config.retryAfterSeconds));
        if (body !== '') p.res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
        p.res.end(body, close);
      });
    }
    this.#finish(p);
  }

  /** Ends the bookkeeping of a request once it is answered or aborted and no worker holds its body. */
  #finish(p: Pending): void {
    this.#receiving.delete(p);
    if (p.inWorker) return;
    if (p.holdsRing) {
      p.holdsRing = false;
      this.#d.bodies.release(p.slot!);
    }
    if (p.admitted) {
      p.admitted = false;
      this.#inflight--;
    }
    this.#gauges();
  }

  #gauges(): void {
    this.#d.metrics.inflight.set(this.#inflight);
    this.#d.metrics.ringBytes.set(this.#d.bodies.usedBytes);
  }
}

export function statusFor(code: IngestErrorCode, cfg: ServerConfig): number {
  return code === 'disk_full' ? cfg.backpressureStatus : HTTP_STATUS_BY_CODE[code];
}

const STATUS_TEXT: Record<number, string> = {
  204: '204 No Content',
  400: '400 Bad Request',
  404: '404 Not Found',
  408: '408 Request Timeout',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};
