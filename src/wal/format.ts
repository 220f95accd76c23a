/**
 * WAL segment byte format (compatible with adx-mon). All integers are big-endian.
 *
 *   segment file
 *   ┌──────────────────────┬─────────┬─────────┬─────┐
 *   │ header (8 bytes)     │ frame 0 │ frame 1 │ ... │
 *   │ "ADXWAL" 0x00 0x00   │         │         │     │
 *   └──────────────────────┴─────────┴─────────┴─────┘
 *
 *   frame
 *   ┌─────────────┬──────────────┬───────────────────────────────┐
 *   │ length u32  │ crc32 u32    │ payload: `length` bytes, a    │
 *   │             │ IEEE, of the │ snappy block (S2 also read)   │
 *   │             │ payload      │                               │
 *   └─────────────┴──────────────┴───────────────────────────────┘
 *
 *   payload after decompression
 *   ┌─────────────┬────────────┬────────────────┬───────────────┬───────────┐
 *   │ magic u16   │ version u8 │ sample type u8 │ count u32     │ CSV bytes │
 *   │ 0xAAAA      │ 1          │ 1 metric ...   │ rows in block │           │
 *   └─────────────┴────────────┴────────────────┴───────────────┴───────────┘
 *
 * Each block's CSV starts with the header line (`Timestamp:datetime,...`), so every block is
 * self-describing; `count` does not include that line. See docs/wal-format.md.
 */
import zlib from 'node:zlib';
import snappy from 'snappy';
import { ReusedBuffer } from '../reused-buffer.js';
import { decompressBlock } from './s2.js';

export const WAL = {
  /** The 8-byte segment header. */
  headerMagic: 'ADXWAL',
  headerBytes: 8,
  /** length u32 + crc32 u32 before every payload. */
  frameHeaderBytes: 8,
  blockMagic: 0xaaaa,
  blockVersion: 1,
  /** magic u16 + version u8 + type u8 + count u32 at the start of a decompressed payload. */
  blockHeaderBytes: 8,
  /** Frames longer than this are treated as corruption (a torn length field), not allocated. */
  maxFrameBytes: 1 << 30,
} as const;

/** Sample types; numbers are stable on disk, never reuse one. */
export const SampleType = { metric: 1, trace: 2, log: 3 } as const;
export type SampleType = (typeof SampleType)[keyof typeof SampleType];

export const SEGMENT_HEADER: Readonly<Uint8Array> = Uint8Array.from([...Buffer.from(WAL.headerMagic, 'latin1'), 0, 0]);

export function crc32(bytes: Uint8Array): number {
  return zlib.crc32(bytes) >>> 0;
}

/** Writes the 8-byte block header in front of the CSV: `payload[0..8)` must be reserved for it. */
export function writeBlockHeader(payload: Uint8Array, type: SampleType, count: number): void {
  const v = new DataView(payload.buffer, payload.byteOffset, WAL.blockHeaderBytes);
  v.setUint16(0, WAL.blockMagic);
  v.setUint8(2, WAL.blockVersion);
  v.setUint8(3, type);
  v.setUint32(4, count);
}

/** A frame as two parts, written together with one `writev`: no copy of the compressed payload. */
export interface FrameParts {
  /** length u32 + crc32 u32. */
  readonly header: Buffer;
  readonly payload: Buffer;
}

/** Compresses a block payload (block header + CSV) and frames it. The buffers are fresh. */
export function compressFrame(payload: Uint8Array): FrameParts {
  // copyOutputData: without it the napi binding hands out external buffers, which slows every
  // later call down as they pile up for the GC (measured: 35 µs → 3 ms per call).
  const compressed = snappy.compressSync(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { copyOutputData: true });
  const header = Buffer.allocUnsafe(WAL.frameHeaderBytes);
  header.writeUInt32BE(compressed.length, 0);
  header.writeUInt32BE(crc32(compressed), 4);
  return { header, payload: compressed };
}

/**
 * The native addon's `compressBlock` (native/napi-wal.h): frames the block of `pieces` (the first
 * whole, the later ones without their first `skip` bytes) into `out`, snappy-compressed, with
 * its CRC filled in; returns the frame's length, or minus the bytes `out` must have.
 */
export type CompressBlockCall = (pieces: Uint8Array[], skip: number, out: Uint8Array) => number;

/**
 * Frames made by `compressBlock` in one reused buffer: the flush's merge and compression run in
 * C, at 1.3–1.9× the speed of the `snappy` package on WAL blocks (native/snappy-block.h), and
 * nothing is allocated per table. A frame is valid until the next call; the WAL writer writes
 * it (synchronously) before it frames the next table.
 */
