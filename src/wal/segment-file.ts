import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { IngestError } from '../errors.js';
import { SEGMENT_HEADER, WAL } from './format.js';
import { segmentFileName } from './segment-name.js';

/** Page-cache drops start at a multiple of this: a page boundary for 4 KiB and 64 KiB pages alike. */
const DROP_ALIGN = 64 << 10;

/**
 * Writeback ranges end at a multiple of this (`startWriteback`): the page size on x86-64. On
 * 64 KiB-page systems a range may still end inside a page, as before; a 64 KiB multiple would
 * leave up to 64 KiB per active segment dirty between steps instead.
 */
export const WRITEBACK_PAGE = 4096;

/** A native call on a range of a file (sync_file_range, posix_fadvise): 0 or an errno. */
export type FileRangeCall = (fd: number, offset: number, length: number) => number;

/**
 * Positional writes of whole frames (the addon's `writeFrames`, native/napi-wal.h): frame i,
 * frames[at, at + length), at `position` in file `fd`, for plan = [fd, position, at, length] × n,
 * in order; returns how many were written whole, with err[0] = the errno of the one that failed
 * (it may be partly written: the caller cuts the file back).
 */
export type WriteFramesCall = (frames: Uint8Array, plan: Float64Array, n: number, err: Int32Array) => number;

/** `WriteFramesCall` with fs.writeSync, where the native addon is not loaded. */
export const writeFramesSync: WriteFramesCall = (frames, plan, n, err) => {
  err[0] = 0;
  for (let i = 0; i < n; i++) {
    const [fd, position, at, length] = [plan[4 * i]!, plan[4 * i + 1]!, plan[4 * i + 2]!, plan[4 * i + 3]!];
    try {
      for (let done = 0; done < length; ) done += fs.writeSync(fd, frames, at + done, length - done, position + done);
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).errno;
      if (typeof errno !== 'number') throw e;
      err[0] = -errno;
      return i;
    }
  }
  return n;
};

/** An error as Node's fs calls throw it ("ENOSPC: no space left on device, pwrite", `code` 'ENOSPC') for an errno from a native call. */
export function systemError(errno: number, syscall: string): NodeJS.ErrnoException {
  const [code, description] = util.getSystemErrorMap().get(-errno) ?? [`E${errno}`, `error ${errno}`];
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${syscall}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  return err;
}

/** Maps a failed write or sync to the error the sender sees: out of space is backpressure, the rest is I/O. */
export function walIoError(err: unknown, what: string): IngestError {
  const code = (err as NodeJS.ErrnoException).code;
  const full = code === 'ENOSPC' || code === 'EDQUOT';
  return new IngestError(full ? 'disk_full' : 'wal_io', `${what}: ${(err as Error).message}`, { cause: err });
}

/**
 * One active (appendable) segment file, owned by exactly one writer thread.
 *
 * Invariant: `size` is the length of the file's valid prefix. A failed append is truncated back
 * to it before the error is thrown, so a partial frame never stays behind a good one.
 */
export class SegmentFile {
  readonly path: string;
  readonly prefix: string;
  readonly createdAtMs: number;
  #fd: number;
  #size: number;
  /** Bytes before this offset were already handed to `startWriteback`. */
  #pushed = 0;
  /** Where the range handed over by the previous `startWriteback` began. */
  #pushedBefore = 0;
  /** Bytes before this offset were already dropped from the page cache. */
  #dropped = 0;
  /** Bytes dropped from the page cache since `takeDroppedBytes` (each counted once, calls that failed not at all). */
  #droppedBytes = 0;

  private constructor(filePath: string, prefix: string, fd: number, size: number, createdAtMs: number) {
    this.path = filePath;
    this.prefix = prefix;
    this.#fd = fd;
    this.#size = size;
    this.createdAtMs = createdAtMs;
  }

  /**
   * Creates `<dir>/<prefix>_<id>.wal` with its header. The directory entry is not synced here:
   * the writer does that off-thread (`syncDirectoryAsync`), before acknowledging with
   * `--wal-fsync=always`.
   */
  static create(dir: string, prefix: string, id: string, nowMs = Date.now()): SegmentFile {
    const filePath = path.join(dir, segmentFileName(prefix, id));
    let fd: number;
    try {
      fd = fs.openSync(filePath, 'wx', 0o644);
    } catch (e) {
      throw walIoError(e, `create ${filePath}`);
    }
    const seg = new SegmentFile(filePath, prefix, fd, 0, nowMs);
    try {
      seg.append(SEGMENT_HEADER);
    } catch (e) {
      seg.closeQuietly();
      fs.rmSync(filePath, { force: true });
      throw e;
    }
    return seg;
  }

  /** Deletes a segment file; missing is fine. */
  static remove(filePath: string): void {
    fs.rmSync(filePath, { force: true });
  }

  get size(): number {
    return this.#size;
  }

  /**
   * The file descriptor, for a native writer (`writeFrames`) that writes the ranges `reserve`
   * handed out; -1 once closed.
   */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Reserves the next `bytes` of the file for a write made elsewhere (by `fd`, at the returned
   * offset) and counts them in `size` now. Until that write is done `size` runs ahead of the
   * file: if it fails the caller must `truncateTo` the size before the reservation, as the WAL
   * writer's rollback does.
   */
  reserve(bytes: number): number {
    const at = this.#size;
    this.#size += bytes;
    return at;
  }

  get isEmpty(): boolean {
    return this.#size <= WAL.headerBytes;
  }

  /** Appends all of `bytes` (retrying short writes), or truncates back and throws. */
  append(bytes: Uint8Array): void {
    this.appendParts([bytes]);
  }

