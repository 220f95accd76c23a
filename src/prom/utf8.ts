/**
 * UTF-8 string decoding of byte ranges for the protobuf decoders.
 *
 * Label names and values repeat heavily, within a request (v1 sends `__name__`, `job`, `instance`
 * on every series) and across requests (every scrape resends the same series). `decodeUtf8`
 * therefore interns short strings in a direct-mapped cache keyed by their bytes: a hit costs one
 * hash and one byte comparison and returns the identical JS string, which also lets later Map
 * lookups reuse the string's cached hash. A miss decodes with `latin1Slice` when every byte is
 * ASCII (one native call, flat one-byte string) and with a fatal `TextDecoder` otherwise.
 * `perf/micro/utf8-decode.bench.ts` measures the alternatives.
 *
 * Invariants:
 * - The cache maps exact byte strings to the string they decode to; a slot is overwritten whole
 *   (bytes, length, string) on a miss, so a hit can never return a string for other bytes.
 * - Only valid UTF-8 is ever cached; invalid bytes throw `invalid_utf8` on every call.
 * - The cache is module state, one per thread (worker), bounded to `CACHE.slots * CACHE.maxBytes`
 *   bytes plus the strings it holds. Decoding is synchronous, so no call observes another's
 *   half-written slot.
 */
import { IngestError } from '../errors.js';

const CACHE = {
  /** Number of slots; a power of two. Sized for a few thousand distinct hot label strings. */
  slots: 8192,
  /** Longest byte string that is cached; longer strings are rare and seldom repeat. */
  maxBytes: 64,
} as const;

const SLOT_MASK = CACHE.slots - 1;
const slotBytes = new Uint8Array(CACHE.slots * CACHE.maxBytes);
const slotLength = new Int32Array(CACHE.slots).fill(-1);
const slotString: string[] = new Array<string>(CACHE.slots).fill('');

/** `ignoreBOM` keeps a leading U+FEFF in the string instead of silently dropping it. */
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const latin1Slice = (Buffer.prototype as unknown as {
  latin1Slice(this: Uint8Array, start: number, end: number): string;
}).latin1Slice;

/**
 * Decodes `buf[start, end)` as UTF-8 (strict: invalid sequences, overlongs and surrogates throw
 * `IngestError('invalid_utf8')`). The result may be a shared, interned instance.
 */
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > CACHE.maxBytes) return decodeUncached(buf, start, end);
  if (n <= 0) return '';
  // FNV-1a over the bytes; `or` collects the high bits to detect non-ASCII.
  let h = 0x811c9dc5 ^ n;
  let or = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    or |= b;
    h = Math.imul(h ^ b, 0x01000193);
  }
  const slot = (h ^ (h >>> 13)) & SLOT_MASK;
  const base = slot * CACHE.maxBytes;
  if (slotLength[slot] === n) {
    let i = 0;
    while (i < n && slotBytes[base + i] === buf[start + i]) i++;
    if (i === n) return slotString[slot]!;
  }
  const s = or < 0x80 ? latin1Slice.call(buf, start, end) : decodeFatal(buf, start, end);
  for (let i = 0; i < n; i++) slotBytes[base + i] = buf[start + i]!;
  slotLength[slot] = n;
  slotString[slot] = s;
  return s;
}

/** Decodes without the cache: ASCII via `latin1Slice`, anything else via the fatal decoder. */
export function decodeUncached(buf: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return decodeFatal(buf, start, end);
  }
  return latin1Slice.call(buf, start, end);
}

function decodeFatal(buf: Uint8Array, start: number, end: number): string {
  try {
    return fatalDecoder.decode(buf.subarray(start, end));
  } catch (cause) {
    throw new IngestError('invalid_utf8', `invalid UTF-8 in string at bytes ${start}..${end}`, { cause });
  }
}
