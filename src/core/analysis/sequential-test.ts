/**
 * Anytime-valid sequential tests on counts (see docs/adr/0013-sequential-analysis-judge.md). Each keeps a mixture
 * likelihood ratio that is a (super)martingale while the null hypothesis holds, so by Ville's inequality the chance
 * that it EVER reaches 1/alpha is at most alpha: the test may be looked at after every interval, and stopped at any
 * look, without inflating false alarms. Pure numbers in, pure numbers out; the state is plain JSON for the store.
 */

/** Relative risks (candidate error rate / baseline error rate) the comparison test mixes over, equally weighted. */
export const RELATIVE_RISKS: readonly number[] = [1.5, 2, 3, 5, 10, 30, 100];

/** Multiples of the bound's rate the one-sample test mixes over (capped below 1). */
export const BOUND_MULTIPLES: readonly number[] = [1.5, 2, 3, 5, 10, 30, 100];

/** A log likelihood ratio that stands for certainty (a rate of 0 produced a bad request). */
const CERTAIN = 1e6;

/** A mixture SPRT's running state: one log likelihood ratio per alternative. */
export interface MixtureState {
  logLr: number[];
}

export function newMixture(alternatives: number): MixtureState {
  return { logLr: new Array<number>(alternatives).fill(0) };
}

/** log of the mean of exp(x_i), computed without overflow. */
function logMeanExp(xs: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > max) max = x;
  if (max === Number.NEGATIVE_INFINITY) return max;
  if (max === Number.POSITIVE_INFINITY) return max;
  let sum = 0;
  for (const x of xs) sum += Math.exp(x - max);
  return max + Math.log(sum / xs.length);
}

/** The mixture's log likelihood ratio: log of the equally weighted mean of the alternatives' ratios. */
export function mixtureLogLr(state: MixtureState): number {
  return logMeanExp(state.logLr);
}

/** How far the evidence has come toward the rejection bound log(1/alpha): 0 none, 1 reached (capped at 1). */
export function progressOf(state: MixtureState, alpha: number): number {
  const l = mixtureLogLr(state);
  if (!(l > 0)) return 0;
  return Math.min(1, l / Math.log(1 / alpha));
}

export function rejects(state: MixtureState, alpha: number): boolean {
  return mixtureLogLr(state) >= Math.log(1 / alpha);
}

/**
 * Comparison of two error rates over the same seconds. Given the requests each version got in an interval and
 * the failures of both together, under H0 (the candidate fails no more often than the baseline) each failure is
 * the candidate's with probability at most its share of the requests `s`; under the alternative with relative
 * risk r it is the candidate's with probability q = r s / (r s + 1 - s). Conditioning on the counts removes the
 * unknown baseline error rate and any change of the split between intervals. Updates `state` in place.
 */
export function updateComparison(
  state: MixtureState,
  candidate: { requests: number; failures: number },
  baseline: { requests: number; failures: number },
): void {
  const nc = candidate.requests;
  const nb = baseline.requests;
  const failures = candidate.failures + baseline.failures;
  if (nc <= 0 || nb <= 0 || failures <= 0) return;
  const s = nc / (nc + nb);
  RELATIVE_RISKS.forEach((r, i) => {
    const q = (r * s) / (r * s + 1 - s);
    state.logLr[i]! += candidate.failures * Math.log(q / s) + baseline.failures * Math.log((1 - q) / (1 - s));
  });
}

/** Alternative rates of the one-sample test for a bound rate p0 (0 < p0 < 1). */
export function boundAlternatives(p0: number): number[] {
  // Always strictly between p0 and 1, so each alternative is a real one even for a loose bound.
  return BOUND_MULTIPLES.map((m) => Math.min(p0 * m, p0 + (1 - p0) * 0.999));
}

/**
 * One version's rate of "bad" requests (failed, or slower than a bound) against a fixed bound p0: H0 says the
 * rate is at most p0. Each request adds log(p1/p0) when bad and log((1-p1)/(1-p0)) when good, for every
 * alternative p1 > p0; for any true rate <= p0 the ratio is a supermartingale. p0 = 0 is exact: the first bad
 * request rejects (a rate of 0 never produces one). Updates `state` in place.
 */
export function updateBound(state: MixtureState, p0: number, requests: number, bad: number): void {
  if (requests <= 0) return;
  if (p0 <= 0) {
    if (bad > 0) state.logLr.fill(CERTAIN); // finite: the state is stored as JSON, where Infinity is not a number
    return;
  }
  const alternatives = boundAlternatives(p0);
  alternatives.forEach((p1, i) => {
    state.logLr[i]! += bad * Math.log(p1 / p0) + (requests - bad) * Math.log((1 - p1) / (1 - p0));
  });
}
