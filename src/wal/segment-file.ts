import fs from 'node:fs';
import path from 'node:path';
import { IngestError } from '../errors.js';
import { SEGMENT_HEADER, WAL } from './format.js';
import { segmentFileName } from './segment-name.js';

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
    } catch {
      // The next append overwrites at `size` anyway (positional writes), and start-up repair
      // truncates whatever is left; `#size` stays the valid prefix.
      this.#size = Math.min(this.#size, size);
    }
  }

  /**
   * Hands the bytes appended since the last call to `start` (sync_file_range: begin writing them
   * to disk, don't wait). Returns how many bytes that was; 0 when there were none or the call
   * failed (it is advisory: the kernel writes them back later anyway).
   */
  startWriteback(start: (fd: number, offset: number, length: number) => number): number {
    if (this.#fd < 0) return 0;
    const from = Math.min(this.#pushed, this.#size);
    const length = this.#size - from;
    if (length <= 0) return 0;
    this.#pushed = this.#size;
    return start(this.#fd, from, length) === 0 ? length : 0;
  }

  /** fdatasync on the libuv pool; rejects with a `wal_io`/`disk_full` IngestError. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (err) => (err ? reject(walIoError(err, `fsync ${this.path}`)) : resolve()));
    });
  }

  /**
   * Closes the file, fsyncing it first (on the libuv pool) when asked. Never rejects: a failed
   * fsync is returned as `false`, the data stays in the file for start-up repair to check.
   */
  async closeAsync(fsync: boolean): Promise<boolean> {
    if (this.#fd < 0) return true;
    const fd = this.#fd;
    this.#fd = -1; // no append or sync may use it from here on
    let synced = true;
    if (fsync) synced = await new Promise<boolean>((resolve) => fs.fsync(fd, (err) => resolve(!err)));
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
