/**
 * Byte-level writers for the metrics CSV: the same text as `csv-format.ts` (which stays the
 * reference), written straight into buffers so the hot path makes no JS string per label or row.
 * `test/transform/metrics-csv-writer.test.ts` checks both agree byte for byte.
 *
 * Lifetime: `ByteOut.buf` may be replaced when it grows; hold the `ByteOut`, never its `buf`.
 */
import { isUtf8 } from 'node:buffer';
import { IngestError } from '../errors.js';
import { formatValue } from './csv-format.js';

/** A growable byte buffer written at `len`. */
export class ByteOut {
  buf: Buffer;
  len = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /**
   * Copies `src[start, end)`: a plain loop for a few bytes, a native copy beyond (JS byte loops
   * cost ~3 ns/byte on this kind of machine, a `set` of a view ~50–100 ns).
   */
  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(n);
    const buf = this.buf;
    let o = this.len;
    if (n <= 16) {
      for (let i = start; i < end; i++) buf[o++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), o);
      o += n;
    }
    this.len = o;
  }

  /** ASCII text such as digits, one char code per byte (no encoder call for short strings). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const buf = this.buf;
    let o = this.len;
    for (let i = 0; i < n; i++) buf[o++] = s.charCodeAt(i);
    this.len = o;
  }
}

/**
 * Recycles `ByteOut`s between requests in one worker thread: a table's rows are built in one,
 * handed to the WAL writer, and come back once the block is written. Bounded in count and in the
 * size of what it keeps.
 */
export class ByteOutPool {
  readonly #free: ByteOut[] = [];
  #keptBytes = 0;
  /** Buffers larger than this are left to the GC. */
  static readonly maxBufferBytes = 1 << 20;
  /** At most this much memory waits in the pool. */
  static readonly maxKeptBytes = 32 << 20;

  acquire(): ByteOut {
    const out = this.#free.pop();
    if (out === undefined) return new ByteOut();
    this.#keptBytes -= out.buf.length;
    out.len = 0;
    return out;
  }

  release(out: ByteOut): void {
    const size = out.buf.length;
    if (size > ByteOutPool.maxBufferBytes || this.#keptBytes + size > ByteOutPool.maxKeptBytes) return;
    this.#keptBytes += size;
    this.#free.push(out);
  }
}

const Q = 0x22; // "
const BACKSLASH = 0x5c;
const HEX = '0123456789abcdef';

/** Throws `invalid_utf8` unless `src[start, end)` is valid UTF-8 (cheap when it is ASCII). */
export function checkUtf8(src: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    if (src[i]! >= 0x80) {
      if (!isUtf8(src.subarray(start, end))) throw new IngestError('invalid_utf8', 'a label is not valid UTF-8');
      return;
    }
  }
}

/**
 * Writes `src[start, end)` as the inside of a JSON string (Go encoding/json escaping) that itself
 * sits inside a quoted CSV field, so every `"` is doubled: `a"b` → `a\""b`. Validates UTF-8.
 */
export function writeJsonInCsv(out: ByteOut, src: Uint8Array, start: number, end: number): void {
  out.reserve((end - start) * 6);
  const buf = out.buf;
  let o = out.len;
  let nonAscii = false;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b >= 0x20 && b !== Q && b !== BACKSLASH && b !== 0x3c && b !== 0x3e && b !== 0x26) {
      if (b >= 0x80) {
        nonAscii = true;
        // U+2028 / U+2029 (E2 80 A8 / E2 80 A9) are escaped as \u2028 / \u2029.
        if (b === 0xe2 && i + 2 < end && src[i + 1] === 0x80 && (src[i + 2] === 0xa8 || src[i + 2] === 0xa9)) {
          o += buf.write(src[i + 2] === 0xa8 ? '\\u2028' : '\\u2029', o, 'latin1');
          i += 2;
          continue;
        }
      }
      buf[o++] = b;
    } else if (b === Q) {
      buf[o++] = BACKSLASH;
      buf[o++] = Q;
      buf[o++] = Q;
    } else if (b === BACKSLASH) {
      buf[o++] = BACKSLASH;
      buf[o++] = BACKSLASH;
    } else if (b === 0x0a) o += buf.write('\\n', o, 'latin1');
    else if (b === 0x0d) o += buf.write('\\r', o, 'latin1');
    else if (b === 0x09) o += buf.write('\\t', o, 'latin1');
    else o += buf.write(`\\u00${HEX[b >> 4]}${HEX[b & 15]}`, o, 'latin1');
  }
  if (nonAscii) checkUtf8(src, start, end);
  out.len = o;
}

