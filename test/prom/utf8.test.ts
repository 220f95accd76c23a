import t from 'tap';
import fc from 'fast-check';
import { IngestError } from '../../src/errors.js';
import { ByteKeyCache, decodeUncached, decodeUtf8 } from '../../src/prom/utf8.js';
import { codeOf, hex } from '../fixtures/prom/helpers.js';

const reference = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** decodeUtf8 over a copy placed at an offset, so ranges not starting at 0 are exercised. */
function decodeAt(bytes: Uint8Array, offset = 3): string {
  const buf = new Uint8Array(bytes.length + offset + 2).fill(0xff);
  buf.set(bytes, offset);
  return decodeUtf8(buf, offset, offset + bytes.length);
}

t.test('decodes ASCII, multi-byte UTF-8 and keeps a BOM', async (t) => {
  for (const s of ['', 'a', '__name__', 'värde', '名前', '🎉x', '\u{feff}bom', 'x'.repeat(64), 'é'.repeat(40), 'y'.repeat(1000)]) {
    const bytes = new TextEncoder().encode(s);
    t.equal(decodeAt(bytes), s, JSON.stringify(s).slice(0, 20));
    t.equal(decodeAt(bytes), s, 'again, from the cache');
    t.equal(decodeUncached(bytes, 0, bytes.length), s);
  }
});

t.test('invalid UTF-8 is invalid_utf8, cached or not', async (t) => {
  for (const bad of ['ff', 'c0af', 'eda080', 'e282', 'f4908080', '80', 'f8888080 80']) {
    const bytes = hex(bad);
    t.equal(codeOf(() => decodeAt(bytes)), 'invalid_utf8', bad);
    t.equal(codeOf(() => decodeAt(bytes)), 'invalid_utf8', `${bad} again`);
    const long = Uint8Array.from([...new Uint8Array(100).fill(0x61), ...bytes]);
    t.equal(codeOf(() => decodeAt(long)), 'invalid_utf8', `${bad} in a long string`);
  }
});

t.test('property: same result as a fatal TextDecoder, through cache hits and evictions', async () => {
  // A small alphabet makes repeats (cache hits) and near-collisions frequent.
  const bytes = fc.uint8Array({ maxLength: 80 }).map((b) => b.map((x) => [0x61, 0x62, 0xc3, 0xa9, 0xff, 0x80, x][x % 7]!));
  fc.assert(
    fc.property(fc.array(bytes, { minLength: 1, maxLength: 50 }), (list) => {
      for (const b of [...list, ...list]) {
        let want: string | undefined;
        try {
          want = reference.decode(b);
        } catch {
          want = undefined;
        }
        let got: string | undefined;
        try {
          got = decodeAt(b, b.length % 5);
        } catch (e) {
          if (!(e instanceof IngestError) || e.code !== 'invalid_utf8') throw e;
          got = undefined;
        }
        if (got !== want) throw new Error(`${Buffer.from(b).toString('hex')}: ${got} !== ${want}`);
      }
    }),
    { numRuns: 500 },
  );
});

t.test('ByteKeyCache: a found slot always holds exactly the key (tiny cache, heavy eviction)', async () => {
  const key = fc.uint8Array({ maxLength: 6 }).map((b) => b.map((x) => x & 3));
  fc.assert(
    fc.property(fc.array(key, { minLength: 1, maxLength: 200 }), (keys) => {
      const cache = new ByteKeyCache(4, 6);
      const held: (string | undefined)[] = [];
      for (const k of keys) {
        const id = Buffer.from(k).toString('hex');
        const slot = cache.find(k, 0, k.length);
        if (slot >= 0) {
          if (held[slot] !== id) throw new Error(`slot ${slot} holds ${held[slot]}, found for ${id}`);
        } else {
          if (~slot < 0 || ~slot >= 4) throw new Error(`bad victim ${~slot}`);
          if (held.includes(id)) throw new Error(`${id} is cached but was not found`);
          cache.fill(~slot, k, 0, k.length);
          held[~slot] = id;
        }
      }
    }),
    { numRuns: 500 },
  );
});
