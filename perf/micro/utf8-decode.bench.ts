// Run: node --import tsx perf/micro/utf8-decode.bench.ts   (or build, then node dist/perf/micro/utf8-decode.bench.js)
//
// ns per decoded label string (median of 5 interleaved runs) for the alternatives considered for
// src/prom/utf8.ts. The workload is label names and values as a remote-write request carries
// them: a few hundred distinct short ASCII strings, each repeated many times, plus a few
// non-ASCII ones.
import { decodeUncached, decodeUtf8 } from '../../src/prom/utf8.js';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** ASCII check, then String.fromCharCode per byte; fatal TextDecoder otherwise. */
function concatCharCodes(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) return fatal.decode(buf.subarray(start, end));
    s += String.fromCharCode(b);
  }
  return s;
}

/** Fatal TextDecoder for everything. */
function textDecoderOnly(buf: Uint8Array, start: number, end: number): string {
  return fatal.decode(buf.subarray(start, end));
}

function buildInput(): { buf: Uint8Array; offsets: Int32Array } {
  const names = ['__name__', 'job', 'instance', 'namespace', 'pod', 'container', 'le', 'method', 'code', 'zone'];
  const strings: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const k = i % names.length;
    strings.push(names[k]!);
    const v = (i * 7919) % 300;
    strings.push(k === 4 ? `api-server-7d9f8b-${v.toString(36)}x${v}` : k === 9 ? `région-${v % 5}` : `value_${k}_${v}`);
  }
  const enc = new TextEncoder();
  const parts = strings.map((s) => enc.encode(s));
  const buf = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  const offsets = new Int32Array(parts.length * 2);
  let o = 0;
  parts.forEach((p, i) => {
    buf.set(p, o);
    offsets[2 * i] = o;
    offsets[2 * i + 1] = o + p.length;
    o += p.length;
  });
  return { buf, offsets };
}

/** One loop per alternative (not a shared loop taking a function) so each call site stays monomorphic. */
const loops: [string, (buf: Uint8Array, offsets: Int32Array) => number][] = [
  ['decodeUtf8 (interning cache)', (buf, offsets) => {
    let check = 0;
    for (let i = 0; i < offsets.length; i += 2) check += decodeUtf8(buf, offsets[i]!, offsets[i + 1]!).length;
    return check;
  }],
  ['ASCII check + latin1Slice', (buf, offsets) => {
    let check = 0;
    for (let i = 0; i < offsets.length; i += 2) check += decodeUncached(buf, offsets[i]!, offsets[i + 1]!).length;
    return check;
  }],
  ['ASCII check + fromCharCode concat', (buf, offsets) => {
    let check = 0;
    for (let i = 0; i < offsets.length; i += 2) check += concatCharCodes(buf, offsets[i]!, offsets[i + 1]!).length;
    return check;
  }],
  ['TextDecoder fatal only', (buf, offsets) => {
    let check = 0;
    for (let i = 0; i < offsets.length; i += 2) check += textDecoderOnly(buf, offsets[i]!, offsets[i + 1]!).length;
    return check;
  }],
];

const { buf, offsets } = buildInput();
const rounds = 300;
const results: number[][] = loops.map(() => []);
let check = 0;
// Runs are interleaved (A B C D A B C D ...) so that load from other processes hits all alike.
for (let run = 0; run < 6; run++) {
  loops.forEach(([, loop], k) => {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) check += loop(buf, offsets);
    const ns = Number(process.hrtime.bigint() - t0) / ((rounds * offsets.length) / 2);
    if (run > 0) results[k]!.push(ns); // run 0 warms up
  });
}
loops.forEach(([name], k) => {
  const sorted = results[k]!.sort((a, b) => a - b);
  console.log(`${name.padEnd(34)} ${sorted[2]!.toFixed(1).padStart(7)} ns/op (median of 5)`);
});
if (check === 0) throw new Error('nothing decoded');
