import type { AnalysisCheck } from './analysis-spec.js';
import { type IntervalSample, judgeInterval, type JudgeState, newJudgeState, startStep, type VersionCounts } from './judge.js';

/**
 * A seeded, in-process model of a canary under analysis, for the judge's property tests and `npm run bench --
 * --only analysis`: requests arrive at a rate, each goes to the candidate with its step's weight, fails with its
 * version's error rate and takes a latency drawn from its version's distribution. The judge runs every interval
 * over the same simulated seconds; Flagger's rule (every `interval`, a check fails when the candidate's success
 * rate over that interval is below `minSuccess` or its p99 above `maxP99Ms`, or it got no requests; `threshold`
 * failed checks roll back) runs on the very same requests.
 */

/** Mulberry32: a small fast seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poisson(random: () => number, mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(random)));
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > l && k < 10_000);
  return k - 1;
}

function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Bin edges of the simulation's latency histograms: 0.5 ms wide to 50 ms, then 5 ms to 1 s, then coarse. */
export const SIMULATION_EDGES: readonly number[] = [
  ...Array.from({ length: 100 }, (_, i) => (i + 1) * 0.5),
  ...Array.from({ length: 190 }, (_, i) => 55 + i * 5),
  2500,
  5000,
  10000,
];

function binOf(ms: number): number {
  let lo = 0;
  let hi = SIMULATION_EDGES.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= SIMULATION_EDGES[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface SimulatedVersion {
  /** Chance (0..1) that a request fails. */
  errorRate: number;
  /** Median latency, ms (log-normal with `spread`). */
  medianMs: number;
  /** Added to every latency, ms (a regression). */
  addedMs?: number;
}

export interface SimulationOptions {
  seed: number;
  /** Requests per second to the service. */
  rate: number;
  intervalSeconds: number;
  /** Candidate weights of the steps (each held until the judge passes it, at least one interval). */
  steps: number[];
  checks: AnalysisCheck[];
  alpha: number;
  minRequests: number;
  baseline: SimulatedVersion;
  candidate: SimulatedVersion;
  /** Give up after this many simulated seconds. */
  horizonSeconds: number;
  /** Log-normal sigma of latencies; default 0.35. */
  spread?: number;
  flagger?: { intervalSeconds: number; threshold: number; minSuccess: number; maxP99Ms: number };
}

export interface SimulationOutcome {
  /** `rolledBack` (failing), `promoted` (every step passed) or `undecided` at the horizon. */
  result: 'rolledBack' | 'promoted' | 'undecided';
  /** Seconds from the candidate's first traffic to the decision (null when undecided). */
  seconds: number | null;
  /** Requests the candidate failed before the decision. */
  failedRequests: number;
  /** Requests the candidate served before the decision. */
  candidateRequests: number;
  lastMessage: string;
  flagger: { result: 'rolledBack' | 'promoted' | 'undecided'; seconds: number | null; failedRequests: number } | null;
}

interface SecondCounts {
  baseline: { requests: number; failures: number; bins: Map<number, number>; latencies: number[] };
  candidate: { requests: number; failures: number; bins: Map<number, number>; latencies: number[] };
}

function emptySecond(): SecondCounts {
  return {
    baseline: { requests: 0, failures: 0, bins: new Map(), latencies: [] },
    candidate: { requests: 0, failures: 0, bins: new Map(), latencies: [] },
  };
}

function toCounts(list: SecondCounts['baseline'][]): VersionCounts {
  const bins = new Map<number, number>();
  let requests = 0;
  let failures = 0;
  for (const s of list) {
    requests += s.requests;
    failures += s.failures;
    for (const [b, n] of s.bins) bins.set(b, (bins.get(b) ?? 0) + n);
  }
  return { requests, failures, latency: [...bins.entries()].sort((a, b) => a[0] - b[0]).flat() };
}

/** One simulated release under our judge (and, optionally, Flagger's rule on the same requests). */
export function simulateRelease(o: SimulationOptions): SimulationOutcome {
  const random = seededRandom(o.seed);
  const spread = o.spread ?? 0.35;
  const latencyOf = (v: SimulatedVersion) => v.medianMs * Math.exp(spread * gaussian(random)) + (v.addedMs ?? 0);
  let state: JudgeState = newJudgeState();
  let step = 0;
  let pending: SecondCounts[] = [];
  let failedRequests = 0;
  let candidateRequests = 0;
  let lastMessage = '';
  let decided: SimulationOutcome['result'] | null = null;
  let decidedAt: number | null = null;
  let decidedFailed = 0;
  let decidedServed = 0;
  // Flagger's rule, on the same seconds: fixed weight of the step it is at, own clock.
  const fl = o.flagger;
  let flPending: SecondCounts[] = [];
  let flFailedChecks = 0;
  let flStep = 0;
  let flResult: 'rolledBack' | 'promoted' | null = null;
  let flAt: number | null = null;
  let flFailed = 0;
  for (let t = 1; t <= o.horizonSeconds; t++) {
    // Our release and Flagger's may be at different steps; each second is drawn once per weight in force.
    const weights = new Set<number>([
      o.steps[Math.min(step, o.steps.length - 1)]!,
      fl ? o.steps[Math.min(flStep, o.steps.length - 1)]! : -1,
    ]);
    const drawn = new Map<number, SecondCounts>();
    const n = poisson(random, o.rate);
    const arrivals = Array.from({ length: n }, () => ({ u: random(), fail: random(), latency: 0 }));
    for (const w of weights) {
      if (w < 0) continue;
      const s = emptySecond();
      for (const a of arrivals) {
        const toCandidate = a.u < w / 100;
        const v = toCandidate ? o.candidate : o.baseline;
        const side = toCandidate ? s.candidate : s.baseline;
        side.requests++;
        if (a.fail < v.errorRate) side.failures++;
        const ms = latencyOf(v);
        side.latencies.push(ms);
        const b = binOf(ms);
        side.bins.set(b, (side.bins.get(b) ?? 0) + 1);
      }
      drawn.set(w, s);
    }
    if (decided === null) {
      const s = drawn.get(o.steps[Math.min(step, o.steps.length - 1)]!)!;
      candidateRequests += s.candidate.requests;
      failedRequests += s.candidate.failures;
      pending.push(s);
      if (t % o.intervalSeconds === 0) {
        const sample: IntervalSample = {
          fromMs: (t - o.intervalSeconds) * 1000,
          toMs: t * 1000,
          edges: SIMULATION_EDGES,
          baseline: toCounts(pending.map((p) => p.baseline)),
          candidate: toCounts(pending.map((p) => p.candidate)),
        };
        pending = [];
        const r = judgeInterval(state, sample, {
          checks: o.checks,
          alpha: o.alpha,
          minRequests: o.minRequests,
          baselineName: 'v1',
          candidateName: 'v2',
          candidateWeight: o.steps[step]!,
        });
        state = r.state;
        lastMessage = r.message;
        if (r.verdict === 'failing') decided = 'rolledBack';
        else if (r.verdict === 'passing') {
          step++;
          state = startStep(state);
          if (step >= o.steps.length) decided = 'promoted';
        }
        if (decided !== null) {
          decidedAt = t;
          decidedFailed = failedRequests;
          decidedServed = candidateRequests;
        }
      }
    }
    if (fl && flResult === null) {
      const s = drawn.get(o.steps[Math.min(flStep, o.steps.length - 1)]!)!;
      flFailed += s.candidate.failures;
      flPending.push(s);
      if (t % fl.intervalSeconds === 0) {
        const c = flPending.map((p) => p.candidate);
        flPending = [];
        const requests = c.reduce((a, x) => a + x.requests, 0);
        const failures = c.reduce((a, x) => a + x.failures, 0);
        const latencies = c.flatMap((x) => x.latencies).sort((a, b) => a - b);
        const p99 = latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)]! : 0;
        // "no values": Flagger counts a failed check when the query has nothing to return.
        const ok = requests > 0 && (100 * (requests - failures)) / requests >= fl.minSuccess && p99 <= fl.maxP99Ms;
        if (!ok) flFailedChecks++;
        if (flFailedChecks >= fl.threshold) flResult = 'rolledBack';
        else if (ok) {
          flStep++;
          if (flStep >= o.steps.length) flResult = 'promoted';
        }
        if (flResult !== null) flAt = t;
      }
    }
    if (decided !== null && (!fl || flResult !== null)) break;
  }
  return {
    result: decided ?? 'undecided',
    seconds: decidedAt,
    failedRequests: decided === null ? failedRequests : decidedFailed,
    candidateRequests: decided === null ? candidateRequests : decidedServed,
    lastMessage,
    flagger: fl ? { result: flResult ?? 'undecided', seconds: flAt, failedRequests: flFailed } : null,
  };
}
