/**
 * UTF-8 string decoding of byte ranges for the protobuf decoders, with interning.
 *
 * Label names and values repeat heavily, within a request (1.0 sends `__name__`, `job`,
 * `instance` on every series) and across requests (every scrape resends the same series).
 * `decodeUtf8` therefore interns short strings in a `ByteKeyCache`: a hit costs one hash and one
 * byte comparison and returns the identical JS string, which also lets later Map lookups reuse
 * the string's cached hash. A miss decodes with `latin1Slice` when every byte is ASCII (one native
 * call, a flat one-byte string) and with a fatal `TextDecoder` otherwise.
 * `perf/micro/utf8-decode.bench.ts` measures the alternatives.
 *
 * Invariants:
 * - A cache slot maps one exact byte string to its value; a slot is overwritten whole (key bytes,
 *   length, value) on a miss, so a hit can never return a value for other bytes.
 * - Only valid UTF-8 is ever cached; invalid bytes throw `invalid_utf8` on every call.
 * - Caches are module state, one per thread (worker), bounded to `slots * maxBytes` key bytes plus
 *   the values they hold. Decoding is synchronous, so no call observes another's half-filled slot.
 */
import { IngestError } from '../errors.js';

/**
 * A two-way set-associative cache keyed by byte strings of at most `maxBytes`, with LRU
 * replacement within each set. It only finds slots; callers keep the values in their own arrays
 * indexed by slot (no per-entry objects).
 */
export class ByteKeyCache {
  readonly slots: number;
  readonly maxBytes: number;
  readonly #keys: Uint8Array;
  readonly #lengths: Int32Array;
  /** Per set (slot >> 1): the way (0 or 1) used most recently. */
  readonly #recent: Uint8Array;

  /** `slots` must be a power of two, at least 2. */
  constructor(slots: number, maxBytes: number) {
    this.slots = slots;
    this.maxBytes = maxBytes;
    this.#keys = new Uint8Array(slots * maxBytes);
    this.#lengths = new Int32Array(slots).fill(-1);
    this.#recent = new Uint8Array(slots >> 1);
  }

  /**
   * The slot for `buf[start, end)` (length at most `maxBytes`): `slot >= 0` if it holds exactly
   * these bytes, else `~slot` (negative), the slot to `fill` once the value is computed.
   */
  find(buf: Uint8Array, start: number, end: number): number {
    const n = end - start;
    // FNV-1a, four bytes per step.
    let h = 0x811c9dc5 ^ n;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      h = Math.imul(h ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)), 0x01000193);
    }
    for (; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const set = (h ^ (h >>> 15)) & ((this.slots >> 1) - 1);
    const first = set << 1;
    if (this.#matches(first, buf, start, end)) {
      this.#recent[set] = 0;
      return first;
    }
    if (this.#matches(first + 1, buf, start, end)) {
      this.#recent[set] = 1;
      return first + 1;
    }
    return ~(first + 1 - this.#recent[set]!);
  }

  #matches(slot: number, buf: Uint8Array, start: number, end: number): boolean {
    if (this.#lengths[slot] !== end - start) return false;
    const keys = this.#keys;
    const base = slot * this.maxBytes - start;
    for (let j = start; j < end; j++) if (keys[base + j] !== buf[j]) return false;
    return true;
  }

  /** Records `buf[start, end)` as the key of `slot`; the caller stores the value. */
  fill(slot: number, buf: Uint8Array, start: number, end: number): void {
    const keys = this.#keys;
    const base = slot * this.maxBytes - start;
    for (let j = start; j < end; j++) keys[base + j] = buf[j]!;
    this.#lengths[slot] = end - start;
    this.#recent[slot >> 1] = slot & 1;
  }
}

/** Sized for a few thousand distinct hot label strings; longer strings seldom repeat. */
const strings = new ByteKeyCache(8192, 64);
const stringValues: string[] = new Array<string>(strings.slots).fill('');

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
  if (n > strings.maxBytes) return decodeUncached(buf, start, end);
  if (n <= 0) return '';
  const found = strings.find(buf, start, end);
  if (found >= 0) return stringValues[found]!;
  const s = decodeUncached(buf, start, end);
  strings.fill(~found, buf, start, end);
  stringValues[~found] = s;
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
