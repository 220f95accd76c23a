import t from 'tap';
import fc from 'fast-check';
import { IngestError } from '../../src/errors.js';
import { ProtoReader } from '../../src/prom/protobuf-reader.js';
import { bitsOf, hex, STALE_NAN_BITS } from '../fixtures/prom/helpers.js';

const reader = (s: string) => new ProtoReader(hex(s));

function throwsCode(t: Tapbase, fn: () => unknown, code: string, re = /at byte \d+/): void {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (e) {
    t.ok(e instanceof IngestError, 'an IngestError');
    t.equal((e as IngestError).code, code);
    t.match((e as Error).message, re);
  }
}
type Tapbase = Parameters<Parameters<typeof t.test>[1]>[0];

/** Reference varint encoding of an unsigned 64-bit BigInt. */
function varint(v: bigint): string {
  const out: number[] = [];
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out).toString('hex');
}

t.test('uint32 and uint64 varints', async (t) => {
  for (const v of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31, 2 ** 32 - 1]) {
    const r = reader(varint(BigInt(v)));
    t.equal(r.uint32(), v, `uint32 ${v}`);
    t.equal(r.pos, r.end);
  }
  for (const v of [0, 1, 2 ** 32, 2 ** 35 + 5, 1700000000000, Number.MAX_SAFE_INTEGER]) {
    const r = reader(varint(BigInt(v)));
    t.equal(r.uint64(), v, `uint64 ${v}`);
    t.equal(r.pos, r.end);
  }
  t.equal(reader(varint(2n ** 64n - 1n)).uint64(), 2 ** 64, 'beyond 2^53 rounds');
  // uint32 fields accept 64-bit varints and keep the low 32 bits (an int32 -1 takes 10 bytes).
  const r = reader('ffffffffffffffffff01' + '05');
  t.equal(r.uint32(), 0xffffffff);
  t.equal(r.uint32(), 5);
  // Non-canonical (padded) encodings are valid protobuf.
  t.equal(reader('8100').uint32(), 1);
  t.equal(reader('818080808000').uint64(), 1);
});

t.test('int64: two\'s complement negatives', async (t) => {
  const cases: [bigint, number][] = [
    [0n, 0], [1n, 1], [-1n, -1], [-5n, -5], [-1000n, -1000], [-1700000000000n, -1700000000000],
    [BigInt(Number.MIN_SAFE_INTEGER), Number.MIN_SAFE_INTEGER], [-(2n ** 63n), -(2 ** 63)],
    [2n ** 63n - 1n, 2 ** 63],
  ];
  for (const [v, want] of cases) {
    const bytes = varint(BigInt.asUintN(64, v));
    if (v < 0n) t.equal(bytes.length, 20, `${v} takes 10 bytes`);
    t.equal(reader(bytes).int64(), want, `int64 ${v}`);
  }
  fc.assert(fc.property(fc.maxSafeInteger(), (v) => reader(varint(BigInt.asUintN(64, BigInt(v)))).int64() === v));
});

t.test('sint64 and sint32 zigzag', async (t) => {
  const zz = (v: bigint) => varint(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)));
  t.equal(reader('00').sint64(), 0);
  t.equal(reader('01').sint64(), -1);
  t.equal(reader('02').sint64(), 1);
  t.equal(reader('03').sint64(), -2);
  t.equal(reader(zz(-(2n ** 63n))).sint64(), -(2 ** 63));
  fc.assert(fc.property(fc.maxSafeInteger(), (v) => reader(zz(BigInt(v))).sint64() === v));
  t.equal(reader('03').sint32(), -2);
  t.equal(reader('feffffff0f').sint32(), 2147483647);
  t.equal(reader('ffffffff0f').sint32(), -2147483648);
  t.equal(reader('a501').sint32(), -83);
});

t.test('double keeps every bit pattern, including NaN payloads and -0', async (t) => {
  const le = (bits: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(bits);
    return b.toString('hex');
  };
  for (const bits of [STALE_NAN_BITS, 0x7ff8000000000000n, 0x7ff8000000000001n, 0x8000000000000000n, 0x7ff0000000000000n, 0x3ff8000000000000n, 1n]) {
    const f = new Float64Array(1);
    f[0] = reader(le(bits)).double();
    t.equal(bitsOf(f[0]).toString(16), bits.toString(16), `bits ${bits.toString(16)}`);
  }
  t.equal(reader('000000000000f83f').double(), 1.5);
});

