import { describe, expect, it } from 'vitest';
import { InputError, parseOrThrow } from '../index.js';
import {
  AnalysisSpec,
  analysisPlan,
  type AnalysisCheck,
  type IntervalSample,
  type JudgeOptions,
  type JudgeResult,
  judgeInterval,
  mannWhitney,
  newJudgeState,
  newMixture,
  normalUpperTail,
  RELATIVE_RISKS,
  rejects,
  simulateRelease,
  spentAlpha,
  updateComparison,
  weightAt,
} from './index.js';
import { SIMULATION_EDGES } from './analysis-simulation.js';

/** Judges the same interval `times` times in a row (with `untilFailing`, stops at a failing verdict): the last result. */
function judgeRepeatedly(times: number, sample: IntervalSample, options: JudgeOptions, untilFailing = false): JudgeResult {
  let r = judgeInterval(newJudgeState(), sample, options);
  for (let i = 1; i < times && !(untilFailing && r.verdict === 'failing'); i++) r = judgeInterval(r.state, sample, options);
  return r;
}

const parse = (input: unknown) => parseOrThrow(AnalysisSpec, input, ['analysis']);
const problem = (input: unknown): string => {
  try {
    parse(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('the analysis block', () => {
  it('fills the defaults once: 5 s interval, steps 10/50/100, success rate and latency checks', () => {
    const plan = analysisPlan(parse({}));
    expect(plan.intervalMs).toBe(5000);
    expect(plan.steps).toEqual([{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }]);
    expect(plan.checks.map((c) => c.metric)).toEqual(['successRate', 'latencyP99']);
    expect(plan.minRequests).toBe(20);
    expect(plan.alpha).toBe(0.01);
  });

  it("takes DESIGN.md's example", () => {
    const plan = analysisPlan(
      parse({
        interval: '2s',
        steps: [{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }],
        checks: [
          { metric: 'successRate', min: 99 },
          { metric: 'latencyP99', maxMs: 500 },
          { metric: 'prometheus', query: 'sum(rate(x[1m]))', max: 0.01 },
        ],
        minRequests: 20,
        onFailure: 'rollback',
        webhooks: [{ on: 'preRollout', url: 'http://127.0.0.1:9/hook', timeout: '5s' }],
      }),
    );
    expect(plan.intervalMs).toBe(2000);
    expect(plan.webhooks[0]).toEqual({
      on: 'preRollout',
      name: 'preRollout-0',
      url: 'http://127.0.0.1:9/hook',
      timeoutMs: 5000,
      retries: 2,
    });
    expect(weightAt(plan.steps, 1)).toBe(20);
    expect(weightAt(plan.steps, 3)).toBe(50);
  });

  it('says what is wrong and where', () => {
    expect(problem({ steps: [{ setWeight: 20, pause: {} }] })).toContain('analysis.steps.0: a step is {"setWeight": 20} or {"pause"');
    expect(problem({ steps: [{}] })).toContain('got neither');
    expect(problem({ steps: [{ setWeight: 120 }] })).toContain('analysis.steps.0.setWeight: setWeight must be from 0 to 100');
    expect(problem({ steps: [] })).toContain('steps must list at least one step');
    expect(problem({ interval: '10ms' })).toContain('analysis.interval: interval must be between 1s and 10m, got "10ms"');
    expect(problem({ interval: 'soon' })).toContain('interval must be a duration');
    expect(problem({ checks: [{ metric: 'errorRate' }] })).toContain('metric must be "successRate", "latencyP99" or "prometheus"');
    expect(problem({ checks: [{ metric: 'prometheus', query: 'up' }] })).toContain('needs "max" or "min"');
    expect(problem({ checks: [{ metric: 'successRate', min: 101 }] })).toContain('min must be a percentage from 0 to 100');
    expect(problem({ webhooks: [{ on: 'preRollout', url: 'file:///etc/passwd' }] })).toContain('url must be an http:// or https:// URL');
    expect(problem({ webhooks: [{ on: 'preRollout', url: 'http://u:p@127.0.0.1/' }] })).toContain('must not carry a user name');
    expect(problem({ webhooks: [{ on: 'later', url: 'http://127.0.0.1/' }] })).toContain('on must be "preRollout"');
    expect(problem({ intervals: '5s' })).toContain('unknown field "intervals": the fields are interval, steps');
    expect(problem({ alpha: 0.5 })).toContain('alpha must be above 0 and at most 0.2');
    expect(problem({ checks: [{ metric: 'successRate' }, { metric: 'successRate', min: 99 }] })).toContain('"successRate" is listed twice');
  });
});

describe('the comparison test on error rates', () => {
  it('rejects after a handful of candidate failures when the baseline has none', () => {
    const m = newMixture(RELATIVE_RISKS.length);
    let failures = 0;
    // 20 % of 20 req/s to the candidate; it fails 30 % of its requests, the baseline none.
    for (let i = 0; i < 20 && !rejects(m, 0.0025); i++) {
      updateComparison(m, { requests: 8, failures: 2 }, { requests: 32, failures: 0 });
      failures += 2;
    }
    expect(rejects(m, 0.0025)).toBe(true);
    expect(failures).toBeLessThanOrEqual(10);
  });

  it('does not move when both fail at their share', () => {
    const m = newMixture(RELATIVE_RISKS.length);
    for (let i = 0; i < 1000; i++) updateComparison(m, { requests: 100, failures: 1 }, { requests: 400, failures: 4 });
    expect(rejects(m, 0.01)).toBe(false);
  });
});

describe('the Mann-Whitney test on histogram bins', () => {
  /** U by brute force over the expanded samples: the definition, ties counted one half. */
  const bruteU = (c: number[], b: number[]) => {
    const xs = c.flatMap((n, i) => Array<number>(n).fill(i));
    const ys = b.flatMap((n, i) => Array<number>(n).fill(i));
    let u = 0;
    for (const x of xs) for (const y of ys) u += x > y ? 1 : x === y ? 0.5 : 0;
    return u;
  };

  it('counts ties within a bin as one half, as the definition does', () => {
    const c = [0, 3, 5, 2, 7, 1];
    const b = [4, 6, 2, 0, 1, 3];
    expect(mannWhitney(c, b)!.u).toBe(bruteU(c, b));
  });

  it('finds a shifted candidate slower and an identical one not', () => {
    const slow = mannWhitney([0, 0, 5, 20, 30], [10, 30, 10, 5, 0])!;
    expect(slow.pValue).toBeLessThan(1e-6);
    expect(slow.effect).toBeGreaterThan(0.8);
    const same = mannWhitney([5, 10, 20, 10, 5], [10, 20, 40, 20, 10])!;
    expect(same.pValue).toBeGreaterThan(0.3);
    expect(mannWhitney([1, 2], [3, 4])).toBeNull();
  });

  it('has a normal tail accurate far out (the spent alpha gets small)', () => {
    expect(normalUpperTail(0)).toBeCloseTo(0.5, 7);
    expect(normalUpperTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(normalUpperTail(5) / 2.866515718791939e-7).toBeCloseTo(1, 4);
    expect(normalUpperTail(-3)).toBeCloseTo(0.99865, 5);
  });

  it('spends at most alpha over any number of looks', () => {
    let total = 0;
    for (let k = 1; k <= 100_000; k++) total += spentAlpha(0.01, k);
    expect(total).toBeLessThan(0.01);
    expect(total).toBeGreaterThan(0.0099);
  });
});

const checks: AnalysisCheck[] = [
  { metric: 'successRate', min: 99 },
  { metric: 'latencyP99', maxMs: 500, maxIncreasePercent: 20 },
];

describe('the judge', () => {
  const base = { edges: SIMULATION_EDGES, fromMs: 0, toMs: 5000 };
  const opts = { checks, alpha: 0.01, minRequests: 20, baselineName: 'v1', candidateName: 'v2', candidateWeight: 20 };

  it('says inconclusive without traffic, with how many requests it needs', () => {
    const r = judgeInterval(
      newJudgeState(),
      { ...base, candidate: { requests: 6, failures: 0, latency: [10, 6] }, baseline: { requests: 24, failures: 0, latency: [10, 24] } },
      opts,
    );
    expect(r.verdict).toBe('inconclusive');
    expect(r.message).toBe('inconclusive: needs 14 more requests to the candidate v2 (6 of minRequests 20 in this step)');
    const none = judgeInterval(
      newJudgeState(),
      { ...base, candidate: { requests: 0, failures: 0, latency: [] }, baseline: { requests: 0, failures: 0, latency: [] } },
      opts,
    );
    expect(none.verdict).toBe('inconclusive');
    expect(none.message).toContain('needs 20 more requests to the candidate v2');
    expect(none.message).toContain('20 more to the baseline v1');
  });

  it("fails with a message naming the metric, both versions' values, the counts and the bound", () => {
    const r = judgeRepeatedly(
      5,
      {
        ...base,
        candidate: { requests: 10, failures: 3, latency: [10, 10] },
        baseline: { requests: 40, failures: 0, latency: [10, 40] },
      },
      opts,
      true,
    );
    expect(r.verdict).toBe('failing');
    expect(r.message).toMatch(
      /^successRate: candidate v2 \d+\.\d\d % \(\d+ of \d+ requests succeeded\) (is below min 99 %|vs baseline v1 100\.00 % \(\d+ of \d+ requests succeeded\) over the same seconds); .*likelihood ratio \S+ >= bound 400 \(alpha 0\.0025\)$/,
    );
    expect(r.message).toContain('baseline v1 100.00 %');
    // A failure is final: a good interval after it does not clear it.
    const after = judgeInterval(
      r.state,
      {
        ...base,
        candidate: { requests: 100, failures: 0, latency: [10, 100] },
        baseline: { requests: 400, failures: 0, latency: [10, 400] },
      },
      opts,
    );
    expect(after.verdict).toBe('failing');
  });

  it('blames the p99 bound on the candidate only when it is slower than the baseline over the same seconds', () => {
    const latencyOnly = { ...opts, checks: [{ metric: 'latencyP99' as const, maxMs: 500 }] };
    const slowBin = SIMULATION_EDGES.indexOf(1000) + 1; // over 1 s
    const fastBin = 10;
    const run = (baselineSlow: boolean) =>
      judgeRepeatedly(
        10,
        {
          ...base,
          candidate: { requests: 40, failures: 0, latency: [fastBin, 30, slowBin, 10] },
          baseline: { requests: 160, failures: 0, latency: baselineSlow ? [fastBin, 120, slowBin, 40] : [fastBin, 160] },
        },
        latencyOnly,
      );
    const slowEverywhere = run(true);
    expect(slowEverywhere.verdict).not.toBe('failing');
    expect(slowEverywhere.checks[0]!.message).toContain('slower than the baseline: Mann-Whitney p');
    const slowCandidate = run(false);
    expect(slowCandidate.verdict).toBe('failing');
    expect(slowCandidate.message).toMatch(
      /^latencyP99: candidate v2 p99 [\d.]+ ms \(\d+ of \d+ requests over 500 ms\) exceeds maxMs 500; baseline v1 p99/,
    );
  });

  it('passes a healthy candidate with its numbers', () => {
    const r = judgeInterval(
      newJudgeState(),
      {
        ...base,
        candidate: { requests: 50, failures: 0, latency: [9, 25, 10, 25] },
        baseline: { requests: 200, failures: 0, latency: [9, 100, 10, 100] },
      },
      opts,
    );
    expect(r.verdict).toBe('passing');
    expect(r.totals.candidate).toMatchObject({ requests: 50, successRate: 100 });
    expect(r.message).toMatch(/^passing: candidate v2 100\.00 % of 50 requests, p99 [\d.]+ ms; baseline v1 100\.00 % of 200/);
  });
});

/**
 * Property-style: over many seeded simulations, how often the judge rolls back a healthy candidate (the same
 * error rate and latency as the baseline) while it walks every step — looking at every interval — must stay
 * within alpha. A fixed-sample test repeated at every look would exceed it many times over.
 */
describe('false alarms over seeded simulations', () => {
  const healthy = { errorRate: 0.01, medianMs: 8 };
  const run = (seed: number, rate: number, alpha: number, steps = [20, 20, 20, 20, 20, 20, 50, 50, 50, 100]) =>
    simulateRelease({
      seed,
      rate,
      intervalSeconds: 2,
      steps,
      checks,
      alpha,
      minRequests: 20,
      baseline: healthy,
      candidate: healthy,
      horizonSeconds: 600,
    });

  it('rolls back healthy candidates at most alpha of the time, whatever the traffic', () => {
    // A loose alpha so that a broken guarantee shows within a test's budget of runs.
    const alpha = 0.1;
    for (const rate of [5, 50]) {
      const runs = 300;
      let rolledBack = 0;
      for (let seed = 1; seed <= runs; seed++) if (run(seed * 7919 + rate, rate, alpha).result === 'rolledBack') rolledBack++;
      // Binomial noise around alpha: 3 standard deviations.
      expect(rolledBack / runs, `rate ${rate}`).toBeLessThanOrEqual(alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / runs));
    }
  });

  /** Steps 20/50/100 at alpha 0.01 against a flawless baseline (no errors, 8 ms median). */
  const threeSteps = (
    o: Pick<Parameters<typeof simulateRelease>[0], 'seed' | 'rate' | 'intervalSeconds' | 'candidate' | 'horizonSeconds'>,
  ) => simulateRelease({ ...o, steps: [20, 50, 100], checks, alpha: 0.01, minRequests: 20, baseline: { errorRate: 0, medianMs: 8 } });

  it('catches the demo fault (30 % errors at a 20 % step, 20 req/s) within 20 s nearly always', () => {
    const times: number[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const o = threeSteps({ seed, rate: 20, intervalSeconds: 2, candidate: { errorRate: 0.3, medianMs: 8 }, horizonSeconds: 120 });
      expect(o.result).toBe('rolledBack');
      times.push(o.seconds!);
    }
    times.sort((a, b) => a - b);
    expect(times[Math.floor(times.length * 0.95)]!).toBeLessThanOrEqual(20);
  });

  it('catches +50 ms of latency by the rank test, and promotes healthy candidates when traffic allows', () => {
    const slow = threeSteps({
      seed: 42,
      rate: 10,
      intervalSeconds: 5,
      candidate: { errorRate: 0, medianMs: 8, addedMs: 50 },
      horizonSeconds: 600,
    });
    expect(slow.result).toBe('rolledBack');
    expect(slow.lastMessage).toMatch(/^latencyP99: candidate v2 is slower than baseline v1: median/);
    const ok = run(5, 20, 0.01, [20, 50, 100]);
    expect(ok.result).toBe('promoted');
  });
});
