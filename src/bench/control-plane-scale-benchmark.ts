import { Pool } from 'undici';
import type { RouteTable } from '../core/index.js';
import { OutlierDetector } from '../data-plane/outlier-detector.js';
import { compileSnapshot } from '../data-plane/route-snapshot.js';
import { UpstreamPools } from '../data-plane/upstream-pools.js';
import { atMost, type BenchmarkResult, type Figure, info } from './bench-report.js';
import { type BenchContext, startUpstreams } from './bench-context.js';
import { startBenchControlPlane } from './control-plane-client.js';
import { median, round } from './percentiles.js';
import { rssBytes } from './process-usage.js';
import { largeServices } from './route-files.js';
import { asStored, type LookupFigures, tableOf } from './route-lookup.js';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function timeMs(fn: () => void, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times)!;
}

/**
 * Benchmark 6: control-plane scale. (a) The core's compileRouteTable over 1,000 services x 3 versions x 5 rules
 * and the proxy's compile of the result, in process; (b) a push: PUT one service's routes on a control plane
 * holding those 1,000 services, timed from sending the call until a connected proxy routes by it; (c) the proxy's
 * per-request lookup with 10 and with 1,000 services in its table.
 */
export async function controlPlaneScaleBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const count = 1000;
  const addresses: [string, string, string] = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
  const big = asStored(largeServices(count, addresses));
  const runs = ctx.smoke ? 3 : 15;
  const compileMs = timeMs(() => tableOf(big), runs);
  const bigTable = tableOf(big);
  const pools = new UpstreamPools({ connectionsPerEndpoint: 1, connectTimeoutMs: 1000 });
  const snapshotMs = timeMs(() => compileSnapshot(bigTable, pools, new OutlierDetector()), runs);
  const bigSnap = compileSnapshot(bigTable, pools, new OutlierDetector());
  // What a push costs the proxy: one service's rules changed, the other 999 keep their compiled routers.
  const changed: RouteTable = {
    ...bigTable,
    revision: 2,
    services: bigTable.services.map((s, i) => (i === 500 ? { ...s, rules: [{ route: [{ version: 'v3', weight: 100 }] }] } : s)),
  };
  const recompileMs = timeMs(() => compileSnapshot(changed, pools, new OutlierDetector(), bigSnap), runs);
  await pools.closeAll();
  // The lookup runs in a fresh process holding nothing but the two tables, as a proxy would: measured here, after
  // the other benchmarks have grown this process's heap, the 1,000-service table looked up to 1.6x slower.
  const lookupChild = ctx.processes.start(process.execPath, [
    join(ctx.repoRoot, 'dist', 'bench', 'route-lookup-child.js'),
    ctx.smoke ? 'smoke' : 'full',
  ]);
  const lookupLine = await ctx.processes.waitForOutput(lookupChild, /\{"ns10":.*\}/, 120_000);
  const { ns10, ns1000, ns1000Spread, ratio, spreadRatio } = JSON.parse(lookupLine[0]) as LookupFigures;
  await lookupChild.stop();

  const figures: Figure[] = [
    atMost(`compileRouteTable, ${count} services x 3 versions x 5 rules`, round(compileMs, 2), 100, 'ms'),
    info('proxy compile of that table from scratch (matchers, pickers)', round(snapshotMs, 2), 'ms'),
    info('proxy recompile after one service changed (999 compiled routers reused)', round(recompileMs, 2), 'ms'),
    info('lookup per request, 10 services', round(ns10, 0), 'ns'),
    atMost('lookup per request, 1000 vs 10 services in the table (same 10 services hit)', round(ratio, 2), 1.5, 'x', {
      peer: `${ns1000.toFixed(0)} ns vs ${ns10.toFixed(0)} ns`,
    }),
    info('lookup per request, traffic spread over all 1000 services vs 10 (CPU cache effect)', round(spreadRatio, 2), 'x', {
      peer: `${ns1000Spread.toFixed(0)} ns vs ${ns10.toFixed(0)} ns`,
    }),
  ];
  const notes = [
    'Each service: 5 rules (header exact, cookie exact, URI regex, query exact, then 80/20 weights); lookups hit the default rule after 4 misses, as most requests do. Lookup, in a fresh process holding only the tables: 9 rounds, each measuring back to back the 10-service table, the 1,000-service table hit on the same 10 services (the cost of the size of the table), and the 1,000-service table hit round-robin on all of them (the cost of traffic spread over a thousand services: caches then hold a thousand services of rules); ratios are medians of the ratios of the rounds, ns figures medians per case.',
  ];
  const raw: string[] = [];

  // (b) The push, end to end through the real control plane and a real proxy.
  const pushServices = ctx.smoke ? 100 : count;
  const upstreams = await startUpstreams(ctx, ['v1', 'v2', 'v3']);
  const specs = largeServices(pushServices, upstreams.addresses as [string, string, string]);
  const cp = await startBenchControlPlane(ctx, 'scale');
  const t0 = performance.now();
  for (const s of specs) await cp.call('POST', '/api/v1/services', s, 201);
  raw.push(`registered ${pushServices} services in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const proxy = await cp.startProxy(['--workers', '1']);
  const origin = `http://127.0.0.1:${proxy.port}`;
  const client = new Pool(origin, { connections: 1 });
  const target = specs[Math.floor(pushServices / 2)]!.name;
  const ask = async (): Promise<string> => {
    const res = await client.request({ path: '/', method: 'GET', headers: { host: target } });
    return res.body.text();
  };
  const pushes: number[] = [];
  let proxyRssMb = 0;
  try {
    for (let i = 0; (await ask()) !== 'v1' && (await ask()) !== 'v2'; i++) {
      if (i > 500) throw new Error(`the proxy never routed ${target}`);
      await sleep(20);
    }
    const changes = ctx.smoke ? 3 : 20;
    for (let i = 0; i < changes; i++) {
      const version = i % 2 === 0 ? 'v3' : 'v1';
      const sent = performance.now();
      await cp.call('PUT', `/api/v1/services/${target}/routes`, { rules: [{ route: [{ version, weight: 100 }] }] });
      const answered = performance.now() - sent;
      for (;;) {
        if ((await ask()) === version) break;
        if (performance.now() - sent > 5000) throw new Error(`the proxy did not route ${target} to ${version} within 5 s`);
      }
      const ms = performance.now() - sent;
      pushes.push(ms);
      raw.push(`push ${i + 1}: PUT answered in ${answered.toFixed(1)} ms, proxy routed by it after ${ms.toFixed(1)} ms`);
      await sleep(50);
    }
    proxyRssMb = rssBytes(proxy.process.pid) / 2 ** 20;
  } finally {
    await client.close();
    await proxy.process.stop();
    await cp.close();
    await upstreams.process.stop();
  }
  figures.push(
    atMost(
      `push to a connected proxy, ${pushServices} services (PUT sent -> proxy routes by it), median`,
      round(median(pushes)!, 1),
      100,
      'ms',
    ),
    info('push, worst', round(Math.max(...pushes), 1), 'ms'),
    info(`RSS of that proxy (table from the control plane, ${pushServices} services)`, round(proxyRssMb, 1), 'MB', {
      note: 'compare benchmark 5, where the same table comes from a YAML file',
    }),
  );
  notes.push(
    'The push includes the API call, the control plane compiling and serialising the whole table, the SSE write, the proxy parsing the JSON and compiling its snapshot (only the changed service: unchanged ones keep their compiled router).',
  );
  return {
    id: 'control-plane-scale',
    title: '6. Control-plane scale (1,000 services x 3 versions x 5 rules)',
    status: 'ok',
    figures,
    notes,
    raw,
  };
}
