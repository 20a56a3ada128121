/**
 * Latency histograms as the judge sees them: counts per bin over shared bin edges (upper bounds in ms, ascending;
 * the last bin is open above the last edge), kept sparse (`[bin, count, ...]`) in the stored state. Local
 * telemetry gives fine bins, Prometheus gives Istio's coarse buckets; the judge works on either.
 */

export type SparseBins = number[];

export function addInto(dense: number[], sparse: readonly number[]): void {
  for (let i = 0; i + 1 < sparse.length; i += 2) {
    const bin = sparse[i]!;
    dense[bin] = (dense[bin] ?? 0) + sparse[i + 1]!;
  }
}

export function toSparse(dense: ArrayLike<number>): SparseBins {
  const out: number[] = [];
  for (let i = 0; i < dense.length; i++) if ((dense[i] ?? 0) > 0) out.push(i, dense[i]!);
  return out;
}

export function toDense(sparse: readonly number[], bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  addInto(out, sparse);
  return out;
}

/** The q-quantile (0..1), interpolated linearly inside its bin; null without samples. */
export function quantileOfBins(counts: ArrayLike<number>, edges: readonly number[], q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n === 0) continue;
    if (seen + n >= rank) {
      if (i >= edges.length) return edges[edges.length - 1] ?? null;
      const lo = i === 0 ? 0 : edges[i - 1]!;
      const hi = edges[i]!;
      return lo + (hi - lo) * Math.min(1, Math.max(0, (rank - seen) / n));
    }
    seen += n;
  }
  return edges[edges.length - 1] ?? null;
}

/**
 * Requests certainly slower than `ms`: those in bins whose lower edge is at or above it. A bin that straddles the
 * bound is not counted, so coarse buckets can only under-count (never a false alarm from bucketing).
 */
export function countAbove(counts: ArrayLike<number>, edges: readonly number[], ms: number): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) {
    const lo = i === 0 ? 0 : (edges[i - 1] ?? Number.POSITIVE_INFINITY);
    if (lo >= ms) n += counts[i] ?? 0;
  }
  return n;
}

export function sum(counts: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i] ?? 0;
  return n;
}
