import { ANALYSIS_DEFAULTS, type AnalysisCheck } from './analysis-spec.js';
import { addInto, countAbove, quantileOfBins, type SparseBins, sum, toDense, toSparse } from './latency-bins.js';
import { mannWhitney, spentAlpha } from './mann-whitney.js';
import {
  BOUND_MULTIPLES,
  type MixtureState,
  mixtureLogLr,
  newMixture,
  progressOf,
  RELATIVE_RISKS,
  rejects,
  updateBound,
  updateComparison,
} from './sequential-test.js';

/**
 * The judge: compares the candidate with the baseline over the same seconds, one interval at a time, and says
 * `passing`, `failing` or `inconclusive` with its numbers. Pure: the state in, the next state and the verdict out;
 * the control plane stores the state with the release so a restart continues the same tests.
 */

export type Verdict = 'passing' | 'failing' | 'inconclusive';

/** What one version got in an interval. */
export interface VersionCounts {
  requests: number;
  /** 5xx answers and requests that got no answer. */
  failures: number;
  /** Latency counts per bin of the sample's `edges` (sparse `[bin, count, ...]`). */
  latency: SparseBins;
}

/** Both versions over the same seconds [fromMs, toMs). */
export interface IntervalSample {
  fromMs: number;
  toMs: number;
  /** Upper bin edges in ms, ascending; bins = edges.length + 1 (the last is open). */
  edges: readonly number[];
  baseline: VersionCounts;
  candidate: VersionCounts;
  /** Values of the prometheus checks (cluster mode), by check index; null when the query gave no number. */
  prometheus?: { value: number | null; error?: string }[];
}

interface Counts {
  requests: number;
  failures: number;
}

/** One value for each side of the comparison. */
type BothVersions<T> = { baseline: T; candidate: T };

// A type (not an interface) so that it fits the API schema's record of the judge's state.
export type JudgeState = {
  looks: number;
  rankLooks: number;
  comparison: MixtureState;
  floor: MixtureState;
  latencyBound: MixtureState;
  edges: number[];
  /** Latency since the analysis began, over the intervals where both versions had requests. */
  latency: BothVersions<SparseBins>;
  totals: BothVersions<Counts>;
  /** Since the current step began (minRequests counts these). */
  step: BothVersions<Counts>;
  /** The first failing check, kept: a failure is final. */
  failure: CheckResult | null;
};

export interface VersionFigures {
  requests: number;
  failures: number;
  /** Percent, null without requests. */
  successRate: number | null;
  p50: number | null;
  p99: number | null;
}

export interface CheckResult {
  metric: 'successRate' | 'latencyP99' | 'prometheus';
  /** Which test of the check: `compare` (vs baseline), `min` (floor), `maxMs` (p99 bound), `rank` (Mann-Whitney), `query`. */
  test: 'compare' | 'min' | 'maxMs' | 'rank' | 'query';
  verdict: Verdict;
  /** The test's statistic: a likelihood ratio, a p-value or a query value. */
  statistic: number | null;
  /** What the statistic is held against: 1/alpha for likelihood ratios, the spent alpha for p-values, the bound for queries. */
  bound: number | null;
  /** 0..1: how far the evidence has come toward failing. */
  progress: number;
  message: string;
}

export interface JudgeResult {
  state: JudgeState;
  verdict: Verdict;
  message: string;
  checks: CheckResult[];
  /** This interval's figures (for the charts). */
  interval: BothVersions<VersionFigures>;
  /** Figures since the analysis began. */
  totals: BothVersions<VersionFigures>;
}

export interface JudgeOptions {
  checks: readonly AnalysisCheck[];
  alpha: number;
  minRequests: number;
  baselineName: string;
  candidateName: string;
  /** The candidate's weight now: at 100 % the baseline gets nothing and is not required. */
  candidateWeight: number;
}

export function newJudgeState(): JudgeState {
  return {
    looks: 0,
    rankLooks: 0,
    comparison: newMixture(RELATIVE_RISKS.length),
    floor: newMixture(BOUND_MULTIPLES.length),
    latencyBound: newMixture(BOUND_MULTIPLES.length),
    edges: [],
    latency: { baseline: [], candidate: [] },
    totals: { baseline: { requests: 0, failures: 0 }, candidate: { requests: 0, failures: 0 } },
    step: { baseline: { requests: 0, failures: 0 }, candidate: { requests: 0, failures: 0 } },
    failure: null,
  };
}

/** The state at the start of a new step: the tests keep their evidence, minRequests counts afresh. */
export function startStep(state: JudgeState): JudgeState {
  return { ...state, step: { baseline: { requests: 0, failures: 0 }, candidate: { requests: 0, failures: 0 } } };
}

/** One-sided Mann-Whitney level at which the candidate counts as slower than the baseline for the p99 bound. */
export const RANK_GUARD = 0.05;

