// Request bodies decoded by the native snappy decoder into a reused buffer (BodyDecompressor,
// native/snappy-block.h `uncompress_block`) against the `snappy` package: the same bytes for every
// valid block, and the same verdict — refused as bad_snappy — for every corrupt one. Bodies come
// from the network, so the fuzzing here is the decoder's safety net.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import snappy from 'snappy';
import t from 'tap';
import { IngestError } from '../../src/errors.js';
import { BodyDecompressor } from '../../src/ingest/body-decompressor.js';
import { loadNativeHotPath } from '../../src/transform/native-hot-path.js';

const addon = loadNativeHotPath();

/** What the `snappy` package makes of `block`: its bytes, or undefined when it refuses it. */
function byPackage(block: Buffer): Buffer | undefined {
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch {
    return undefined;
  }
}

/** What a decompressor makes of `block`: a copy of its bytes, or the error code it throws. */
function byDecompressor(d: BodyDecompressor, block: Buffer): Buffer | string {
  try {
    return Buffer.from(d.decompress(block));
  } catch (e) {
    return e instanceof IngestError ? e.code : `not an IngestError: ${String(e)}`;
  }
}

const LIMIT = 8 << 20;

if (addon instanceof Error) {
  if (process.env.ADX_INGESTOR_TEST_WITHOUT_NATIVE === '1') t.pass('native addon not built and ADX_INGESTOR_TEST_WITHOUT_NATIVE=1');
  else t.fail(addon.message);
} else {
  const native = new BodyDecompressor(addon, LIMIT);

  t.test('valid blocks decode to the same bytes as the snappy package', (t) => {
    const text = fc.array(fc.constantFrom('__name__', 'job', 'a', 'b', '\n', '\u0000', 'node_cpu_seconds_total', '1.5', 'x'), { maxLength: 5000 }).map((xs) => Buffer.from(xs.join('')));
    const bytes = fc.uint8Array({ maxLength: 70_000 }).map((b) => Buffer.from(b));
    const runs = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 20_000 })).map(([u, n]) => Buffer.concat(Array.from({ length: n }, () => Buffer.from(u))));
    let runsChecked = 0;
    fc.assert(
      fc.property(fc.oneof(text, bytes, runs), (input) => {
        runsChecked++;
        const out = byDecompressor(native, snappy.compressSync(input));
        return Buffer.isBuffer(out) && out.equals(input);
      }),
      { numRuns: 300 },
    );
    t.equal(runsChecked, 300, 'every block read back byte for byte');
    // A big one (grows the reused buffer) then a small one (the view is cut to its length).
    const big = randomBytes(3 << 20);
    t.same(byDecompressor(native, snappy.compressSync(big)), big, '3 MiB');
    t.same(byDecompressor(native, snappy.compressSync(Buffer.from('abc'))), Buffer.from('abc'), 'then 3 bytes');
    t.same(byDecompressor(native, snappy.compressSync(Buffer.alloc(0))), Buffer.alloc(0), 'empty');
    t.end();
  });

  t.test('corrupt blocks are refused as the snappy package refuses them', (t) => {
    const valid = [Buffer.from('hello hello hello hello, world'), randomBytes(300), Buffer.alloc(5000, 'ab'), Buffer.from('x'.repeat(70) + 'y'.repeat(70))].map((b) => snappy.compressSync(b));
    // Mutations of valid blocks: a byte changed, cut short, bytes appended; and plain garbage.
    const mutated = fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'append')).map(([b, at, v, how]) => {
      const i = at % b.length;
      if (how === 'cut') return b.subarray(0, i);
      if (how === 'append') return Buffer.concat([b, Buffer.from([v])]);
      const c = Buffer.from(b);
      c[i] = v;
      return c;
    });
    const garbage = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b));
    let refused = 0;
    let agreed = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, garbage), (block) => {
        const theirs = byPackage(block);
        const ours = byDecompressor(native, block);
        agreed++;
        if (theirs === undefined) {
          refused++;
          return ours === 'bad_snappy' || ours === 'decompressed_too_large';
        }
        return Buffer.isBuffer(ours) && ours.equals(theirs);
      }),
      { numRuns: 3000 },
    );
    t.equal(agreed, 3000, 'the same verdict for every block');
    t.ok(refused > 1000, `${refused} of them refused by both`);
    t.end();
  });

  t.test('hand-made corrupt blocks', (t) => {
    const cases: [string, number[]][] = [
      ['no preamble', []],
      ['preamble of 6 bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
      ['copy before any output', [4, 0x01 | (0 << 2), 1]],
      ['copy with offset 0', [8, 0x00 | (3 << 2), 0x61, 0x62, 0x63, 0x64, 0x01, 0]],
      ['copy reaching before the start', [8, 0x00 | (3 << 2), 0x61, 0x62, 0x63, 0x64, 0x01, 5]],
      ['literal past the input', [4, 0x00 | (9 << 2), 0x61]],
      ['output over the declared length', [2, 0x00 | (3 << 2), 0x61, 0x62, 0x63, 0x64]],
      ['output under the declared length', [9, 0x00 | (3 << 2), 0x61, 0x62, 0x63, 0x64]],
      ['literal with a torn length', [100, 0x00 | (61 << 2), 0x10]],
      ['copy-4 torn', [8, 0x00 | (3 << 2), 0x61, 0x62, 0x63, 0x64, 0x03, 1, 0]],
    ];
    for (const [what, bytes] of cases) {
      const block = Buffer.from(bytes);
      t.equal(byPackage(block), undefined, `${what}: the package refuses it`);
      t.equal(byDecompressor(native, block), 'bad_snappy', `${what}: so do we`);
    }
    // Overlapping copies (offset < length) repeat a pattern, as LZ77 means.
    const pattern = Buffer.from([24, 0x00 | (1 << 2), 0x61, 0x62, 0x02 | (17 << 2), 2, 0, 0x01 | (0 << 2) | (0 << 5), 1]);
    t.same(byDecompressor(native, pattern), byPackage(pattern), 'overlapping copies');
    t.equal(byDecompressor(native, pattern).toString(), 'ababababababababababbbbb', 'abab…');
    t.end();
  });

  t.test('the limit comes first, from the preamble', (t) => {
    const d = new BodyDecompressor(addon, 1000);
    t.equal(byDecompressor(d, snappy.compressSync(Buffer.alloc(1001))), 'decompressed_too_large');
    t.same(byDecompressor(d, snappy.compressSync(Buffer.alloc(1000, 'q'))), Buffer.alloc(1000, 'q'), 'at the limit');
    t.end();
  });

  t.test('bad arguments throw TypeError', (t) => {
    t.throws(() => addon.uncompress('x' as unknown as Uint8Array, new Uint8Array(4)), TypeError);
    t.throws(() => addon.uncompress(new Uint8Array(4), undefined as unknown as Uint8Array), TypeError);
    t.end();
  });
}

t.test('without the addon the snappy package decodes, with the same errors', (t) => {
  const d = new BodyDecompressor(undefined, LIMIT);
  const input = Buffer.from('remote write '.repeat(100));
  t.same(byDecompressor(d, snappy.compressSync(input)), input);
  t.equal(byDecompressor(d, Buffer.from([9, 0x01, 1])), 'bad_snappy');
  t.equal(byDecompressor(d, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80])), 'bad_snappy', 'bad preamble');
  t.end();
});
