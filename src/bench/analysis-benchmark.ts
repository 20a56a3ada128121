import { type AnalysisCheck, simulateRelease, type SimulationOptions } from '../core/analysis/index.js';
import { atMost, type BenchmarkResult, type Figure, info } from './bench-report.js';
import type { BenchContext } from './bench-context.js';
import { runAnalysisDemo } from './analysis-demo-run.js';

/**
 * Benchmark 9: automated analysis against Flagger's rule. A seeded in-process simulation (many runs per case) of
 * a canary at steps 20/50/100 %: for candidates with extra error rates of 100, 30, 5 and 1 % and a +50 ms latency
 * regression, at 1, 10 and 100 req/s, the time from the candidate's first request to its rollback and the
 * requests it failed meanwhile, under our judge and under Flagger's interval x threshold rule at its defaults
 * (1 m, 5 failed checks; request-success-rate >= 99 %, request-duration p99 <= 500 ms) on the very same requests;
 * then the share of healthy candidates rolled back. `e2e` adds one run through real processes (the demo).
 */

export const ANALYSIS_BENCH_CHECKS: AnalysisCheck[] = [
  { metric: 'successRate', min: 99 },
  { metric: 'latencyP99', maxMs: 500, maxIncreasePercent: 20 },
];

const BASELINE = { errorRate: 0.001, medianMs: 8 };
const FLAGGER = { intervalSeconds: 60, threshold: 5, minSuccess: 99, maxP99Ms: 500 };

export interface AnalysisCase {
  name: string;
  candidate: { errorRate: number; medianMs: number; addedMs?: number };
}

export const ANALYSIS_CASES: AnalysisCase[] = [
  { name: '+100 % errors', candidate: { errorRate: 1, medianMs: 8 } },
  { name: '+30 % errors', candidate: { errorRate: 0.301, medianMs: 8 } },
  { name: '+5 % errors', candidate: { errorRate: 0.051, medianMs: 8 } },
  { name: '+1 % errors', candidate: { errorRate: 0.011, medianMs: 8 } },
  { name: '+50 ms latency', candidate: { errorRate: 0.001, medianMs: 8, addedMs: 50 } },
];

export const ANALYSIS_RATES = [1, 10, 100];