export class NativeFramer {
  readonly #compress: CompressBlockCall;
  /** Kept up to 16 MiB; a bigger frame gets a buffer of its own. */
  readonly #out = new ReusedBuffer(1 << 20, 16 << 20);

  constructor(compress: CompressBlockCall) {
    this.#compress = compress;
  }

  /** The frame (length, CRC, payload) of the block `pieces` make; valid until the next call. */
  frame(pieces: Uint8Array[], skip: number): Buffer {
    let out = this.#out.current;
    let n = this.#compress(pieces, skip, out);
    if (n < 0) {
      out = this.#out.atLeast(-n);
      n = this.#compress(pieces, skip, out);
    }
    return out.subarray(0, n);
  }
}

/** `compressFrame` as one buffer. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const { header, payload: body } = compressFrame(payload);
  return Buffer.concat([header, body]);
}

/** Builds a whole frame from a sample type, row count and CSV text (tests, tools, transfers). */
export function encodeBlock(type: SampleType, count: number, csv: Uint8Array): Buffer {
  const payload = new Uint8Array(WAL.blockHeaderBytes + csv.byteLength);
  writeBlockHeader(payload, type, count);
  payload.set(csv, WAL.blockHeaderBytes);
  return encodeFrame(payload);
}

export interface DecodedBlock {
  readonly type: number;
  readonly count: number;
  /** CSV bytes, header line included. */
  readonly csv: Buffer;
}

export class FormatError extends Error {
  readonly code = 'wal_format';
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** Decompresses (snappy, or S2 as adx-mon writes it) and parses one frame payload. */
export function decodePayload(compressed: Uint8Array): DecodedBlock {
  const raw = decompressBlock(compressed);
  if (raw.length < WAL.blockHeaderBytes) throw new FormatError(`block of ${raw.length} bytes is shorter than its header`);
  const magic = raw.readUInt16BE(0);
  if (magic !== WAL.blockMagic) throw new FormatError(`block magic 0x${magic.toString(16)} is not 0xaaaa`);
  const version = raw.readUInt8(2);
  if (version !== WAL.blockVersion) throw new FormatError(`block version ${version} is not supported`);
  return { type: raw.readUInt8(3), count: raw.readUInt32BE(4), csv: raw.subarray(WAL.blockHeaderBytes) };
}

export function hasSegmentHeader(bytes: Uint8Array): boolean {
  if (bytes.byteLength < WAL.headerBytes) return false;
  for (let i = 0; i < WAL.headerBytes; i++) if (bytes[i] !== SEGMENT_HEADER[i]) return false;
  return true;
}

export interface FrameScan {
  /** Offset just past the last frame whose length and CRC are good. */
  readonly goodEnd: number;
  /** Payload (compressed) views into the scanned buffer for every good frame, in order. */
  readonly payloads: Uint8Array[];
  /** Why scanning stopped before the end, with the offset of the first bad byte; undefined if clean. */
  readonly problem?: { readonly offset: number; readonly reason: string };
}

/**
 * Walks the frames of a whole segment image. Stops at the first frame that is torn (runs past
 * the end) or fails its CRC; everything before it is good. A bad segment header is reported at
 * offset 0 with no good frames.
 */
export function scanFrames(bytes: Uint8Array): FrameScan {
  const payloads: Uint8Array[] = [];
  if (!hasSegmentHeader(bytes)) {
    return { goodEnd: 0, payloads, problem: { offset: 0, reason: 'missing or bad ADXWAL header' } };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos: number = WAL.headerBytes;
  while (pos < bytes.byteLength) {
    if (bytes.byteLength - pos < WAL.frameHeaderBytes) {
      return { goodEnd: pos, payloads, problem: { offset: pos, reason: 'torn frame header' } };
    }
    const length = view.getUint32(pos);
    const crc = view.getUint32(pos + 4);
    const start = pos + WAL.frameHeaderBytes;
    if (length === 0 || length > WAL.maxFrameBytes || start + length > bytes.byteLength) {
      return { goodEnd: pos, payloads, problem: { offset: pos, reason: `torn frame (length ${length})` } };
    }
    const payload = bytes.subarray(start, start + length);
    if (crc32(payload) !== crc) {
      return { goodEnd: pos, payloads, problem: { offset: pos, reason: 'CRC mismatch' } };
    }
    payloads.push(payload);
    pos = start + length;
  }
  return { goodEnd: pos, payloads };
}