  /**
   * Appends the parts back to back with one positional `writev` (finishing a short write part by
   * part), or truncates back to the previous size and throws.
   */
  appendParts(parts: readonly Uint8Array[]): void {
    const start = this.#size;
    let total = 0;
    for (const p of parts) total += p.byteLength;
    let done = 0;
    try {
      done = fs.writevSync(this.#fd, parts as Uint8Array[], start);
      for (let i = 0, partStart = 0; done < total && i < parts.length; partStart += parts[i]!.byteLength, i++) {
        const part = parts[i]!;
        while (done < partStart + part.byteLength && done >= partStart) {
          const at = done - partStart;
          done += fs.writeSync(this.#fd, part, at, part.byteLength - at, start + done);
        }
      }
    } catch (e) {
      this.truncateTo(start);
      throw walIoError(e, `append to ${this.path}`);
    }
    this.#size = start + done;
  }

  /** Cuts the file back to `size` (a rollback); the caller decides what the failure means. */
  truncateTo(size: number): void {
    try {
      fs.ftruncateSync(this.#fd, size);
      this.#size = size;
      this.#dropped = Math.min(this.#dropped, size);
    } catch {
      // The next append overwrites at `size` anyway (positional writes), and start-up repair
      // truncates whatever is left; `#size` stays the valid prefix.
      this.#size = Math.min(this.#size, size);
    }
  }

  /**
   * Hands the whole pages appended since the last call to `start` (sync_file_range: begin writing them
   * to disk, don't wait), once there are at least `minBytes` of them. Returns how many bytes that
   * was; 0 when there were fewer or the call failed (it is advisory: the kernel writes them back
   * later anyway). With `drop`, first drops from the page cache what calls before the previous one
   * handed over: their writeback had a whole round to finish, so their pages are clean (any still
   * dirty are skipped).
   */
  startWriteback(start: FileRangeCall, drop?: FileRangeCall, minBytes = WRITEBACK_PAGE): number {
    if (this.#fd < 0) return 0;
    const from = Math.min(this.#pushed, this.#size);
    // Whole pages only: the partial last page is still being appended to. Handed over, it would
    // be written now and again once it fills. With many tables, each appending a few KiB per
    // step, that wrote 1.9× the WAL's bytes to the disk (loadgen, 1000 tables, one core; 1.08×
    // with 100 tables), and now 1.0×. The tail goes with the next step, or at the close.
    const end = Math.floor(this.#size / WRITEBACK_PAGE) * WRITEBACK_PAGE;
    const length = end - from;
    if (length <= 0 || length < minBytes) return 0;
    if (drop !== undefined) this.#dropUpTo(drop, this.#pushedBefore);
    this.#pushedBefore = from;
    this.#pushed = end;
    return start(this.#fd, from, length) === 0 ? length : 0;
  }

  /** After an fdatasync: drops every page appended so far from the page cache (they are all clean). */
  dropSynced(drop: FileRangeCall): void {
    if (this.#fd >= 0) this.#dropUpTo(drop, this.#size);
  }

  /**
   * Drops the pages of [dropped, end) from the page cache. The kernel drops whole pages only, so
   * this starts at the page boundary below `dropped`: the page the last drop left out (it held
   * the end of its range, and was dirty again) is tried again.
   */
  #dropUpTo(drop: FileRangeCall, end: number, fd = this.#fd): void {
    if (end <= this.#dropped) return;
    const from = this.#dropped - (this.#dropped % DROP_ALIGN);
    if (drop(fd, from, end - from) === 0) this.#droppedBytes += end - this.#dropped;
    this.#dropped = end;
  }

  /** Bytes dropped from the page cache (--wal-drop-cache) since the last call. */
  takeDroppedBytes(): number {
    const n = this.#droppedBytes;
    this.#droppedBytes = 0;
    return n;
  }

  /** fdatasync on the libuv pool; rejects with a `wal_io`/`disk_full` IngestError. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (err) => (err ? reject(walIoError(err, `fsync ${this.path}`)) : resolve()));
    });
  }

  /**
   * Closes the file, fsyncing it first (on the libuv pool) when asked, and with `drop` dropping
   * its pages from the page cache. Never rejects: a failed fsync is returned as `false`, the data
   * stays in the file for start-up repair to check.
   */
  async closeAsync(fsync: boolean, drop?: FileRangeCall): Promise<boolean> {
    if (this.#fd < 0) return true;
    const fd = this.#fd;
    this.#fd = -1; // no append or sync may use it from here on
    let synced = true;
    if (fsync) synced = await new Promise<boolean>((resolve) => fs.fsync(fd, (err) => resolve(!err)));
    // What earlier drops left (the last rounds, pages still dirty then): clean now unless
    // --wal-fsync=never, and then the kernel starts their writeback and drops what it can.
    if (drop !== undefined) this.#dropUpTo(drop, this.#size, fd);
    try {
      fs.closeSync(fd);
    } catch {
      // nothing left to release
    }
    return synced;
  }

  closeQuietly(): void {
    if (this.#fd < 0) return;
    try {
      fs.closeSync(this.#fd);
    } catch {
      // already closed or the fd is gone; nothing to keep
    }
    this.#fd = -1;
  }
}

/** fsync of a directory (its entries) on the libuv pool. */
export function syncDirectoryAsync(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, 'r', (err, fd) => {
      if (err) return reject(walIoError(err, `open ${dir}`));
      fs.fsync(fd, (syncErr) => {
        fs.close(fd, () => (syncErr ? reject(walIoError(syncErr, `fsync ${dir}`)) : resolve()));
      });
    });
  });
}
