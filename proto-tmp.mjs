import fs from 'node:fs';
import snappy from 'snappy';
const d = fs.readFileSync('/tmp/blocks.bin'); const nb = d.readUInt32LE(0); let p = 4 + 4 * nb; const blocks = [];
for (let i = 0; i < nb; i++) { const l = d.readUInt32LE(4 + 4 * i); blocks.push(d.subarray(p, p + l)); p += l; }
// LZ with candidates only at "boundary" positions (after a boundary byte), greedy forward extension.
function size(buf, isB, minMatch = 4, backExt = false) {
  let out = 5, lit = 0;
  const emitLit = (n) => { if (n) out += n + (n <= 60 ? 1 : n < 256 ? 2 : 3); };
  const emitCopy = (len) => { while (len > 0) { const k = len > 64 ? (len - 64 < 4 ? 60 : 64) : len; out += 3; len -= k; } };
  const table = new Map();
  let i = 0, litStart = 0;
  const n = buf.length;
  // fragments of 64KB like snappy
  for (let frag = 0; frag < n; frag += 65536) {
    table.clear();
    const end = Math.min(n, frag + 65536);
    i = frag; litStart = frag;
    while (i + 8 <= end) {
      if (i === frag || isB(buf[i - 1])) {
        const key = buf.readUInt32LE(i) + ':' + buf.readUInt16LE(i + 4);
        const cand = table.get(key);
        table.set(key, i);
        if (cand !== undefined) {
          let len = 0; while (i + len < end && buf[cand + len] === buf[i + len]) len++;
          let s = i, c = cand;
          if (backExt) while (s > litStart && c > frag && buf[s - 1] === buf[c - 1]) { s--; c--; len++; }
          if (len >= minMatch) { emitLit(s - litStart); emitCopy(len); i = s + len; litStart = i; continue; }
        }
      }
      i++;
    }
    emitLit(end - litStart);
  }
  return out;
}
const tot = blocks.reduce((s, b) => s + b.length, 0);
let sm = 0; for (const b of blocks) sm += snappy.compressSync(b).length;
console.log('snappy', (tot / sm).toFixed(3));
const sets = { comma: (c) => c === 44, commaQuote: (c) => c === 44 || c === 34, commaQuoteColonDash: (c) => c === 44 || c === 34 || c === 58 || c === 45 || c===10, punct: (c) => !((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) };
for (const [name, f] of Object.entries(sets)) for (const be of [false, true]) {
  let s = 0; for (const b of blocks) s += size(b, f, 4, be);
  console.log(name, be ? 'backext' : '', (tot / s).toFixed(3));
}
