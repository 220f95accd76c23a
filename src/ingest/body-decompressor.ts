import snappy from 'snappy';
import { IngestError } from '../errors.js';
import { ReusedBuffer } from '../reused-buffer.js';
import type { NativeHotPath } from '../transform/native-hot-path.js';
import { blockDecodedLength } from '../wal/s2.js';

/**
 * Decompresses snappy request bodies after checking the declared size against the limit (the
 * main thread checks the preamble too, while the body arrives; this is the authoritative check).
 *
 * With the native addon a body is decoded into one buffer reused for every request: the result
 * is valid until the next call, which suits the decode task (it turns the bytes into rows before
 * it awaits anything). The `snappy` package would hand back a fresh buffer per request, and on
 * the development VM the page faults of that fresh memory cost ~10 % of a core at ~1 M
 * samples/s (`ReusedBuffer`). Without the addon, the package it is.
 */
export class BodyDecompressor {
  readonly #native: NativeHotPath | undefined;
  readonly #maxBytes: number;
  /** Kept up to 16 MiB; a bigger body gets a buffer of its own. */
  readonly #out = new ReusedBuffer(0, 16 << 20);

  constructor(native: NativeHotPath | undefined, maxBytes: number) {
    this.#native = native;
    this.#maxBytes = maxBytes;
  }

  /** The decompressed body: with the addon a view that the next call overwrites. */
  decompress(body: Buffer): Buffer {
    const head = blockDecodedLength(body);
    if (head === undefined) throw new IngestError('bad_snappy', 'body is not a snappy block (bad length preamble)');
    if (head.length > this.#maxBytes) {
      throw new IngestError('decompressed_too_large', `snappy body declares ${head.length} bytes, over the limit of ${this.#maxBytes}`);
    }
    if (this.#native === undefined) {
      try {
        return snappy.uncompressSync(body, { asBuffer: true, copyOutputData: true }) as Buffer;
      } catch (e) {
        throw new IngestError('bad_snappy', `body is not a valid snappy block: ${(e as Error).message}`);
      }
    }
    const out = this.#out.atLeast(head.length);
    const n = this.#native.uncompress(body, out);
    if (n < 0) throw new IngestError('bad_snappy', 'body is not a valid snappy block (corrupt, truncated, or not the length its preamble declares)');
    return out.subarray(0, n);
  }
}
