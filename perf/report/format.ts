/** Number formatting shared by the performance page and its chart, so both print the same figures. */

/** Samples/s: "1.52 M", "503 k", "950". */
export function formatSps(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)} k`;
  return x.toFixed(0);
}

/** Milliseconds: one decimal below 10 ms ("4.2"), whole above ("311"). */
export function formatMs(x: number): string {
  return x < 10 ? x.toFixed(1) : x.toFixed(0);
}

/** "1.42×". */
export function formatRatio(x: number): string {
  return `${x.toFixed(2)}×`;
}

/** Active series: "100 k", "1 M". */
export function formatCount(x: number): string {
  if (x >= 1e6 && x % 1e6 === 0) return `${x / 1e6} M`;
  if (x >= 1e3 && x % 1e3 === 0) return `${x / 1e3} k`;
  return String(x);
}

/** Escapes text for XML and HTML (element content and double-quoted attributes). */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
