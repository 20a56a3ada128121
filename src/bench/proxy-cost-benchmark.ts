import { atMost, type BenchmarkResult, info } from './bench-report.js';
import { type BenchContext, startProxy, startUpstreams } from './bench-context.js';
import { startHaproxyPeer } from './haproxy-peer.js';
import { fixedRateLoad } from './http-load.js';
import { canReadProc, cpuSeconds, rssBytes } from './process-usage.js';
import { round } from './percentiles.js';
import { largeServices, writeRouteFile } from './route-files.js';
import { join } from 'node:path';

interface Usage {
  vcpuPer1000: number;
  rssMb: number;
  rate: number;
  failed: number;
}

/** CPU (from /proc) of `pid` over a fixed-rate run, normalised to 1000 req/s, and its largest RSS meanwhile. */
async function measure(pid: number, origin: string, seconds: number, headers: Record<string, string>): Promise<Usage> {
  let maxRss = rssBytes(pid);
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, rssBytes(pid));
  }, 200);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const r = await fixedRateLoad({ origin, rate: 1000, seconds, headers });
  const cpu1 = cpuSeconds(pid);
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  maxRss = Math.max(maxRss, rssBytes(pid));
  const vcpu = (cpu1 - cpu0) / wall;
  return { vcpuPer1000: (vcpu * 1000) / r.achievedRate, rssMb: maxRss / 2 ** 20, rate: r.achievedRate, failed: r.failed };
}

/**
 * Benchmark 5: what one proxy process costs at 1000 req/s with 1,000 services (3 versions, 5 rules each) in its
 * table: CPU time from /proc/<pid>/stat over the run (vCPU per 1000 req/s) and peak RSS; HAProxy doing a plain
 * 50/50 split at the same rate is the peer.
 */
export async function proxyCostBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const base = { id: 'cost', title: '5. Cost per proxy process (1,000 services, 1000 req/s)' };
  if (!canReadProc()) return { ...base, status: 'skipped', figures: [], notes: ['/proc is not readable here (Linux only)'] };
  const seconds = ctx.smoke ? 2 : 10;
  const upstreams = await startUpstreams(ctx, ['v1', 'v2', 'v3']);
  const [a, b, c] = upstreams.addresses as [string, string, string];
  const config = writeRouteFile(ctx.workDir, 'cost.yaml', largeServices(1000, [a, b, c]));
  const proxy = await startProxy(ctx, ['--config', config, '--workers', '1']);
  const idleRss = rssBytes(proxy.process.pid) / 2 ** 20;
  const headers = { host: 'svc-0500' };
  await fixedRateLoad({ origin: `http://127.0.0.1:${proxy.port}`, rate: 1000, seconds: 1, headers });
  const ours = await measure(proxy.process.pid, `http://127.0.0.1:${proxy.port}`, seconds, headers);
  await proxy.process.stop();
  const haproxy = await startHaproxyPeer(ctx, a, b);
  let peer: Usage | null = null;
  if (haproxy) {
    await fixedRateLoad({ origin: `http://127.0.0.1:${haproxy.port}`, rate: 1000, seconds: 1 });
    peer = await measure(haproxy.process.pid, `http://127.0.0.1:${haproxy.port}`, seconds, {});
    await haproxy.process.stop();
  }
  // The Node floor: a bare node:http + undici proxy (no routing, no header work) at the same rate.
  const bare = ctx.processes.start(process.execPath, [join(ctx.repoRoot, 'dist', 'bench', 'bare-node-proxy.js'), a, b]);
  const bareOrigin = `http://127.0.0.1:${(await ctx.processes.waitForOutput(bare, /listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]}`;
  await fixedRateLoad({ origin: bareOrigin, rate: 1000, seconds: 1 });
  const floor = await measure(bare.pid, bareOrigin, seconds, {});
  await bare.stop();
  await upstreams.process.stop();
  const floorCpu = `bare node:http+undici proxy ${floor.vcpuPer1000.toFixed(3)} vCPU (ours ${(ours.vcpuPer1000 / floor.vcpuPer1000).toFixed(2)}x)`;
  const peerCpu = `${peer ? `haproxy ${peer.vcpuPer1000.toFixed(3)} vCPU (ours ${(ours.vcpuPer1000 / peer.vcpuPer1000).toFixed(1)}x)` : 'haproxy not installed'}; ${floorCpu}`;
  const peerRss = `${peer ? `haproxy ${peer.rssMb.toFixed(1)} MB` : 'haproxy not installed'}; bare Node proxy ${floor.rssMb.toFixed(1)} MB (both one service)`;
  return {
    ...base,
    status: 'ok',
    figures: [
      atMost('CPU per 1000 req/s', round(ours.vcpuPer1000), 0.05, 'vCPU', { peer: peerCpu }),
      atMost('peak RSS under load', round(ours.rssMb, 1), 80, 'MB', { peer: peerRss }),
      info('RSS with the table loaded, idle', round(idleRss, 1), 'MB'),
      atMost('failed requests', ours.failed, 0, ''),
    ],
    notes: [
      `open-loop 1000 req/s for ${seconds} s (achieved ${ours.rate.toFixed(0)} req/s) to host svc-0500, whose request misses 4 rules (header, cookie, URI regex, query) before the 80/20 default; CPU = (utime+stime delta) / wall time, normalised to 1000 req/s.`,
    ],
  };
}
