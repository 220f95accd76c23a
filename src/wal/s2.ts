/**
 * Block decompression for WAL payloads. We write plain snappy blocks; adx-mon writes S2 blocks
 * (`s2.EncodeBetter`), a superset of snappy that adds "repeat last offset" copies. Snappy blocks
 * go to the native `snappy` package; when it refuses a block, the S2 decoder below is tried.
 *
 * S2 block = snappy block format plus one change: a copy-1 element (tag low bits 01) whose 11-bit
 * offset is 0 repeats the previous offset, and its 3-bit length field then means:
 *   0..4 → length 4..8; 5 → 1 extra byte  L, length L + 8;
 *   6 → 2 extra bytes L (LE), length L + 260; 7 → 3 extra bytes L (LE), length L + 65540.
 */
import snappy from 'snappy';
import { FormatError } from './format.js';

export function decompressBlock(compressed: Uint8Array): Buffer {
  const input = Buffer.isBuffer(compressed) ? compressed : Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength);
  try {
    return snappy.uncompressSync(input, { asBuffer: true, copyOutputData: true }) as Buffer;
  } catch {
    return decodeS2Block(input);
  }
}

/** Reads the uncompressed length varint at the start of a snappy/S2 block; undefined if torn. */
export function blockDecodedLength(src: Uint8Array): { length: number; headerBytes: number } | undefined {
  let result = 0;
  for (let i = 0, shift = 0; i < 5 && i < src.length; i++, shift += 7) {
    const b = src[i]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { length: result, headerBytes: i + 1 };
  }
  return undefined;
}

export function decodeS2Block(src: Uint8Array): Buffer {
  const head = blockDecodedLength(src);
  if (!head || head.length > 1 << 30) throw new FormatError('block has a bad length preamble');
  const dst = Buffer.allocUnsafe(head.length);
  let d = 0;
  let s = head.headerBytes;
  let offset = 0;
  while (s < src.length) {
    const tag = src[s]!;
    let length: number;
    switch (tag & 3) {
      case 0: {
        length = tag >> 2;
        s++;
        if (length >= 60) {
          const n = length - 59;
          if (s + n > src.length) throw new FormatError('torn literal length');
          length = 0;
          for (let i = 0; i < n; i++) length += src[s + i]! * 2 ** (8 * i);
          s += n;
        }
        length += 1;
        if (s + length > src.length || d + length > dst.length) throw new FormatError('literal runs past the block');
        dst.set(src.subarray(s, s + length), d);
        d += length;
        s += length;
        continue;
      }
      case 1: {
        if (s + 2 > src.length) throw new FormatError('torn copy-1');
        const toffset = ((tag & 0xe0) << 3) | src[s + 1]!;
        length = (tag >> 2) & 7;
        s += 2;
        if (toffset === 0) {
          if (length === 5) {
            length = src[s]! + 4;
            s += 1;
          } else if (length === 6) {
            length = (src[s]! | (src[s + 1]! << 8)) + (1 << 8);
            s += 2;
          } else if (length === 7) {
            length = (src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16)) + (1 << 16);
            s += 3;
          }
          if (s > src.length) throw new FormatError('torn repeat');
        } else {
          offset = toffset;
        }
        length += 4;
        break;
      }
      case 2:
        if (s + 3 > src.length) throw new FormatError('torn copy-2');
        length = 1 + (tag >> 2);
        offset = src[s + 1]! | (src[s + 2]! << 8);
        s += 3;
        break;
      default:
        if (s + 5 > src.length) throw new FormatError('torn copy-4');
        length = 1 + (tag >> 2);
        offset = (src[s + 1]! | (src[s + 2]! << 8) | (src[s + 3]! << 16)) + src[s + 4]! * 2 ** 24;
        s += 5;
        break;
    }
    if (offset === 0 || offset > d || d + length > dst.length) throw new FormatError('copy out of range');
    // Copies may overlap their own output (offset < length), so copy byte by byte.
    for (let i = 0; i < length; i++, d++) dst[d] = dst[d - offset]!;
  }
  if (d !== dst.length) throw new FormatError(`block decoded to ${d} bytes, preamble said ${dst.length}`);
  return dst;
}
