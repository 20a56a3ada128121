import { atMost, type BenchmarkResult, info } from './bench-report.js';
import { type BenchContext, startProxy, startUpstreams } from './bench-context.js';
import { type FixedRateResult, fixedRateLoad, pairedFixedRateLoad } from './http-load.js';
import { median, round } from './percentiles.js';
import { splitService, writeRouteFile } from './route-files.js';

/**
 * Benchmark 2: latency one proxy hop adds at a fixed 1000 req/s: open-loop load sent at the same ticks straight at
 * the upstream and through the proxy (1000 req/s each, paired, so the generator's own hiccups hit both alike); the
 * added latency is the median over rounds of (proxy - direct) at p50 and p99.
 */
export async function addedLatencyBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const rate = 1000;
  const seconds = ctx.smoke ? 1 : 5;
  const rounds = ctx.smoke ? 1 : 5;
  const upstreams = await startUpstreams(ctx, ['v1', 'v2']);
  const [a, b] = upstreams.addresses as [string, string];
  const config = writeRouteFile(ctx.workDir, 'latency.yaml', [splitService('reviews', a, b, [50, 50], true)]);
  const proxy = await startProxy(ctx, ['--config', config, '--workers', '1']);
  const direct = `http://${a}`;
  const via = `http://127.0.0.1:${proxy.port}`;
  // Warm both paths (connections, JIT) before measuring.
  await fixedRateLoad({ origin: direct, rate, seconds: 0.5 });
  await fixedRateLoad({ origin: via, rate, seconds: 0.5 });
  const raw: string[] = [];
  const d50: number[] = [];
  const d99: number[] = [];
  let failed = 0;
  const runs: { direct: FixedRateResult; proxy: FixedRateResult }[] = [];
  for (let r = 1; r <= rounds; r++) {
    const [d, p] = (await pairedFixedRateLoad({ origins: [direct, via], rate, seconds })).results as [FixedRateResult, FixedRateResult];
    runs.push({ direct: d, proxy: p });
    failed += d.failed + p.failed;
    d50.push(p.p50! - d.p50!);
    d99.push(p.p99! - d.p99!);
    raw.push(
      `round ${r}: direct p50 ${d.p50?.toFixed(3)} p99 ${d.p99?.toFixed(3)} ms (${d.achievedRate.toFixed(0)} req/s); ` +
        `proxy p50 ${p.p50?.toFixed(3)} p99 ${p.p99?.toFixed(3)} ms (${p.achievedRate.toFixed(0)} req/s)`,
    );
  }
  await proxy.process.stop();
  await upstreams.process.stop();
  const directP99 = median(runs.map((x) => x.direct.p99!));
  const proxyP99 = median(runs.map((x) => x.proxy.p99!));
  return {
    id: 'added-latency',
    title: '2. Added latency of one hop at 1000 req/s',
    status: 'ok',
    figures: [
      atMost('added p99 (proxy - direct)', round(median(d99)!), 0.25, 'ms', {
        peer: `direct p99 ${directP99?.toFixed(3)} ms, proxy p99 ${proxyP99?.toFixed(3)} ms`,
      }),
      info('added p50 (proxy - direct)', round(median(d50)!), 'ms', {
        peer: `direct p50 ${median(runs.map((x) => x.direct.p50!))?.toFixed(3)} ms`,
      }),
      atMost('failed requests', failed, 0, ''),
    ],
    notes: [
      `open-loop ${rate} req/s to each target over 8 keep-alive connections each (undici clients in the bench process), the two targets paired at every tick, ${rounds} rounds x ${seconds} s; upstream: a Node http server in its own process; proxy: \`canary proxy --workers 1\`.`,
      'Latency counts from the moment each request is handed to its client; generator delays fall on both paths alike and cancel in the difference.',
    ],
    raw,
  };
}
