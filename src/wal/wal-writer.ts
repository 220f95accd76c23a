import type { WalConfig } from '../config/config.js';
import { ReusedBuffer } from '../reused-buffer.js';
import { type CompressBlockCall, compressFrame, NativeFramer, SampleType, WAL, writeBlockHeader } from './format.js';
import { newSegmentId } from './segment-name.js';
import { type FileRangeCall, SegmentFile, syncDirectoryAsync, systemError, walIoError, type WriteFramesCall, writeFramesSync, WRITEBACK_PAGE } from './segment-file.js';

/** Fraction of --max-segment-age by which a segment may rotate early (spreads rotations out). */
const AGE_JITTER = 0.1;
/** Pending bytes at which a flush starts without waiting out --group-commit-delay. */
const FLUSH_BYTES = 8 << 20;

/** What happened to segment files, for the main thread's disk accounting. */
export type SegmentEvent =
  | { readonly kind: 'created'; readonly path: string; readonly prefix: string; readonly size: number; readonly createdAtMs: number }
  | { readonly kind: 'closed'; readonly path: string; readonly size: number; /** false: the closing fsync failed */ readonly synced: boolean }
  | { readonly kind: 'removed'; readonly path: string; readonly size: number };

export interface WalDelta {
  /** Bytes added to (or, negative, removed from) the WAL since the last delta. */
  bytes: number;
  events: SegmentEvent[];
  /** Bytes handed to the kernel's writeback (--wal-writeback) since the last delta. */
  writebackBytes?: number;
  /** Bytes dropped from the page cache (--wal-drop-cache) since the last delta. */
  droppedBytes?: number;
  /**
   * Per group commit flush since the last delta that acknowledged its requests: its duration in
   * seconds (compress, write and, with --wal-fsync=always, fsync), how many requests shared it,
   * and how long its first request had waited for it to start (seconds).
   */
  flushSeconds?: number[];
  flushRequests?: number[];
  flushWaitSeconds?: number[];
}

export type { CompressBlockCall, FileRangeCall, WriteFramesCall };

/**
 * The least a segment hands to writeback in one round: a 64th of --wal-writeback (64 KiB at the
 * default 4 MiB), at least a page. Rounds that handed every active segment its new pages made one
 * sync_file_range (one bio, one device kick) and one posix_fadvise per table per round: with 1000
 * tables a 4 MiB round gave each ~4 KiB, and those calls took 25 % of the worker's core at 420 k
 * samples/s (one core, loadgen with 1000 metric names; p99 58–62 ms). With the chunk: 6 % (p99
 * 40–47 ms). A segment with less waits for a later round or its close, so dirty WAL pages stay
 * under --wal-writeback plus one chunk per active segment.
 */
export function writebackChunk(writebackBytes: number): number {
  return Math.max(WRITEBACK_PAGE, Math.floor(writebackBytes / 64 / WRITEBACK_PAGE) * WRITEBACK_PAGE);
}

/** Whether the writer starts writeback itself (--wal-writeback; with --wal-fsync=always every flush syncs anyway). */
export function startsWriteback(config: WalConfig): boolean {
  return config.writebackBytes > 0 && config.fsync !== 'always';
}

/** What the writer takes from the native addon (`walNativeCalls`); it does without any of them. */
export interface WalNativeCalls {
  /** sync_file_range (--wal-writeback). */
  readonly startWriteback?: FileRangeCall;
  /** posix_fadvise DONTNEED (--wal-drop-cache). */
  readonly dropCache?: FileRangeCall;
  /** Merges and compresses a table's block in C; without it, merged here and compressed by the `snappy` package. */
  readonly compressBlock?: CompressBlockCall;
  /** Writes the flush's held frames in one call; without it, `writeFramesSync` (one fs.writeSync per frame). */
  readonly writeFrames?: WriteFramesCall;
}

/**
 * Rows for one segment prefix, as produced by a transform, laid out as a block payload:
 * `WAL.blockHeaderBytes` reserved bytes, the CSV header line, then the rows. A flush with one
 * piece per prefix (the common case) compresses it in place, without a copy.
 */