t.test('LEN, packed and skip', async (t) => {
  const r = reader('03 616263 ff');
  t.equal(r.len(), 3);
  t.equal(r.pos, 1);
  const doubles: number[] = [];
  reader('10 000000000000f03f 0000000000000040').packedDouble(doubles);
  t.same(doubles, [1, 2]);
  const deltas: number[] = [];
  reader('04 01 02 03 04').packedSint64(deltas);
  t.same(deltas, [-1, 1, -2, 2]);
  // One field of each supported wire type, then a varint field.
  const s = reader('08 96 01   11 0102030405060708   1a 02 aabb   25 01020304   28 07');
  for (const at of [3, 12, 16, 21]) {
    s.skip(s.tag());
    t.equal(s.pos, at);
  }
  t.equal(s.tag(), 0x28);
  t.equal(s.uint32(), 7);
});

t.test('every bound violation is bad_protobuf with a byte offset', async (t) => {
  throwsCode(t, () => reader('').uint32(), 'bad_protobuf');
  throwsCode(t, () => reader('80').uint32(), 'bad_protobuf');
  throwsCode(t, () => reader('ffffffff').uint32(), 'bad_protobuf');
  throwsCode(t, () => reader('ffffffffff').uint32(), 'bad_protobuf');
  throwsCode(t, () => reader('80808080808080808080').uint64(), 'bad_protobuf', /truncated|longer/);
  throwsCode(t, () => reader('ffffffffffffffffffff01').int64(), 'bad_protobuf', /longer than 10 bytes/);
  throwsCode(t, () => reader('ffffffffffffffffffff01').uint32(), 'bad_protobuf', /longer than 10 bytes/);
  throwsCode(t, () => reader('ff').int64(), 'bad_protobuf', /truncated/);
  throwsCode(t, () => reader('0000000000f03f').double(), 'bad_protobuf', /truncated double/);
  throwsCode(t, () => reader('05 6162').len(), 'bad_protobuf', /past end/);
  throwsCode(t, () => reader('ffffffff0f').len(), 'bad_protobuf', /past end/);
  throwsCode(t, () => reader('00').tag(), 'bad_protobuf', /field number 0/);
  const skipField = (s: string) => () => {
    const r = reader(s);
    r.skip(r.tag());
  };
  throwsCode(t, skipField('09 000000'), 'bad_protobuf', /truncated 8-byte/);
  throwsCode(t, skipField('0d 0000'), 'bad_protobuf', /truncated 4-byte/);
  throwsCode(t, skipField('0a 05 00'), 'bad_protobuf', /past end/);
  throwsCode(t, skipField('08 80'), 'bad_protobuf', /truncated varint/);
  for (const wt of [3, 4, 6, 7]) throwsCode(t, () => reader('00').skip((1 << 3) | wt), 'bad_protobuf', /wire type/);
  throwsCode(t, () => reader('07 00000000000000').packedDouble([]), 'bad_protobuf', /packed doubles/);
  throwsCode(t, () => reader('02 0180').packedSint64([]), 'bad_protobuf', /truncated/);
});

t.test('end limits reads to the current message', async (t) => {
  // A nested message of 2 bytes whose varint claims a third byte that exists in the buffer.
  const r = reader('02 0880 01');
  const len = r.len();
  r.end = r.pos + len;
  r.tag();
  throwsCode(t, () => r.uint32(), 'bad_protobuf', /truncated/);
  const d = reader('09 0000000000000000');
  d.tag();
  d.end = 5;
  throwsCode(t, () => d.double(), 'bad_protobuf');
});

t.test('random bytes: only IngestError, always progress', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = new ProtoReader(bytes);
      try {
        while (r.pos < r.end) {
          const before = r.pos;
          r.skip(r.tag());
          if (r.pos <= before) throw new Error('no progress');
        }
      } catch (e) {
        if (!(e instanceof IngestError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
