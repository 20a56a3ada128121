import { addedLatencyBenchmark } from './added-latency-benchmark.js';
import { analysisBenchmark } from './analysis-benchmark.js';
import { type BenchmarkResult, type BenchReport, figureLine } from './bench-report.js';
import { type BenchContext, createBenchContext } from './bench-context.js';
import { configPropagationBenchmark } from './config-propagation-benchmark.js';
import { controlPlaneScaleBenchmark } from './control-plane-scale-benchmark.js';
import { cpuProfileBenchmark } from './cpu-profile-benchmark.js';
import { machineInfo } from './machine-info.js';
import { proxyCostBenchmark } from './proxy-cost-benchmark.js';
import { splitAccuracyBenchmark } from './split-accuracy-benchmark.js';
import { throughputBenchmark } from './throughput-benchmark.js';
import { workersBenchmark } from './workers-benchmark.js';

export interface BenchOptions {
  smoke: boolean;
  /** Benchmark ids to run; default all. */
  only?: string[];
  /** Where to copy the proxy's .cpuprofile; default none. */
  keepProfileDir?: string;
  command: string;
  log?: (line: string) => void;
}

type Benchmark = (ctx: BenchContext) => Promise<Omit<BenchmarkResult, 'seconds'>>;

export const benchmarkIds = [
  'throughput',
  'added-latency',
  'config-propagation',
  'split-accuracy',
  'cost',
  'control-plane-scale',
  'workers',
  'cpu-profile',
  'analysis',
] as const;

/** Runs the benchmarks one after another (never two at once: they would measure each other) and reports. */
export async function runBenchmarks(options: BenchOptions): Promise<BenchReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const all: Record<(typeof benchmarkIds)[number], Benchmark> = {
    throughput: throughputBenchmark,
    'added-latency': addedLatencyBenchmark,
    'config-propagation': configPropagationBenchmark,
    'split-accuracy': splitAccuracyBenchmark,
    cost: proxyCostBenchmark,
    'control-plane-scale': controlPlaneScaleBenchmark,
    workers: workersBenchmark,
    'cpu-profile': (ctx) => cpuProfileBenchmark(ctx, options.keepProfileDir),
    analysis: analysisBenchmark,
  };
  const unknown = (options.only ?? []).filter((id) => !(benchmarkIds as readonly string[]).includes(id));
  if (unknown.length > 0) throw new Error(`--only: unknown benchmark ${unknown.join(', ')}; known: ${benchmarkIds.join(', ')}`);
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    mode: options.smoke ? 'smoke' : 'full',
    command: options.command,
    machine: machineInfo(),
    results: [],
  };
  const ctx = createBenchContext(options.smoke, log);
  const onExit = () => ctx.processes.killAll();
  process.once('exit', onExit);
  try {
    for (const id of benchmarkIds) {
      if (options.only && !options.only.includes(id)) continue;
      log(`== ${id}${options.smoke ? ' (smoke)' : ''}`);
      const t0 = performance.now();
      let result: BenchmarkResult;
      try {
        result = { ...(await all[id](ctx)), seconds: (performance.now() - t0) / 1000 };
      } catch (err) {
        result = {
          id,
          title: id,
          status: 'failed',
          seconds: (performance.now() - t0) / 1000,
          figures: [],
          notes: [`failed: ${err instanceof Error ? err.message : String(err)}`],
        };
      }
      // Whatever a benchmark left running (it threw half-way) stops before the next one measures.
      await ctx.processes.stopAll();
      report.results.push(result);
      for (const f of result.figures) log(`  ${figureLine(f)}`);
      for (const n of result.notes) if (result.status !== 'ok') log(`  ${result.status}: ${n}`);
      log(`  (${result.status}, ${result.seconds.toFixed(1)} s)`);
    }
  } finally {
    process.off('exit', onExit);
    await ctx.dispose();
  }
  return report;
}