/** A CSV field as `csvField` writes it: quoted when it holds `"`, `,`, CR, LF or starts with a space or tab. */
export function writeCsvField(out: ByteOut, src: Uint8Array, start: number, end: number): void {
  let quote = start < end && (src[start] === 0x20 || src[start] === 0x09);
  for (let i = start; i < end && !quote; i++) {
    const b = src[i]!;
    quote = b === Q || b === 0x2c || b === 0x0a || b === 0x0d;
  }
  checkUtf8(src, start, end);
  if (!quote) return out.bytes(src, start, end);
  out.reserve((end - start) * 2 + 2);
  const buf = out.buf;
  let o = out.len;
  buf[o++] = Q;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    buf[o++] = b;
    if (b === Q) buf[o++] = Q;
  }
  buf[o++] = Q;
  out.len = o;
}

let cachedSecond = NaN;
const secondText = Buffer.alloc(19);
const secondBytes = new Uint8Array(secondText.buffer, secondText.byteOffset, 19);
const MAX_ABS_MS = 8.64e15;

/** RFC 3339 with trailing fraction zeros trimmed, as `formatTimestamp`. The caller checks the range. */
export function writeTimestamp(out: ByteOut, ms: number): void {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    secondText.write(new Date(second * 1000).toISOString(), 0, 19, 'latin1');
    cachedSecond = second;
  }
  out.reserve(24);
  const buf = out.buf;
  let o = out.len;
  buf.set(secondBytes, o);
  o += 19;
  let frac = ms - second * 1000;
  if (frac !== 0) {
    buf[o++] = 0x2e; // .
    let digits = 3;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    for (let d = digits - 1; d >= 0; d--) {
      buf[o + d] = 0x30 + (frac % 10);
      frac = Math.floor(frac / 10);
    }
    o += digits;
  }
  buf[o++] = 0x5a; // Z
  out.len = o;
}

export function timestampInRange(ms: number): boolean {
  return Math.abs(ms) <= MAX_ABS_MS && Number.isInteger(ms);
}

/**
 * Below this, when the float product K = v * 1e9 is an integer, the exact product lies within
 * ulp(K)/2 ≤ 1/4 of K, so rounding it (what toFixed(9) does) gives K.
 */
const FAST_SCALED_MAX = 2 ** 51;
const NINE_ZEROS = Uint8Array.from(Buffer.from('.000000000', 'latin1'));

/**
 * Go `'f', 9` as `formatValue`. When `v * 1e9` is an integer below 2^51 (integers, and decimals
 * with at most 9 places such as 0.25 or 12.5), the digits are written directly; toFixed otherwise.
 */
export function writeValue(out: ByteOut, v: number): void {
  const scaled = v * 1e9;
  if (Number.isInteger(scaled) && Math.abs(scaled) < FAST_SCALED_MAX && !(v === 0 && 1 / v < 0)) {
    const abs = Math.abs(scaled);
    const int = Math.floor(abs / 1e9);
    let frac = abs - int * 1e9;
    out.reserve(32);
    if (scaled < 0) out.buf[out.len++] = 0x2d; // -
    out.ascii(String(int));
    const buf = out.buf;
    const o = out.len;
    if (frac === 0) buf.set(NINE_ZEROS, o); // counters: the common case
    else {
      buf[o] = 0x2e; // .
      for (let d = 9; d >= 1; d--) {
        buf[o + d] = 0x30 + (frac % 10);
        frac = Math.floor(frac / 10);
      }
    }
    out.len = o + 10;
  } else out.ascii(formatValue(v));
}
