/**
 * Benchmark statistics: a fixed-size log-linear latency histogram (no per-sample storage, so
 * ten million samples cost the same memory as ten) and small formatting helpers.
 *
 * @module
 */

/** Exact values below this many microseconds; above, 1024 sub-buckets per power of two. */
const LINEAR = 2048;
const SUB_BITS = 10;
const SUB = 1 << SUB_BITS;
/** Enough buckets for values up to 2^31 µs (about 36 minutes). */
const BUCKETS = LINEAR + (31 - 11) * SUB;

/** Bucket index of a non-negative integer number of microseconds. */
function indexOf(us: number): number {
  if (us < LINEAR) return us;
  const exp = 31 - Math.clz32(us);
  const shift = exp - SUB_BITS;
  return LINEAR + (exp - 11) * SUB + ((us >>> shift) - SUB);
}

/** Largest value that falls into bucket `index` (so percentiles never under-report). */
function upperOf(index: number): number {
  if (index < LINEAR) return index;
  const exp = 11 + Math.floor((index - LINEAR) / SUB);
  const sub = SUB + ((index - LINEAR) % SUB);
  const shift = exp - SUB_BITS;
  return ((sub + 1) << shift) - 1;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

/**
 * Log-linear histogram of microsecond values: exact below 2.048 ms, relative error below
 * 0.1 % above. Negative values (clock noise) count as 0.
 *
 * @example
 * ```ts
 * const h = new Histogram();
 * h.record(1500); // 1.5 ms
 * h.summary().p50Ms; // 1.5
 * ```
 */
export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one value in microseconds. */
  record(us: number): void {
    let v = us > 0 ? Math.round(us) : 0;
    if (v > 0x7fffffff) v = 0x7fffffff;
    this.#counts[indexOf(v)]++;
    this.count++;
    this.#sum += v;
    if (v > this.#max) this.#max = v;
  }

  /** The value (µs) at or below which `p` percent of the samples fall. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    // The epsilon keeps 99.9 % of 1000 at rank 999 despite floating-point rounding.
    const target = Math.max(1, Math.ceil((p * this.count) / 100 - 1e-9));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= target) return Math.min(upperOf(i), this.#max);
    }
    return this.#max;
  }

  /** Percentiles in milliseconds, rounded to microseconds. */
  summary(): LatencySummary {
    const ms = (us: number | null) => us === null ? null : Math.round(us) / 1000;
    return {
      samples: this.count,
      p50Ms: ms(this.percentile(50)),
      p99Ms: ms(this.percentile(99)),
      p999Ms: ms(this.percentile(99.9)),
      maxMs: this.count === 0 ? null : ms(this.#max),
      meanMs: this.count === 0 ? null : ms(this.#sum / this.count),
    };
  }
}

/** Rounds to `digits` decimals (for tables and JSON). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Formats a number for a table: thousands separated, fixed decimals; "-" for null. */
export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/**
 * Renders rows as an aligned text table with a header rule. The first column is left-aligned,
 * the others right-aligned unless `left` lists them.
 */
export function table(header: string[], rows: string[][], left: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === 0 || left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))
      .join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
