/**
 * Latency and size histograms shared by the proxy (which fills them) and the control plane (which sums and
 * queries them). Latency uses Istio's default bucket bounds, each split into 10 linear sub-buckets so that
 * percentiles (topology p50/p95/p99) are finer than Prometheus' coarse buckets while the coarse counts stay exact.
 */

/** Istio's default `istio_request_duration_milliseconds` bucket bounds (le), in milliseconds. */
export const DURATION_BOUNDS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];
const BOUNDS = DURATION_BOUNDS_MS;
const NB = BOUNDS.length; // 19; coarse bucket NB is the overflow (> last bound)

export const SUB_BUCKETS = 10;
/** Slots of a fine latency histogram: (bounds + overflow) x sub-buckets. */
export const FINE_SLOTS = (NB + 1) * SUB_BUCKETS;

/** Istio's `istio_request_bytes` / `istio_response_bytes` bucket bounds: 1, 10, ... 10^8 bytes. */
export const BYTES_BOUNDS: readonly number[] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];
/** Slots of a size histogram: one per bound plus the overflow. */
export const BYTES_SLOTS = BYTES_BOUNDS.length + 1;

/** Fine slot of a duration: coarse bucket by a short scan (fast requests stop early), then a linear sub-bucket. */
export function durationSlot(ms: number): number {
  let i = 0;
  while (i < NB && ms > BOUNDS[i]!) i++;
  if (i === NB) return NB * SUB_BUCKETS;
  const lo = i === 0 ? 0 : BOUNDS[i - 1]!;
  const hi = BOUNDS[i]!;
  let sub = (((ms - lo) / (hi - lo)) * SUB_BUCKETS) | 0;
  if (sub >= SUB_BUCKETS) sub = SUB_BUCKETS - 1;
  else if (sub < 0) sub = 0;
  return i * SUB_BUCKETS + sub;
}

/** Slot of a byte count in BYTES_BOUNDS (le semantics). */
export function bytesSlot(n: number): number {
  let i = 0;
  let bound = 1;
  while (i < 9 && n > bound) {
    i++;
    bound *= 10;
  }
  return i;
}

/**
 * The q-quantile (0..1) of a fine histogram, interpolated linearly inside the sub-bucket holding it, in ms;
 * null when it is empty. Values past the last bound report the last bound (as Prometheus' histogram_quantile).
 */
export function quantileOf(fine: ArrayLike<number>, total: number, q: number): number | null {
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let slot = 0; slot < FINE_SLOTS; slot++) {
    const n = fine[slot]!;
    if (n === 0) continue;
    if (seen + n >= rank) {
      const b = (slot / SUB_BUCKETS) | 0;
      if (b >= NB) return BOUNDS[NB - 1]!;
      const lo = b === 0 ? 0 : BOUNDS[b - 1]!;
      const width = (BOUNDS[b]! - lo) / SUB_BUCKETS;
      const from = lo + (slot % SUB_BUCKETS) * width;
      return from + width * Math.min(1, Math.max(0, (rank - seen) / n));
    }
    seen += n;
  }
  return BOUNDS[NB - 1]!;
}