/** How many statistical tests the checks make: the alpha is split evenly between them (Bonferroni). */
export function statisticalTests(checks: readonly AnalysisCheck[]): number {
  let n = 0;
  for (const c of checks) {
    if (c.metric === 'successRate') n += c.min !== undefined && c.min > 0 ? 2 : 1;
    if (c.metric === 'latencyP99')
      n += (c.maxMs !== undefined ? 1 : 0) + (c.maxIncreasePercent !== undefined || c.maxMs === undefined ? 1 : 0);
  }
  return Math.max(1, n);
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(Math.round(v * 100) / 100).toFixed(2)} %`);
const ms = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v * 10) / 10} ms`);
const num = (v: number) =>
  v >= 1e6 || (v > 0 && v < 1e-3)
    ? v.toExponential(2)
    : Math.abs(v) < 1
      ? String(Number(v.toPrecision(3)))
      : String(Math.round(v * 100) / 100);

function figures(c: Counts, latency: ArrayLike<number>, edges: readonly number[]): VersionFigures {
  return {
    requests: c.requests,
    failures: c.failures,
    successRate: c.requests === 0 ? null : (100 * (c.requests - c.failures)) / c.requests,
    p50: quantileOfBins(latency, edges, 0.5),
    p99: quantileOfBins(latency, edges, 0.99),
  };
}

function add(into: Counts, v: VersionCounts): Counts {
  return { requests: into.requests + v.requests, failures: into.failures + v.failures };
}

/** The mixture's likelihood ratio, capped so that it stays a finite JSON number. */
function lrOf(m: MixtureState): number {
  return Math.exp(Math.min(700, mixtureLogLr(m)));
}

function cloneMixture(m: MixtureState): MixtureState {
  return { logLr: [...m.logLr] };
}