export interface PendingRows {
  readonly prefix: string;
  readonly block: Uint8Array;
  readonly rows: number;
  /** Called once the flush no longer needs `block` (written or failed), to recycle it. */
  readonly done?: () => void;
}

/**
 * Rows held outside the writer until its flush frames them: the native hot path's tables
 * (MetricsCsvWriter.keepRowsInNative), one block per table for all the requests since the last
 * flush, compressed in one call, with no per-request, per-table pieces in JavaScript.
 */
export interface HeldBlocks {
  /** Bytes held (for the flush-at-8-MiB rule). */
  readonly heldBytes: number;
  /** Table ids in use: `frameHeld`'s info needs 4 entries per id. */
  readonly tableIds: number;
  /** Every held block as a WAL frame (CRC filled in) into out, info ← [table, offset, length, rows]; the count, or −(bytes out needs). */
  frameHeld(out: Uint8Array, info: Int32Array): number;
  prefixOf(tableId: number): string;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The WAL writer of one worker thread: one active segment per prefix, appended by group commit.
 *
 * `write()` queues rows and returns a promise that settles after the next flush. A flush runs
 * `groupCommitDelayMs` after the first write queued for it (on `setImmediate` when the delay is 0
 * or 8 MiB are waiting), so every request decoded meanwhile shares it: per prefix one block (one
 * CSV header, many requests' rows), one write, and with `fsync=always` one fdatasync per touched
 * file. The delay is what makes group commit work below saturation: a request touches ~100
 * tables, and flushing each request alone costs ~100 small compressions and writes (measured on
 * one core at 620 k samples/s in the open model: 0.97 cores used without the delay, 0.80 with 5 ms;
 * the sustained rate rose from ~540 k to ~700 k samples/s). A 2 ms delay was tried once the native
 * path made a request ~2 ms of work: it cuts latency (one core, 820 k samples/s: p50 15 → 4 ms,
 * p99 42–131 → 18–32 ms) but requests ~2.5 ms apart then rarely wait, and in the harness the
 * sustained rate fell from 0.95–1.05 M to 807 k (0.92 cores at 646 k against 0.81 at 840 k), so
 * the default stays 5 ms. The caller says whether waiting can
 * pay (`expectMore`; decode-task.ts checks that other requests are in flight and have lately come
 * closer together than the delay), so a sender that waits for each answer is never held.
 * The promise resolves only when the bytes are in the file (and
 * synced when asked); if any write of the flush fails, every segment the flush touched is cut back
 * to where it was and all its waiters are rejected, so an unacknowledged request leaves nothing.
 */
export class WalWriter {
  readonly #config: WalConfig;
  readonly #writerId: number;
  readonly #headerLine: Buffer;
  readonly #active = new Map<string, SegmentFile>();
  /** When each active segment rotates by age. */
  readonly #rotateAt = new Map<SegmentFile, number>();
  #pending = new Map<string, { pieces: PendingRows[]; rows: number }>();
  #waiters: Waiter[] = [];
  #scheduled = false;
  /** When the first write of the scheduled flush came (performance.now()). */
  #scheduledAt = 0;
  #pendingBytes = 0;
  /** The --group-commit-delay timer of the scheduled flush, if it waits on one. */
  #flushTimer: NodeJS.Timeout | undefined;
  /** Segments with an fdatasync in flight; they are never closed until it settles. */
  readonly #syncing = new Map<SegmentFile, number>();
  readonly #retired = new Set<SegmentFile>();
  #delta: WalDelta = { bytes: 0, events: [] };
  /** A segment was created since the directory was last synced. */
  #directoryDirty = false;
  readonly #onIdleDelta: (delta: WalDelta) => void;
  #timer: NodeJS.Timeout | undefined;
  /** sync_file_range from the native addon (--wal-writeback); undefined: left to the kernel. */
  readonly #startWriteback: FileRangeCall | undefined;
  /** posix_fadvise DONTNEED from the native addon (--wal-drop-cache); undefined: pages stay cached. */
  readonly #dropCache: FileRangeCall | undefined;
  /** Frames blocks in C (compressBlock); undefined: merged here and compressed by the `snappy` package. */
  readonly #framer: NativeFramer | undefined;
  /** Bytes appended since writeback was last started. */
  #sinceWriteback = 0;
  /** Rows held elsewhere until a flush (`holdBlocksFrom`), and that flush's frames of them. */
  #held: HeldBlocks | undefined;
  readonly #heldBuffer = new ReusedBuffer(1 << 20, 16 << 20);
  /** The last `#frameHeld`'s frames (a buffer of their own when over 16 MiB) and their [table, offset, length, rows]. */
  #heldFrames: Buffer = this.#heldBuffer.current;
  #heldInfo = new Int32Array(4 * 256);
  /** Writes the held frames: the addon's `writeFrames`, one call per flush, or `writeFramesSync`. */
  readonly #writeFrames: WriteFramesCall;
  /** `#writeFrames`' plan ([fd, position, at, length] per frame), the segment of each frame, and its errno. */
  #plan = new Float64Array(4 * 256);
  #planned: SegmentFile[] = [];
  readonly #writeError = new Int32Array(1);

  constructor(config: WalConfig, writerId: number, headerLine: string, onIdleDelta: (delta: WalDelta) => void, native: WalNativeCalls = {}) {
    this.#config = config;
    this.#startWriteback = startsWriteback(config) ? native.startWriteback : undefined;
    this.#dropCache = config.dropCache ? native.dropCache : undefined;
    this.#framer = native.compressBlock && new NativeFramer(native.compressBlock);
    this.#writeFrames = native.writeFrames ?? writeFramesSync;
    this.#writerId = writerId;
    this.#headerLine = Buffer.from(headerLine);
    this.#onIdleDelta = onIdleDelta;
    const tick = Math.max(50, Math.min(1000, Math.floor(config.maxSegmentAgeMs / 4)));
    this.#timer = setInterval(() => this.#rotateAged(Date.now()), tick);
    this.#timer.unref();
  }

  /**
   * Queues rows for the next flush; resolves once they are durable per `--wal-fsync`.
   * `expectMore` false (no other request is on its way) flushes at once instead of waiting
   * out the group-commit delay for company that will not come.
   */
  write(rows: Iterable<PendingRows>, expectMore = true): Promise<void> {
    for (const r of rows) {
      if (r.rows === 0) continue;
      let p = this.#pending.get(r.prefix);
      if (p === undefined) this.#pending.set(r.prefix, (p = { pieces: [], rows: 0 }));
      p.pieces.push(r);
      p.rows += r.rows;
      this.#pendingBytes += r.block.byteLength;
    }
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    const now = !expectMore || this.#config.groupCommitDelayMs <= 0 || this.#pendingBytes + (this.#held?.heldBytes ?? 0) >= FLUSH_BYTES;
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#scheduledAt = performance.now();
      if (now) setImmediate(() => void this.#flush());
      else this.#flushTimer = setTimeout(() => void this.#flush(), this.#config.groupCommitDelayMs);
    } else if (now && this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      setImmediate(() => void this.#flush());
    }
    return done;
  }

  /**
   * Each flush also writes what `held` holds then: a request whose rows went there calls
   * `write` (with no rows of its own, or with its TypeScript-path rows) to wait for that flush.
   */
  holdBlocksFrom(held: HeldBlocks): void {
    this.#held = held;
  }

  /** Takes the accounting delta accumulated since the last call. */
  takeDelta(): WalDelta {
    const d = this.#delta;
    this.#delta = { bytes: 0, events: [] };
    return d;
  }

  async #flush(): Promise<void> {
    const started = performance.now();
    const waited = started - this.#scheduledAt;
    this.#scheduled = false;
    this.#flushTimer = undefined;
    this.#pendingBytes = 0;
    const pending = this.#pending;
    const waiters = this.#waiters;
    this.#pending = new Map();
    this.#waiters = [];
    const touched = new Map<SegmentFile, number>(); // segment → size before this flush
    try {
      // Taken first, whatever happens next: rows of requests this flush answers go with it.
      const held = this.#frameHeld();
      for (const [prefix, p] of pending) this.#appendBlock(prefix, p.pieces, p.rows, touched);
      this.#writeHeld(held, touched);
    } catch (err) {
      this.#rollback(touched);
      for (const w of waiters) w.reject(err);
      return;
    } finally {
      for (const p of pending.values()) for (const piece of p.pieces) piece.done?.();
    }
    if (this.#startWriteback !== undefined) {
      for (const [seg, before] of touched) this.#sinceWriteback += seg.size - before;
      if (this.#sinceWriteback >= this.#config.writebackBytes) this.#writeback();
    }
    if (this.#config.fsync === 'always' && touched.size > 0) {
      try {
        await Promise.all([...[...touched.keys()].map((s) => this.#sync(s)), this.#syncDirectory()]);
      } catch (err) {
        // After a failed fsync the kernel may have dropped dirty pages: never append to those
        // files again. What they hold stays for repair and upload; the senders retry.
        for (const s of touched.keys()) this.#retire(s);
        for (const w of waiters) w.reject(err);
        return;
      }
      if (this.#dropCache !== undefined) {
        for (const s of touched.keys()) {
          s.dropSynced(this.#dropCache);
          this.#noteDropped(s);
        }
      }
    }
    const d = this.#delta;
    (d.flushSeconds ??= []).push((performance.now() - started) / 1000);
    (d.flushRequests ??= []).push(waiters.length);
    (d.flushWaitSeconds ??= []).push(waited / 1000);
    for (const w of waiters) w.resolve();
    // --wal-fsync=rotate: new directory entries are synced in the background, off this thread.
    if (this.#directoryDirty) void this.#syncDirectory().catch(() => undefined);
  }

  /**
   * Starts the kernel writing every active segment's new bytes (sync_file_range WRITE, no wait).
   * Without it the kernel lets dirty WAL pages pile up for 30 s (dirty_expire_centisecs) before
   * writing them back: 1.46 GB dirty after 90 s at 530 k samples/s on the development VM, against
   * at most 5.3 MB with it (docs/performance.md), for ~2 % of a core. That bounds what a rotation's
   * fsync or a crash has to deal with. Segments already retired are being closed (and fsynced per
   * --wal-fsync) anyway. With --wal-drop-cache each segment first drops from the page cache what
   * the round before handed over (SegmentFile.startWriteback), so the WAL reuses a few MiB of
   * pages: when every write lands on a page new to the page cache, which then has to be found,
   * zeroed and (on a VM that hands free memory back to its host) backed again, writes cost up to
   * 15× more in bursts of a second (docs/performance.md, sixth campaign).
   */
  #writeback(): void {
    this.#sinceWriteback = 0;
    let bytes = 0;
    const minBytes = writebackChunk(this.#config.writebackBytes);
    for (const seg of this.#active.values()) {
      bytes += seg.startWriteback(this.#startWriteback!, this.#dropCache, minBytes);
      this.#noteDropped(seg);
    }
    this.#delta.writebackBytes = (this.#delta.writebackBytes ?? 0) + bytes;
  }

  /** Adds what `seg` dropped from the page cache since last asked to the delta. */
  #noteDropped(seg: SegmentFile): void {
    const n = seg.takeDroppedBytes();
    if (n > 0) this.#delta.droppedBytes = (this.#delta.droppedBytes ?? 0) + n;
  }

  /** Syncs the WAL directory when a segment was created since the last time; shares one fsync in flight. */
  #syncDirectory(): Promise<void> {
    if (!this.#directoryDirty) return this.#directorySync ?? Promise.resolve();
    this.#directoryDirty = false;
    const sync = syncDirectoryAsync(this.#config.storageDir).finally(() => {
      if (this.#directorySync === sync) this.#directorySync = undefined;
    });
    this.#directorySync = sync;
    return sync;
  }

  #directorySync: Promise<void> | undefined;

  #appendBlock(prefix: string, pieces: PendingRows[], rows: number, touched: Map<SegmentFile, number>): void {
    writeBlockHeader(pieces[0]!.block, SampleType.metric, rows);
    this.#appendFrame(prefix, this.#frame(pieces), touched);
  }

  #appendFrame(prefix: string, frame: readonly Uint8Array[], touched: Map<SegmentFile, number>): void {
    let frameBytes = 0;
    for (const part of frame) frameBytes += part.byteLength;
    this.#segmentFor(prefix, frameBytes, touched).appendParts(frame);
    this.#delta.bytes += frameBytes;
  }

  /**
   * The segment the next `frameBytes` of `prefix` go to, in `touched` with its size before this
   * flush: the active one, or a new one when that would grow past --max-segment-size (unless this
   * flush already wrote to it: a flush's rollback needs each prefix in one segment).
   */
  #segmentFor(prefix: string, frameBytes: number, touched: Map<SegmentFile, number>): SegmentFile {
    let seg = this.#active.get(prefix);
    if (seg !== undefined && !seg.isEmpty && seg.size + frameBytes > this.#config.maxSegmentBytes && !touched.has(seg)) {
      this.#retire(seg);
      seg = undefined;
    }
    if (seg === undefined) seg = this.#open(prefix);
    if (!touched.has(seg)) touched.set(seg, seg.size);
    return seg;
  }

  /** Frames everything `#held` holds into `#heldFrames` / `#heldInfo`; the frame count. */
  #frameHeld(): number {
    const held = this.#held;
    if (held === undefined || held.heldBytes === 0) return 0;
    if (this.#heldInfo.length < 4 * held.tableIds) this.#heldInfo = new Int32Array(8 * held.tableIds);
    this.#heldFrames = this.#heldBuffer.current;
    let n = held.frameHeld(this.#heldFrames, this.#heldInfo);
    if (n < 0) n = held.frameHeld((this.#heldFrames = this.#heldBuffer.atLeast(-n)), this.#heldInfo);
    return n;
  }

  /**
   * Appends the n frames of the last `#frameHeld` with one `writeFrames` call. Each frame's
   * range is reserved in its segment first (the segment's size moves on before the write: should
   * any write fail, the flush's rollback cuts every touched segment back to its size before the
   * flush). With 1000 tables a flush writes ~1000 frames, and a JavaScript fs.writevSync per frame
   * cost more than the pwrite itself (docs/performance.md, "Held frames written from C").
   */
  #writeHeld(n: number, touched: Map<SegmentFile, number>): void {
    const info = this.#heldInfo;
    const held = this.#held!;
    if (this.#plan.length < 4 * n) this.#plan = new Float64Array(8 * n);
    const plan = this.#plan;
    const planned = this.#planned;
    planned.length = n;
    for (let i = 0; i < n; i++) {
      const bytes = info[4 * i + 2]!;
      const seg = this.#segmentFor(held.prefixOf(info[4 * i]!), bytes, touched);
      planned[i] = seg;
      plan[4 * i] = seg.fd;
      plan[4 * i + 1] = seg.reserve(bytes);
      plan[4 * i + 2] = info[4 * i + 1]!;
      plan[4 * i + 3] = bytes;
      this.#delta.bytes += bytes;
    }
    const written = this.#writeFrames(this.#heldFrames, plan, n, this.#writeError);
    if (written < n) throw walIoError(systemError(this.#writeError[0]!, 'pwrite'), `append to ${planned[written]!.path}`);
    planned.length = 0;
  }

  /**
   * The frame of one block, as parts for one writev, from its pieces: the first whole, the
   * others without their reserved bytes and header line. A native frame is valid only until the
   * next call, so #appendBlock writes it first.
   */
  #frame(pieces: PendingRows[]): readonly Uint8Array[] {
    const skip = WAL.blockHeaderBytes + this.#headerLine.length;
    if (this.#framer !== undefined) return [this.#framer.frame(pieces.map((p) => p.block), skip)];
    const frame = compressFrame(pieces.length === 1 ? pieces[0]!.block : merge(pieces, skip));
    return [frame.header, frame.payload];
  }

  #open(prefix: string): SegmentFile {
    const now = Date.now();
    const seg = SegmentFile.create(this.#config.storageDir, prefix, newSegmentId(this.#writerId, now), now);
    // Up to AGE_JITTER earlier than --max-segment-age, so that the segments of many tables,
    // created together, do not all close (and fsync) in the same instant.
    this.#rotateAt.set(seg, now + this.#config.maxSegmentAgeMs * (1 - AGE_JITTER * Math.random()));
    this.#directoryDirty = this.#config.fsync !== 'never';
    this.#active.set(prefix, seg);
    this.#delta.bytes += seg.size;
    this.#delta.events.push({ kind: 'created', path: seg.path, prefix, size: seg.size, createdAtMs: now });
    return seg;
  }

  #rollback(touched: Map<SegmentFile, number>): void {
    for (const [seg, size] of touched) {
      this.#delta.bytes -= seg.size - size;
      seg.truncateTo(size);
    }
  }

  async #sync(seg: SegmentFile): Promise<void> {
    this.#syncing.set(seg, (this.#syncing.get(seg) ?? 0) + 1);
    try {
      await seg.sync();
    } finally {
      const left = this.#syncing.get(seg)! - 1;
      if (left > 0) this.#syncing.set(seg, left);
      else {
        this.#syncing.delete(seg);
        if (this.#retired.has(seg)) this.#close(seg);
      }
    }
  }

  /** Takes a segment out of service; it is closed as soon as no fsync is in flight on it. */
  #retire(seg: SegmentFile): void {
    if (this.#active.get(seg.prefix) === seg) this.#active.delete(seg.prefix);
    this.#rotateAt.delete(seg);
    if (this.#syncing.has(seg)) this.#retired.add(seg);
    else this.#close(seg);
  }

  /**
   * Closes a retired segment. The fsync (per --wal-fsync) runs on the libuv pool so a rotation,
   * which may flush a gigabyte of dirty pages, never stalls the requests this thread decodes; the
   * 'closed' event is reported once it is done. A failed fsync leaves the data in the file for
   * repair; the segment is reported closed all the same.
   */
  #close(seg: SegmentFile): void {
    this.#retired.delete(seg);
    if (seg.isEmpty) {
      seg.closeQuietly();
      this.#delta.events.push(this.#remove(seg));
      return;
    }
    const closing = seg.closeAsync(this.#config.fsync !== 'never', this.#dropCache).then((synced) => {
      this.#closing.delete(closing);
      this.#noteDropped(seg);
      this.#delta.events.push({ kind: 'closed', path: seg.path, size: seg.size, synced });
      this.#reportSoon();
    });
    this.#closing.add(closing);
  }

  #reportScheduled = false;
  /** Closes (fsyncs) still running. */
  readonly #closing = new Set<Promise<void>>();

  /** Hands accumulated events to the main thread shortly, unless a task result takes them first. */
  #reportSoon(): void {
    if (this.#reportScheduled) return;
    this.#reportScheduled = true;
    setImmediate(() => {
      this.#reportScheduled = false;
      if (this.#delta.events.length > 0) this.#onIdleDelta(this.takeDelta());
    });
  }

  #remove(seg: SegmentFile): SegmentEvent {
    SegmentFile.remove(seg.path);
    this.#delta.bytes -= seg.size;
    return { kind: 'removed', path: seg.path, size: seg.size };
  }

  #rotateAged(now: number): void {
    let rotated = false;
    for (const seg of [...this.#active.values()]) {
      if (now >= this.#rotateAt.get(seg)!) {
        this.#retire(seg);
        rotated = true;
      }
    }
    if (rotated || this.#delta.events.length > 0) this.#onIdleDelta(this.takeDelta());
  }

  /** Closes every segment (fsyncing per config) and resolves with the last delta. No writes may follow. */
  async closeAll(): Promise<WalDelta> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#flushTimer !== undefined) {
      // A flush still waiting out --group-commit-delay: its requests are waiting for it.
      clearTimeout(this.#flushTimer);
      await this.#flush();
    }
    for (const seg of [...this.#active.values()]) this.#retire(seg);
    while (this.#closing.size > 0 || this.#syncing.size > 0) await Promise.all([...this.#closing, ...[...this.#syncing.keys()].map((s) => s.sync().catch(() => undefined))]);
    return this.takeDelta();
  }
}

/** One payload from several pieces: the first whole, the others without their first `skip` bytes. */
function merge(pieces: PendingRows[], skip: number): Uint8Array {
  let bytes = skip;
  for (const p of pieces) bytes += p.block.byteLength - skip;
  const payload = Buffer.allocUnsafe(bytes);
  payload.set(pieces[0]!.block, 0);
  let at = pieces[0]!.block.byteLength;
  for (let i = 1; i < pieces.length; i++) {
    const b = pieces[i]!.block;
    payload.set(b.subarray(skip), at);
    at += b.byteLength - skip;
  }
  return payload;
}
