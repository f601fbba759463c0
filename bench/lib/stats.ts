// Percentiles and ratios over raw samples (nanoseconds in, microseconds out).

/** Nearest-rank percentile of ascending `sorted`, p in [0, 1]. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 0.5);
}

export interface Summary {
  readonly count: number;
  /** The fast tail: little disturbed by other work on the machine. */
  readonly p10_us: number;
  readonly median_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
  readonly max_us: number;
}

export function summarize(ns: readonly number[]): Summary {
  const s = Float64Array.from(ns).sort();
  const us = (v: number): number => Math.round(v / 10) / 100;
  return {
    count: s.length,
    p10_us: us(percentile(s, 0.1)),
    median_us: us(percentile(s, 0.5)),
    p99_us: us(percentile(s, 0.99)),
    p999_us: us(percentile(s, 0.999)),
    max_us: us(s.length ? s[s.length - 1]! : Number.NaN),
  };
}

/** a/b rounded to 2 decimals; undefined when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !(b > 0)) return undefined;
  return Math.round((a / b) * 100) / 100;
}

/** The per-round ratios of a statistic (round i of one target against round i of the other). */
export function roundRatios(
  mine: readonly (readonly number[])[],
  theirs: readonly (readonly number[])[],
  stat: (s: Summary) => number,
): number[] {
  const rs: number[] = [];
  for (let i = 0; i < Math.min(mine.length, theirs.length); i++) {
    const r = ratio(stat(summarize(mine[i]!)), stat(summarize(theirs[i]!)));
    if (r !== undefined) rs.push(r);
  }
  return rs;
}

/** Median over rounds of the per-round ratio, so that slow drift of the machine cancels. */
export function roundRatio(
  mine: readonly (readonly number[])[],
  theirs: readonly (readonly number[])[],
  stat: (s: Summary) => number,
): number | undefined {
  const rs = roundRatios(mine, theirs, stat);
  return rs.length ? Math.round(median(rs) * 100) / 100 : undefined;
}
