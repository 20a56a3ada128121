/**
 * The Mann-Whitney U (Wilcoxon rank-sum) test on two latency distributions given as histograms: counts per bin
 * in the same bin order, every sample of a bin tied with the others of that bin. It is what Kayenta's judge runs
 * for latency; here one-sided, asking whether the candidate's latencies tend to be larger than the baseline's.
 * The normal approximation with the tie correction is used (both samples must have a few values, see minSamples).
 */

export interface MannWhitneyResult {
  /** U of the candidate: pairs (candidate, baseline) where the candidate is slower, ties counting one half. */
  u: number;
  /** Standardised statistic (0 when there is no spread at all). */
  z: number;
  /** One-sided p-value of "the candidate is slower". */
  pValue: number;
  /** U / (n1 n2): the chance that a random candidate request is slower than a random baseline one (ties half). */
  effect: number;
  candidateCount: number;
  baselineCount: number;
}

/** Below this many samples on either side the normal approximation is not trusted and no test is made. */
export const MANN_WHITNEY_MIN_SAMPLES = 8;

/** The upper tail of the standard normal, 1 - Phi(z), with relative error below 1.2e-7 (Numerical Recipes' erfc). */
export function normalUpperTail(z: number): number {
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  const upper = x >= 0 ? erfc : 2 - erfc;
  return upper / 2;
}

/**
 * U of `candidate` against `baseline` (arrays of counts per bin, bins in increasing latency), its tie-corrected
 * z with continuity correction, and the one-sided p-value. Null when either side has fewer than `minSamples`.
 */
export function mannWhitney(
  candidate: ArrayLike<number>,
  baseline: ArrayLike<number>,
  minSamples = MANN_WHITNEY_MIN_SAMPLES,
): MannWhitneyResult | null {
  const bins = Math.max(candidate.length, baseline.length);
  let n1 = 0;
  let n2 = 0;
  for (let i = 0; i < bins; i++) {
    n1 += candidate[i] ?? 0;
    n2 += baseline[i] ?? 0;
  }
  if (n1 < minSamples || n2 < minSamples) return null;
  let u = 0;
  let baselineBelow = 0;
  let tieTerm = 0;
  for (let i = 0; i < bins; i++) {
    const c = candidate[i] ?? 0;
    const b = baseline[i] ?? 0;
    u += c * (baselineBelow + b / 2);
    baselineBelow += b;
    const t = c + b;
    tieTerm += t * t * t - t;
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const effect = u / (n1 * n2);
  if (!(variance > 0)) {
    // Every sample in one bin: no evidence either way.
    return { u, z: 0, pValue: 0.5, effect, candidateCount: n1, baselineCount: n2 };
  }
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, pValue: normalUpperTail(z), effect, candidateCount: n1, baselineCount: n2 };
}

/**
 * The share of the rank test's alpha spent at its k-th look (k = 1, 2, ...): alpha 6 / (pi^2 k^2). The shares sum
 * to alpha over all looks, so by the union bound looking at every interval keeps the false-alarm rate <= alpha.
 */
export function spentAlpha(alpha: number, look: number): number {
  return (alpha * 6) / (Math.PI * Math.PI * look * look);
}
