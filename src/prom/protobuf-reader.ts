/**
 * Protobuf wire-format primitives for the hand-written remote-write decoders.
 *
 *   message := (tag value)*            tag   := varint(fieldNumber << 3 | wireType)
 *   wire 0  VARINT  1..10 bytes, 7 bits each, little-endian groups, high bit = "more"
 *   wire 1  I64     8 bytes little-endian (double, fixed64, sfixed64)
 *   wire 2  LEN     varint length, then that many bytes (string, bytes, message, packed)
 *   wire 3/4        SGROUP/EGROUP: deprecated groups, rejected here
 *   wire 5  I32     4 bytes little-endian (float, fixed32, sfixed32)
 *
 * The reader never reads past `end`, the end of the message being decoded. A decoder entering a
 * nested message saves `end`, sets it to the nested message's end and restores it afterwards, so a
 * field that claims to reach past its enclosing message is `bad_protobuf`, as is any truncation.
 *
 * 64-bit integers come back as JS numbers: exact up to 2^53 in magnitude, rounded beyond.
 *
 * Lifetime: a reader borrows `buf`; the caller must not mutate it while decoding. A reader is
 * single-use state for one decode call (not shared between calls, not reentrant).
 */
import { IngestError } from '../errors.js';

export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

/** Largest number of bytes of a varint (a 64-bit value). */
const MAX_VARINT_BYTES = 10;
const TWO_POW_32 = 4294967296;

export class ProtoReader {
  readonly buf: Uint8Array;
  /** Next byte to read. */
  pos: number;
  /** End (exclusive) of the message being decoded; never beyond `buf.length`. */
  end: number;
  readonly #view: DataView;
  /** Low and high 32 bits of the last 64-bit varint (see `#varint64`). Unsigned. */
  #lo = 0;
  #hi = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Reads a field tag. Field number 0 is invalid. */
  tag(): number {
    const tag = this.uint32();
    if (tag >>> 3 === 0) throw badProtobuf('field number 0', this.pos - 1);
    return tag;
  }