/** Judges one more interval. Never throws on odd counts: they are clamped (failures <= requests). */
export function judgeInterval(previous: JudgeState, sample: IntervalSample, options: JudgeOptions): JudgeResult {
  const clampV = (v: VersionCounts): VersionCounts => {
    const requests = Math.max(0, Math.floor(v.requests));
    return { requests, failures: Math.min(requests, Math.max(0, Math.floor(v.failures))), latency: v.latency };
  };
  const cand = clampV(sample.candidate);
  const base = clampV(sample.baseline);
  // A look without any latency (no traffic, or Prometheus had no buckets yet) keeps the bins it had.
  const edges = sample.edges.length === 0 && previous.edges.length > 0 ? [...previous.edges] : [...sample.edges];
  const bins = edges.length + 1;
  const sameEdges = previous.edges.length === edges.length && previous.edges.every((e, i) => e === edges[i]);
  const state: JudgeState = {
    looks: previous.looks + 1,
    rankLooks: previous.rankLooks,
    comparison: cloneMixture(previous.comparison),
    floor: cloneMixture(previous.floor),
    latencyBound: cloneMixture(previous.latencyBound),
    edges,
    latency: sameEdges ? { ...previous.latency } : { baseline: [], candidate: [] },
    totals: { baseline: add(previous.totals.baseline, base), candidate: add(previous.totals.candidate, cand) },
    step: { baseline: add(previous.step.baseline, base), candidate: add(previous.step.candidate, cand) },
    failure: previous.failure,
  };
  const candLatency = toDense(cand.latency, bins);
  const baseLatency = toDense(base.latency, bins);
  if (cand.requests > 0 && base.requests > 0) {
    const c = toDense(state.latency.candidate, bins);
    const b = toDense(state.latency.baseline, bins);
    addInto(c, cand.latency);
    addInto(b, base.latency);
    state.latency = { candidate: toSparse(c), baseline: toSparse(b) };
  }
  const alphaEach = options.alpha / statisticalTests(options.checks);
  const bound = 1 / alphaEach;
  const { baselineName: bn, candidateName: cn } = options;
  const totalsC = state.totals.candidate;
  const totalsB = state.totals.baseline;
  const cumC = toDense(state.latency.candidate, bins);
  const cumB = toDense(state.latency.baseline, bins);
  const results: CheckResult[] = [];
  const counted = (c: Counts) => `${c.requests - c.failures} of ${c.requests} requests succeeded`;

  options.checks.forEach((check, index) => {
    if (check.metric === 'successRate') {
      updateComparison(state.comparison, cand, base);
      const lr = lrOf(state.comparison);
      const failing = rejects(state.comparison, alphaEach);
      const rc = totalsC.requests === 0 ? null : (100 * (totalsC.requests - totalsC.failures)) / totalsC.requests;
      const rb = totalsB.requests === 0 ? null : (100 * (totalsB.requests - totalsB.failures)) / totalsB.requests;
      results.push({
        metric: 'successRate',
        test: 'compare',
        verdict: failing ? 'failing' : 'passing',
        statistic: lr,
        bound,
        progress: progressOf(state.comparison, alphaEach),
        message:
          `successRate: candidate ${cn} ${pct(rc)} (${counted(totalsC)}) vs baseline ${bn} ${pct(rb)} (${counted(totalsB)}) over the same seconds; ` +
          `likelihood ratio ${num(lr)} ${failing ? '>=' : '<'} bound ${num(bound)} (alpha ${num(alphaEach)})`,
      });
      if (check.min !== undefined && check.min > 0) {
        const p0 = 1 - check.min / 100;
        updateBound(state.floor, p0, cand.requests, cand.failures);
        const lrf = lrOf(state.floor);
        const below = rejects(state.floor, alphaEach);
        results.push({
          metric: 'successRate',
          test: 'min',
          verdict: below ? 'failing' : 'passing',
          statistic: lrf,
          bound,
          progress: progressOf(state.floor, alphaEach),
          message:
            `successRate: candidate ${cn} ${pct(rc)} (${counted(totalsC)}) ${below ? 'is below' : 'vs'} min ${check.min} %; baseline ${bn} ${pct(rb)} (${counted(totalsB)}); ` +
            `likelihood ratio ${num(lrf)} ${below ? '>=' : '<'} bound ${num(bound)} (alpha ${num(alphaEach)})`,
        });
      }
    } else if (check.metric === 'latencyP99') {
      const p99c = quantileOfBins(cumC, edges, 0.99);
      const p99b = quantileOfBins(cumB, edges, 0.99);
      const mw = cand.requests > 0 && base.requests > 0 ? mannWhitney(cumC, cumB) : null;
      if (check.maxMs !== undefined) {
        const slow = countAbove(candLatency, edges, check.maxMs);
        updateBound(state.latencyBound, 0.01, sum(candLatency), slow);
        const lr = lrOf(state.latencyBound);
        // Over the bound is the candidate's fault only when it is slower than the baseline over the same seconds:
        // a slow node or network slows both, and rolling back would not help. Without a baseline (100 %) the
        // bound alone decides. The guard can only lower the false-alarm rate of the bound's test.
        const slowerThanBaseline = mw === null || mw.pValue < RANK_GUARD;
        const over = rejects(state.latencyBound, alphaEach) && slowerThanBaseline;
        const slowTotal = countAbove(cumC, edges, check.maxMs);
        results.push({
          metric: 'latencyP99',
          test: 'maxMs',
          verdict: over ? 'failing' : 'passing',
          statistic: lr,
          bound,
          progress: progressOf(state.latencyBound, alphaEach) * (slowerThanBaseline ? 1 : 0.5),
          message:
            `latencyP99: candidate ${cn} p99 ${ms(p99c)} (${slowTotal} of ${sum(cumC)} requests over ${check.maxMs} ms) ${over ? 'exceeds' : 'vs'} maxMs ${check.maxMs}; ` +
            `baseline ${bn} p99 ${ms(p99b)} (${countAbove(cumB, edges, check.maxMs)} of ${sum(cumB)} over); ` +
            `likelihood ratio ${num(lr)} ${rejects(state.latencyBound, alphaEach) ? '>=' : '<'} bound ${num(bound)} (alpha ${num(alphaEach)})` +
            (mw ? `; slower than the baseline: Mann-Whitney p ${num(mw.pValue)} ${slowerThanBaseline ? '<' : '>='} ${RANK_GUARD}` : ''),
        });
      }
      if (check.maxIncreasePercent !== undefined || check.maxMs === undefined) {
        const maxIncrease = check.maxIncreasePercent ?? ANALYSIS_DEFAULTS.maxIncreasePercent;
        const medC = quantileOfBins(cumC, edges, 0.5);
        const medB = quantileOfBins(cumB, edges, 0.5);
        if (mw === null || medC === null || medB === null) {
          results.push({
            metric: 'latencyP99',
            test: 'rank',
            verdict: 'passing',
            statistic: null,
            bound: null,
            progress: 0,
            message: `latencyP99: too few requests to both versions yet for the rank test (${sum(cumC)} and ${sum(cumB)})`,
          });
        } else {
          state.rankLooks += 1;
          const a = spentAlpha(alphaEach, state.rankLooks);
          // "Slower" needs both: a significant rank test and a median shift beyond the tolerance (and over 1 ms,
          // below which bins and timer noise dominate).
          const increase = medC - medB;
          const tooMuch = increase > Math.max(1, (medB * maxIncrease) / 100);
          const significant = mw.pValue < a;
          const slower = significant && tooMuch;
          const relative = medB > 0 ? `${increase >= 0 ? '+' : ''}${Math.round((increase / medB) * 100)} %` : 'n/a';
          results.push({
            metric: 'latencyP99',
            test: 'rank',
            verdict: slower ? 'failing' : 'passing',
            statistic: mw.pValue,
            bound: a,
            progress: mw.pValue >= 1 ? 0 : Math.min(1, Math.max(0, Math.log(mw.pValue) / Math.log(a))) * (tooMuch ? 1 : 0.5),
            message:
              `latencyP99: candidate ${cn} ${slower ? 'is slower than' : 'vs'} baseline ${bn}: median ${ms(medC)} vs ${ms(medB)} (${relative}, tolerance ${maxIncrease} %), ` +
              `p99 ${ms(p99c)} vs ${ms(p99b)}; Mann-Whitney over ${mw.candidateCount} and ${mw.baselineCount} requests: ` +
              `P(slower) ${num(mw.effect)}, z ${num(mw.z)}, p ${num(mw.pValue)} ${significant ? '<' : '>='} ${num(a)} (look ${state.rankLooks})`,
          });
        }
      }
    } else {
      const got = sample.prometheus?.[index];
      const name = check.name ?? `prometheus[${index}]`;
      if (!got || got.value === null || Number.isNaN(got.value)) {
        results.push({
          metric: 'prometheus',
          test: 'query',
          verdict: 'inconclusive',
          statistic: null,
          bound: check.max ?? check.min ?? null,
          progress: 0,
          message: `${name}: the query gave no value${got?.error ? ` (${got.error})` : ''}`,
        });
      } else {
        const v = got.value;
        const over = check.max !== undefined && v > check.max;
        const under = check.min !== undefined && v < check.min;
        const limit = over ? check.max! : under ? check.min! : (check.max ?? check.min!);
        results.push({
          metric: 'prometheus',
          test: 'query',
          verdict: over || under ? 'failing' : 'passing',
          statistic: v,
          bound: limit,
          progress: over || under ? 1 : 0,
          message: `${name}: value ${num(v)} ${over ? `is above max ${check.max}` : under ? `is below min ${check.min}` : `within ${check.min ?? '-inf'}..${check.max ?? '+inf'}`}`,
        });
      }
    }
  });

  const interval = { baseline: figures(base, baseLatency, edges), candidate: figures(cand, candLatency, edges) };
  const totals = { baseline: figures(totalsB, cumB, edges), candidate: figures(totalsC, cumC, edges) };
  const failing = results.find((r) => r.verdict === 'failing');
  if (failing && !state.failure) state.failure = failing;
  if (state.failure) {
    return { state, verdict: 'failing', message: state.failure.message, checks: results, interval, totals };
  }
  const needC = options.minRequests - state.step.candidate.requests;
  const needB = options.candidateWeight < 100 ? options.minRequests - state.step.baseline.requests : 0;
  const queryGap = results.find((r) => r.verdict === 'inconclusive');
  if (needC > 0 || needB > 0) {
    const parts: string[] = [];
    if (needC > 0)
      parts.push(
        `${needC} more requests to the candidate ${cn} (${state.step.candidate.requests} of minRequests ${options.minRequests} in this step)`,
      );
    if (needB > 0) parts.push(`${needB} more to the baseline ${bn} (${state.step.baseline.requests} of ${options.minRequests})`);
    return { state, verdict: 'inconclusive', message: `inconclusive: needs ${parts.join(' and ')}`, checks: results, interval, totals };
  }
  if (queryGap) return { state, verdict: 'inconclusive', message: `inconclusive: ${queryGap.message}`, checks: results, interval, totals };
  // Enough requests is not enough: a step passes only while the evidence leans toward health (every likelihood
  // ratio below 1). A candidate a little worse than the baseline then waits here until its test decides, instead
  // of being promoted on too few requests to tell; the false-alarm bound is untouched (rejection is still 1/alpha).
  const leaning = results.find((r) => r.test !== 'rank' && r.test !== 'query' && r.statistic !== null && r.statistic > 1);
  if (leaning) {
    return {
      state,
      verdict: 'inconclusive',
      message: `inconclusive: the evidence leans toward failing, waiting for more requests (${Math.round(leaning.progress * 100)} % of the way to the bound): ${leaning.message}`,
      checks: results,
      interval,
      totals,
    };
  }
  const closest = results.reduce((m, r) => Math.max(m, r.progress), 0);
  return {
    state,
    verdict: 'passing',
    message:
      `passing: candidate ${cn} ${pct(totals.candidate.successRate)} of ${totalsC.requests} requests, p99 ${ms(totals.candidate.p99)}; ` +
      `baseline ${bn} ${pct(totals.baseline.successRate)} of ${totalsB.requests}, p99 ${ms(totals.baseline.p99)}; the nearest test is at ${Math.round(closest * 100)} % of its bound`,
    checks: results,
    interval,
    totals,
  };
}
