/**
 * The synthetic scrape target's page: `series` series in Prometheus text format (0.0.4), spread
 * over `metrics` metric families, every value changing on every scrape.
 *
 * Rendering is a copy of a prebuilt page plus the value digits written in place: every value is
 * a 10-digit integer (1 000 000 000 … 1 999 999 999) in a fixed-width slot, so the layout never
 * moves. Counters (even families, `_total`) grow by 1…64 per scrape; gauges jump by a fixed
 * stride modulo 10⁹, so two consecutive scrapes never show the same value.
 *
 *   # HELP synthetic_metric_00_total Synthetic counter 0.
 *   # TYPE synthetic_metric_00_total counter
 *   synthetic_metric_00_total{code="200",handler="/api/v1/items/0",method="GET",pod="app-7f9c4-00000",series="0"} 1000000064
 *
 * Series i belongs to family i mod `metrics` and its labels depend on i only, so changing `series`
 * (the harness's rate knob) adds or drops series without renaming the others. Families stay
 * contiguous in the page, as the format wants. The sender adds `job` and `instance`, so targets on
 * different ports share one page layout.
 */

export interface ExpositionShape {
  /** Series per target (lines with a value). */
  series: number;
  /** Metric families the series are spread over (at most `series`). */
  metrics: number;
}

const VALUE_DIGITS = 10;
const VALUE_BASE = 1_000_000_000;
const GAUGE_STRIDE = 7_919_111;
const CODES = ['200', '200', '200', '404', '500', '201', '304'] as const;
const METHODS = ['GET', 'GET', 'POST', 'PUT', 'DELETE'] as const;

export class TargetExposition {
  readonly series: number;
  readonly #template: Buffer;
  /** Byte offset of series i's value slot. */
  readonly #offsets: Int32Array;
  /** Counter step per scrape for series i (1…64), or 0 for a gauge. */
  readonly #steps: Int32Array;

  constructor(shape: ExpositionShape) {
    if (!Number.isInteger(shape.series) || shape.series < 1) throw new RangeError(`series must be a positive integer, got ${shape.series}`);
    const metrics = Math.max(1, Math.min(shape.metrics, shape.series));
    this.series = shape.series;
    this.#offsets = new Int32Array(shape.series);
    this.#steps = new Int32Array(shape.series);
    const parts: string[] = [];
    let length = 0;
    const add = (s: string) => {
      parts.push(s);
      length += s.length; // ASCII only
    };
    for (let m = 0; m < metrics; m++) {
      const counter = m % 2 === 0;
      const name = `synthetic_metric_${String(m).padStart(2, '0')}${counter ? '_total' : ''}`;
      add(`# HELP ${name} Synthetic ${counter ? 'counter' : 'gauge'} ${m}.\n# TYPE ${name} ${counter ? 'counter' : 'gauge'}\n`);
      for (let i = m; i < shape.series; i += metrics) {
        add(`${name}{code="${CODES[i % CODES.length]}",handler="/api/v1/items/${i % 1000}",method="${METHODS[i % METHODS.length]}",pod="app-7f9c4-${String(i).padStart(5, '0')}",series="${i}"} `);
        this.#offsets[i] = length;
        this.#steps[i] = counter ? 1 + (i % 64) : 0;
        add(`${'0'.repeat(VALUE_DIGITS)}\n`);
      }
    }
    this.#template = Buffer.from(parts.join(''), 'latin1');
  }

  get bytes(): number {
    return this.#template.length;
  }

  /** Value of series `i` at scrape `scrape` (counting from 1). */
  valueAt(i: number, scrape: number): number {
    const step = this.#steps[i]!;
    // The stride keeps scrape × stride below 2^53 for 10^9 scrapes.
    return step > 0 ? VALUE_BASE + ((scrape * step) % VALUE_BASE) : VALUE_BASE + ((i * 104_729 + scrape * GAUGE_STRIDE) % VALUE_BASE);
  }

  /** The page for scrape `scrape`: a fresh buffer the caller owns. */
  render(scrape: number): Buffer {
    const out = Buffer.allocUnsafe(this.#template.length);
    this.#template.copy(out);
    const offsets = this.#offsets;
    for (let i = 0; i < offsets.length; i++) {
      let v = this.valueAt(i, scrape);
      const at = offsets[i]!;
      for (let d = VALUE_DIGITS - 1; d >= 0; d--) {
        out[at + d] = 48 + (v % 10);
        v = Math.floor(v / 10);
      }
    }
    return out;
  }
}
