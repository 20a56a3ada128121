import { atMost, type BenchmarkResult, info } from './bench-report.js';
import { type BenchContext, startProxy, startUpstreams } from './bench-context.js';
import { startHaproxyPeer } from './haproxy-peer.js';
import { type FixedRateResult, fixedRateLoad, pairedFixedRateLoad } from './http-load.js';
import { median, round } from './percentiles.js';
import { splitService, writeRouteFile } from './route-files.js';

/**
 * Benchmark 2: latency one proxy hop adds at a fixed 1000 req/s: open-loop load sent at the same ticks straight at
 * the upstream and through the proxy (1000 req/s each, paired, so the generator's own hiccups hit both alike); the
 * added latency is the median over rounds of (proxy - direct) at p50 and p99. HAProxy, on the same ticks, is the peer.
 */
export async function addedLatencyBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const rate = 1000;
  const seconds = ctx.smoke ? 1 : 5;
  const rounds = ctx.smoke ? 1 : 5;
  const upstreams = await startUpstreams(ctx, ['v1', 'v2']);
  const [a, b] = upstreams.addresses as [string, string];
  const config = writeRouteFile(ctx.workDir, 'latency.yaml', [splitService('reviews', a, b, [50, 50], true)]);
  const proxy = await startProxy(ctx, ['--config', config, '--workers', '1']);
  // HAProxy doing the same 50/50 split, on the same ticks: what one hop of the reference proxy adds on this machine.
  const haproxy = await startHaproxyPeer(ctx, a, b);
  const targets = [`http://${a}`, `http://127.0.0.1:${proxy.port}`, ...(haproxy ? [`http://127.0.0.1:${haproxy.port}`] : [])];
  // Warm every path (connections, JIT) before measuring.
  for (const origin of targets) await fixedRateLoad({ origin, rate, seconds: 0.5 });
  const raw: string[] = [];
  const ours = { d50: [] as number[], d99: [] as number[] };
  const peer = { d50: [] as number[], d99: [] as number[] };
  const direct = { p50: [] as number[], p99: [] as number[] };
  let failed = 0;
  const show = (name: string, r: FixedRateResult): string =>
    `${name} p50 ${r.p50?.toFixed(3)} p99 ${r.p99?.toFixed(3)} ms (${r.achievedRate.toFixed(0)} req/s)`;
  for (let round = 1; round <= rounds; round++) {
    const [d, p, h] = (await pairedFixedRateLoad({ origins: targets, rate, seconds })).results as [
      FixedRateResult,
      FixedRateResult,
      FixedRateResult | undefined,
    ];
    failed += d.failed + p.failed;
    direct.p50.push(d.p50!);
    direct.p99.push(d.p99!);
    ours.d50.push(p.p50! - d.p50!);
    ours.d99.push(p.p99! - d.p99!);
    if (h) {
      peer.d50.push(h.p50! - d.p50!);
      peer.d99.push(h.p99! - d.p99!);
    }
    raw.push(`round ${round}: ${show('direct', d)}; ${show('ours', p)}${h ? `; ${show('haproxy', h)}` : ''}`);
  }
  await proxy.process.stop();
  await haproxy?.process.stop();
  await upstreams.process.stop();
  const ms = (v: number | null): string => `${v?.toFixed(3)} ms`;
  const peerNote = haproxy ? `haproxy adds p99 ${ms(median(peer.d99))}; ` : 'haproxy not installed; ';
  return {
    id: 'added-latency',
    title: '2. Added latency of one hop at 1000 req/s',
    status: 'ok',
    figures: [
      atMost('added p99 (proxy - direct)', round(median(ours.d99)!), 0.25, 'ms', {
        peer: `${peerNote}direct p99 ${ms(median(direct.p99))}`,
      }),
      info('added p50 (proxy - direct)', round(median(ours.d50)!), 'ms', {
        peer: `${haproxy ? `haproxy adds p50 ${ms(median(peer.d50))}; ` : ''}direct p50 ${ms(median(direct.p50))}`,
      }),
      atMost('failed requests', failed, 0, ''),
    ],
    notes: [
      `open-loop ${rate} req/s to each target over 8 keep-alive connections each (undici clients in the bench process), all targets paired at every tick, ${rounds} rounds x ${seconds} s; upstream: a Node http server in its own process; ours: \`canary proxy --workers 1\`; peer: HAProxy (1 thread) with the same split.`,
      'Latency counts from the moment each request is handed to its client; generator delays fall on every path alike and cancel in the differences.',
    ],
    raw,
  };
}
