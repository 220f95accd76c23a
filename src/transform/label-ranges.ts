import { IngestError } from '../errors.js';
import { decodeUtf8 } from '../prom/utf8.js';

/**
 * The labels of one series as byte ranges, each in its own source buffer (the request, or a
 * constant for `--add-labels`), in typed arrays reused across series. Fields are public for the
 * hot path; only `MetricsCsvWriter` uses this.
 *
 * Lifetime: ranges point into buffers owned by the caller and are valid until the next `clear`.
 */
export class LabelRanges {
  src: Uint8Array[] = [];
  ns = new Int32Array(64);
  ne = new Int32Array(64);
  vs = new Int32Array(64);
  ve = new Int32Array(64);
  /** After `sort`: label indices in label order. */
  order = new Int32Array(64);
  n = 0;

  clear(): void {
    this.n = 0;
  }

  push(src: Uint8Array, ns: number, ne: number, vs: number, ve: number): void {
    const n = this.n;
    if (n === this.ns.length) this.#grow();
    this.src[n] = src;
    this.ns[n] = ns;
    this.ne[n] = ne;
    this.vs[n] = vs;
    this.ve[n] = ve;
    this.n = n + 1;
  }

  /** Index of the label named `name` (bytes), or -1. */
  find(name: Uint8Array): number {
    for (let i = 0; i < this.n; i++) if (rangeEquals(this.src[i]!, this.ns[i]!, this.ne[i]!, name)) return i;
    return -1;
  }

  /** After `sort`: the last label, in label order, whose name equals `lower` ignoring ASCII case. */
  findLower(lower: Uint8Array): number {
    let found = -1;
    for (let k = 0; k < this.n; k++) {
      const i = this.order[k]!;
      if (rangeEqualsLower(this.src[i]!, this.ns[i]!, this.ne[i]!, lower)) found = i;
    }
    return found;
  }

  /** Sets label `name` to the value in `both` (= name bytes + value bytes), adding it if missing. */
  set(name: Uint8Array, both: Uint8Array): void {
    const j = this.find(name);
    if (j < 0) return this.push(both, 0, name.length, name.length, both.length);
    this.src[j] = both;
    this.ns[j] = 0;
    this.ne[j] = this.vs[j] = name.length;
    this.ve[j] = both.length;
  }

  /** Removes the labels for which `drop(i)` is true, keeping the order of the rest. */
  removeWhere(drop: (i: number) => boolean): void {
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (drop(i)) continue;
      this.src[w] = this.src[i]!;
      this.ns[w] = this.ns[i]!;
      this.ne[w] = this.ne[i]!;
      this.vs[w] = this.vs[i]!;
      this.ve[w] = this.ve[i]!;
      w++;
    }
    this.n = w;
  }

  name(i: number): string {
    return decodeUtf8(this.src[i]!, this.ns[i]!, this.ne[i]!);
  }

  value(i: number): string {
    return decodeUtf8(this.src[i]!, this.vs[i]!, this.ve[i]!);
  }

  /** Fills `order` with indices sorted by name, lower-cased (ties by bytes); rejects duplicates. */
  sort(): void {
    const order = this.order;
    const n = this.n;
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = 1; i < n; i++) {
      const x = order[i]!;
      let j = i - 1;
      while (j >= 0 && this.compare(order[j]!, x) > 0) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
    for (let i = 1; i < n; i++) {
      if (this.compare(order[i - 1]!, order[i]!) === 0) {
        throw new IngestError('invalid_labels', `a series has label ${this.name(order[i]!)} twice`);
      }
    }
  }

  /** adx-mon's CompareLower on the names of labels a and b. */
  compare(a: number, b: number): number {
    const sa = this.src[a]!;
    const sb = this.src[b]!;
    let i = this.ns[a]!;
    let j = this.ns[b]!;
    const ea = this.ne[a]!;
    const eb = this.ne[b]!;
    let tie = 0;
    for (; i < ea && j < eb; i++, j++) {
      const x = sa[i]!;
      const y = sb[j]!;
      if (x === y) continue;
      const lx = x >= 0x41 && x <= 0x5a ? x + 32 : x;
      const ly = y >= 0x41 && y <= 0x5a ? y + 32 : y;
      if (lx !== ly) return lx - ly;
      if (tie === 0) tie = x - y;
    }
    const d = ea - this.ns[a]! - (eb - this.ns[b]!);
    return d !== 0 ? d : tie;
  }

  #grow(): void {
    const grow = (a: Int32Array) => {
      const next = new Int32Array(a.length * 2);
      next.set(a);
      return next;
    };
    this.ns = grow(this.ns);
    this.ne = grow(this.ne);
    this.vs = grow(this.vs);
    this.ve = grow(this.ve);
    this.order = grow(this.order);
  }
}

export function rangeEquals(src: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (src[start + i] !== want[i]) return false;
  return true;
}

export function rangeStartsWith(src: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (src[start + i] !== prefix[i]) return false;
  return true;
}

/** Case-insensitive (ASCII) equality with an already lower-cased name. */
export function rangeEqualsLower(src: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const b = src[start + i]!;
    if ((b >= 0x41 && b <= 0x5a ? b + 32 : b) !== lower[i]) return false;
  }
  return true;
}