  /**
   * Reads a varint as an unsigned 32-bit value (uint32, enum, tag, length). Longer varints are
   * accepted and truncated to their low 32 bits, as protobuf requires for uint32 fields.
   */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos < this.end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    if (this.end - pos >= 5) {
      // Fast path: the whole 32-bit part is in bounds.
      let b = buf[pos++]!;
      let v = b & 0x7f;
      b = buf[pos++]!;
      v |= (b & 0x7f) << 7;
      if (b < 0x80) return this.#done32(pos, v);
      b = buf[pos++]!;
      v |= (b & 0x7f) << 14;
      if (b < 0x80) return this.#done32(pos, v);
      b = buf[pos++]!;
      v |= (b & 0x7f) << 21;
      if (b < 0x80) return this.#done32(pos, v);
      b = buf[pos++]!;
      v |= b << 28;
      if (b < 0x80) return this.#done32(pos, v >>> 0);
      this.pos = pos;
      this.#skipVarintTail(5);
      return v >>> 0;
    }
    this.#varint64();
    return this.#lo;
  }

  #done32(pos: number, v: number): number {
    this.pos = pos;
    return v;
  }

  /** Reads a uint64 varint as a number (exact up to 2^53). */
  uint64(): number {
    const buf = this.buf;
    const pos = this.pos;
    if (pos < this.end && buf[pos]! < 0x80) {
      this.pos = pos + 1;
      return buf[pos]!;
    }
    this.#varint64();
    return this.#hi * TWO_POW_32 + this.#lo;
  }

  /** Reads an int64 varint (two's complement, negative values take 10 bytes) as a number. */
  int64(): number {
    this.#varint64();
    return toSigned(this.#lo, this.#hi);
  }

  /** Reads a zigzag-encoded sint64 varint as a number. */
  sint64(): number {
    this.#varint64();
    const lo = this.#lo;
    const hi = this.#hi;
    const mask = -(lo & 1);
    return toSigned((((lo >>> 1) | (hi << 31)) ^ mask) >>> 0, ((hi >>> 1) ^ mask) >>> 0);
  }

  /** Reads a zigzag-encoded sint32 varint. */
  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  /** Reads a little-endian IEEE 754 double. NaN payloads are passed through as V8 keeps them. */
  double(): number {
    const pos = this.pos;
    if (this.end - pos < 8) throw badProtobuf('truncated double', pos);
    this.pos = pos + 8;
    return this.#view.getFloat64(pos, true);
  }

  /**
   * Reads the length prefix of a LEN field and checks that the payload fits in the current
   * message. Returns the payload length; `pos` is left at the payload's first byte.
   */
  len(): number {
    const at = this.pos;
    const n = this.uint32();
    if (n > this.end - this.pos) throw badProtobuf(`length ${n} past end of message`, at);
    return n;
  }

  /** Reads a packed `repeated double` payload (length prefix included), appending to `out`. */
  packedDouble(out: number[]): void {
    const n = this.len();
    if (n % 8 !== 0) throw badProtobuf(`packed doubles of ${n} bytes`, this.pos);
    const view = this.#view;
    const end = this.pos + n;
    for (let pos = this.pos; pos < end; pos += 8) out.push(view.getFloat64(pos, true));
    this.pos = end;
  }

  /** Reads a packed `repeated sint64` payload (length prefix included), appending to `out`. */
  packedSint64(out: number[]): void {
    const n = this.len();
    const outer = this.end;
    this.end = this.pos + n;
    while (this.pos < this.end) out.push(this.sint64());
    this.end = outer;
  }

  /** Skips the value of a field with the given tag. Groups and wire types 6/7 are rejected. */
  skip(tag: number): void {
    switch (tag & 7) {
      case WireType.VARINT:
        this.#skipVarintTail(0);
        return;
      case WireType.I64:
        this.#skipBytes(8);
        return;
      case WireType.LEN: {
        const n = this.len(); // (not `this.pos += this.len()`: that reads pos before len() moves it)
        this.pos += n;
        return;
      }
      case WireType.I32:
        this.#skipBytes(4);
        return;
      default:
        throw badProtobuf(`unsupported wire type ${tag & 7} (field ${tag >>> 3})`, this.pos - 1);
    }
  }

  #skipBytes(n: number): void {
    if (this.end - this.pos < n) throw badProtobuf(`truncated ${n}-byte field`, this.pos);
    this.pos += n;
  }

  /** Skips the rest of a varint of which `done` bytes were already consumed. */
  #skipVarintTail(done: number): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    for (let i = done; i < MAX_VARINT_BYTES; i++) {
      if (pos >= end) throw badProtobuf('truncated varint', pos);
      if (buf[pos++]! < 0x80) {
        this.pos = pos;
        return;
      }
    }
    throw badProtobuf('varint longer than 10 bytes', pos);
  }

  /** Reads a varint of up to 10 bytes into `#lo`/`#hi` (unsigned 32-bit halves). */
  #varint64(): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    // Bytes 0..3 carry bits 0..27.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw badProtobuf('truncated varint', pos);
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.#lo = lo >>> 0;
        this.#hi = 0;
        return;
      }
    }
    // Byte 4 carries bits 28..34: four into lo, three into hi.
    if (pos >= end) throw badProtobuf('truncated varint', pos);
    b = buf[pos++]!;
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >>> 4;
    if (b >= 0x80) {
      // Bytes 5..9 carry bits 35..63.
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw badProtobuf('varint longer than 10 bytes', pos);
        if (pos >= end) throw badProtobuf('truncated varint', pos);
        b = buf[pos++]!;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
  }
}

/** Two's complement (lo, hi) unsigned halves to a signed number. */
function toSigned(lo: number, hi: number): number {
  if (hi < 0x80000000) return hi * TWO_POW_32 + lo;
  return -((~hi >>> 0) * TWO_POW_32 + (~lo >>> 0) + 1);
}

export function badProtobuf(what: string, offset: number): IngestError {
  return new IngestError('bad_protobuf', `bad protobuf at byte ${offset}: ${what}`);
}