interface CellSummary {
  detected: number;
  runs: number;
  medianSeconds: number | null;
  medianFailed: number | null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface AnalysisSimulationTable {
  rows: { case: string; rate: number; ours: CellSummary; flagger: CellSummary }[];
  healthy: {
    rate: number;
    runs: number;
    oursRolledBack: number;
    flaggerRolledBack: number;
    oursPromoted: number;
    oursMedianSeconds: number | null;
  }[];
  intervalSeconds: number;
  alpha: number;
}

/** The simulation half: `runs` seeded runs per case and rate, `healthyRuns` healthy candidates per rate. */
export function runAnalysisSimulation(runs: number, healthyRuns: number, horizonSeconds = 1800): AnalysisSimulationTable {
  const intervalSeconds = 5;
  const alpha = 0.01;
  const base: Omit<SimulationOptions, 'seed' | 'rate' | 'candidate'> = {
    intervalSeconds,
    steps: [20, 50, 100],
    checks: ANALYSIS_BENCH_CHECKS,
    alpha,
    minRequests: 20,
    baseline: BASELINE,
    horizonSeconds,
    flagger: FLAGGER,
  };
  const rows: AnalysisSimulationTable['rows'] = [];
  for (const c of ANALYSIS_CASES) {
    for (const rate of ANALYSIS_RATES) {
      const ours = { seconds: [] as number[], failed: [] as number[] };
      const theirs = { seconds: [] as number[], failed: [] as number[] };
      for (let i = 0; i < runs; i++) {
        const o = simulateRelease({ ...base, seed: 1000 * rate + i, rate, candidate: c.candidate });
        if (o.result === 'rolledBack') {
          ours.seconds.push(o.seconds!);
          ours.failed.push(o.failedRequests);
        }
        if (o.flagger?.result === 'rolledBack') {
          theirs.seconds.push(o.flagger.seconds!);
          theirs.failed.push(o.flagger.failedRequests);
        }
      }
      const summary = (x: { seconds: number[]; failed: number[] }): CellSummary => ({
        detected: x.seconds.length,
        runs,
        medianSeconds: median(x.seconds),
        medianFailed: median(x.failed),
      });
      rows.push({ case: c.name, rate, ours: summary(ours), flagger: summary(theirs) });
    }
  }
  const healthy: AnalysisSimulationTable['healthy'] = [];
  for (const rate of ANALYSIS_RATES) {
    let oursRolledBack = 0;
    let flaggerRolledBack = 0;
    let oursPromoted = 0;
    const times: number[] = [];
    for (let i = 0; i < healthyRuns; i++) {
      const o = simulateRelease({ ...base, seed: 7_000_000 + 1000 * rate + i, rate, candidate: BASELINE });
      if (o.result === 'rolledBack') oursRolledBack++;
      if (o.result === 'promoted') {
        oursPromoted++;
        times.push(o.seconds!);
      }
      if (o.flagger?.result === 'rolledBack') flaggerRolledBack++;
    }
    healthy.push({ rate, runs: healthyRuns, oursRolledBack, flaggerRolledBack, oursPromoted, oursMedianSeconds: median(times) });
  }
  return { rows, healthy, intervalSeconds, alpha };
}

const cellText = (c: CellSummary) =>
  c.detected === 0
    ? `not rolled back in ${c.runs} runs`
    : `${c.medianSeconds} s, ${c.medianFailed} failed requests${c.detected < c.runs ? ` (rolled back in ${c.detected} of ${c.runs})` : ''}`;

/** The table as docs/benchmarks.md shows it. */
export function analysisTableMarkdown(t: AnalysisSimulationTable): string[] {
  const lines = [
    '| candidate | req/s | ours: time to rollback, failed requests (median) | Flagger 1 m x 5: time, failed requests (median) |',
    '| --- | --- | --- | --- |',
  ];
  for (const r of t.rows) lines.push(`| ${r.case} | ${r.rate} | ${cellText(r.ours)} | ${cellText(r.flagger)} |`);
  lines.push('');
  lines.push('| healthy candidate | req/s | ours: rolled back | ours: promoted (median time) | Flagger: rolled back |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const h of t.healthy)
    lines.push(
      `| same error rate and latency as the baseline | ${h.rate} | ${h.oursRolledBack} of ${h.runs} | ${h.oursPromoted} of ${h.runs} (${h.oursMedianSeconds ?? 'n/a'} s) | ${h.flaggerRolledBack} of ${h.runs} |`,
    );
  return lines;
}

export async function analysisBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const runs = ctx.smoke ? 5 : 200;
  const healthyRuns = ctx.smoke ? 20 : 1000;
  const t = runAnalysisSimulation(runs, healthyRuns, ctx.smoke ? 600 : 1800);
  const figures: Figure[] = [];
  for (const r of t.rows) {
    figures.push(
      info(`${r.case} at ${r.rate} req/s: time to rollback (median)`, r.ours.medianSeconds, 's', {
        peer: r.flagger.medianSeconds === null ? 'Flagger: not rolled back' : `Flagger ${r.flagger.medianSeconds} s`,
        note: `failed requests ${r.ours.medianFailed ?? 'n/a'} vs Flagger ${r.flagger.medianFailed ?? 'n/a'}; rolled back ${r.ours.detected}/${r.ours.runs} vs ${r.flagger.detected}/${r.flagger.runs}`,
      }),
    );
  }
  const falseRollbacks = t.healthy.reduce((a, h) => a + h.oursRolledBack, 0);
  const healthyTotal = t.healthy.reduce((a, h) => a + h.runs, 0);
  figures.push(
    atMost('healthy candidates rolled back (all rates)', Math.round((falseRollbacks / healthyTotal) * 10000) / 100, 1, '%', {
      peer: `Flagger ${Math.round((t.healthy.reduce((a, h) => a + h.flaggerRolledBack, 0) / healthyTotal) * 10000) / 100} %`,
      note: `${falseRollbacks} of ${healthyTotal}, alpha ${t.alpha}`,
    }),
  );
  const notes: string[] = [];
  if (!ctx.smoke) {
    // One run end to end: real proxy and workload processes (the smoke run skips it to stay fast).
    const demo = await runAnalysisDemo();
    figures.push(
      atMost('demo end to end: FAULT_RATE=0.3 at 20 %, ~20 req/s: time to rollback', demo.secondsToRollback, 20, 's', {
        note: `from the candidate's first request; ${demo.pages} product pages sent`,
      }),
      atMost('demo end to end: product pages that lost their reviews', demo.pagesLosingReviews, 15, 'pages', {
        note: demo.message.slice(0, 200),
      }),
    );
  } else notes.push('smoke: the end-to-end demo run is skipped');
  return {
    id: 'analysis',
    title: '9. Automated analysis: time to rollback and failed requests, beside Flagger (1 m x 5)',
    status: 'ok',
    figures,
    notes: [
      ...notes,
      `seeded simulation, ${runs} runs per case and rate (${healthyRuns} healthy runs per rate); steps 20/50/100 %, our interval ${t.intervalSeconds} s, alpha ${t.alpha}, minRequests 20, checks successRate min 99 and latencyP99 maxMs 500 with maxIncreasePercent 20; baseline 0.1 % errors, median 8 ms.`,
      'Flagger\'s rule on the same requests: a check every 60 s fails when the candidate\'s success rate over the minute is below 99 %, its p99 above 500 ms, or it had no requests ("no values"); 5 failed checks roll back.',
      "times are from the candidate's first request to the check that decides; the real system adds the telemetry delay (about 1-2 s) and the route push.",
    ],
    raw: analysisTableMarkdown(t),
  };
}
