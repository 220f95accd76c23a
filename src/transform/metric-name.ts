/**
 * Table and database names, as adx-mon builds them (ADX accepts only ASCII letters and digits):
 * a metric name loses every other character and the lower-case letter right after a dropped one
 * is upper-cased, as is a leading letter: `http_requests_total` → `HttpRequestsTotal`.
 */
const MAX_IDENTIFIER_LENGTH = 1024;

function isAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a);
}

function isLower(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

/** ProperCase table name for a metric name; may be empty (the caller rejects that). */
export function normalizeMetricName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length && out.length < MAX_IDENTIFIER_LENGTH; i++) {
    const c = name.charCodeAt(i);
    if (!isAlnum(c)) {
      const next = i + 1 < name.length ? name.charCodeAt(i + 1) : 0;
      if (isLower(next)) {
        out += String.fromCharCode(next - 0x20);
        i++;
      }
      continue;
    }
    out += i === 0 && isLower(c) ? String.fromCharCode(c - 0x20) : name[i];
  }
  return out;
}

/** Database (or other identifier) name: non-alphanumerics dropped, case kept; may be empty. */
export function normalizeIdentifier(name: string): string {
  let out = '';
  for (let i = 0; i < name.length && out.length < MAX_IDENTIFIER_LENGTH; i++) {
    if (isAlnum(name.charCodeAt(i))) out += name[i];
  }
  return out;
}
