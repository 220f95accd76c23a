/**
 * Text formats of the metrics CSV, byte-compatible with adx-mon's Go writer:
 * RFC 3339 timestamps with trailing fraction zeros trimmed (Go `time.RFC3339Nano`), values as
 * Go `strconv.AppendFloat(v, 'f', 9, 64)`, JSON strings as Go `encoding/json` (HTML-safe), and
 * CSV fields quoted only when needed (Go `encoding/csv`).
 */

const MAX_ABS_MS = 8.64e15; // the ECMAScript Date range

let cachedSecond = NaN;
let cachedPrefix = '';

/**
 * `2024-05-01T12:00:00.5Z` for a millisecond timestamp. Caches the text of the last whole second,
 * since a request's samples are usually within one second.
 */
export function formatTimestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    if (!(Math.abs(ms) <= MAX_ABS_MS)) throw new RangeError(`timestamp ${ms} is out of range`);
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
    cachedSecond = second;
  }
  const frac = ms - second * 1000;
  if (frac === 0) return cachedPrefix + 'Z';
  if (frac % 100 === 0) return `${cachedPrefix}.${frac / 100}Z`;
  if (frac % 10 === 0) return `${cachedPrefix}.${String(frac / 10).padStart(2, '0')}Z`;
  return `${cachedPrefix}.${String(frac).padStart(3, '0')}Z`;
}

export function isTimestampInRange(ms: number): boolean {
  return Math.abs(ms) <= MAX_ABS_MS && Number.isInteger(ms);
}

/** Go `'f', 9` formatting; NaN (including Prometheus stale markers) is `NaN`, infinities `±Inf`. */
export function formatValue(v: number): string {
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0.000000000' : '0.000000000';
  if (Math.abs(v) < 1e21) return v.toFixed(9);
  // Beyond 1e21 toFixed switches to exponent notation; such doubles are integers.
  return `${BigInt(v).toString()}.000000000`;
}

const JSON_ESCAPE = /["\\\u0000-\u001f<>&\u2028\u2029\ud800-\udfff]/;

/**
 * A JSON string literal as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029
 * escaped as \u00XX / \u20XX, control characters as \n, \r, \t or \u00XX.
 */
export function jsonString(s: string): string {
  if (!JSON_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate cannot be UTF-8; Go writes U+FFFD for invalid UTF-8.
      const pair = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      out += pair ? s[i]! + s[++i]! : '\ufffd';
    } else out += s[i];
  }
  return out + '"';
}

const CSV_NEEDS_QUOTES = /[",\r\n]/;

/** A CSV field: quoted (with `"` doubled) when it holds a quote, comma or line break, or starts with a space. */
export function csvField(s: string): string {
  if (s === '') return s;
  if (!CSV_NEEDS_QUOTES.test(s) && s.charCodeAt(0) !== 0x20 && s.charCodeAt(0) !== 0x09) return s;
  return `"${s.replaceAll('"', '""')}"`;
}

/** Always-quoted CSV field, as adx-mon writes the Labels column. */
export function csvQuoted(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}
