import { Pool } from 'undici';
import type { RouteTable, Service, ServiceSpec } from '../core/index.js';
import { compileRouteTable } from '../core/index.js';
import { hostFirstLabel } from '../data-plane/forward-headers.js';
import { ReusableRequestView } from '../data-plane/request-view.js';
import { compileSnapshot, type RouteSnapshot } from '../data-plane/route-snapshot.js';
import { UpstreamPools } from '../data-plane/upstream-pools.js';
import { atMost, type BenchmarkResult, type Figure, info } from './bench-report.js';
import { type BenchContext, startUpstreams } from './bench-context.js';
import { startBenchControlPlane } from './control-plane-client.js';
import { median, round } from './percentiles.js';
import { rssBytes } from './process-usage.js';
import { largeServices } from './route-files.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function asStored(specs: ServiceSpec[]): Service[] {
  const now = new Date().toISOString();
  return specs.map((s) => ({ ...s, resourceVersion: '1', createdAt: now, updatedAt: now, createdBy: 'bench' }));
}

function tableOf(services: Service[]): RouteTable {
  return compileRouteTable({
    revision: 1,
    services,
    releases: [],
    endpoints: (service, version) => {
      const svc = services.find((s) => s.name === service);
      const v = svc?.versions.find((x) => x.name === version);
      const addresses = v?.workload.kind === 'endpoints' ? v.workload.addresses : [];
      return addresses.map((address) => ({ address, instance: address, ready: true }));
    },
    listeners: [],
  });
}

function timeMs(fn: () => void, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times)!;
}

/** The proxy's per-request lookup as in MeshProxy.route: service by Host, then first matching rule. */
function lookupNs(snap: RouteSnapshot, hosts: string[], iterations: number): number {
  const view = new ReusableRequestView();
  const raw = ['host', '', 'user-agent', 'bench', 'cookie', 'a=1; b=2'];
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const host = hosts[i % hosts.length]!;
    raw[1] = host;
    view.reset('GET', '/api/items?page=2', raw);
    const router = snap.services.get(hostFirstLabel(host));
    if (router === undefined) continue;
    for (const r of router.rules) {
      if (r.match === null || r.match(view)) {
        hits++;
        break;
      }
    }
  }
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  if (hits !== iterations) throw new Error(`lookup matched ${hits} of ${iterations}`);
  return ns;
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
  const small = asStored(largeServices(10, addresses));
  const runs = ctx.smoke ? 3 : 15;
  const compileMs = timeMs(() => tableOf(big), runs);
  const bigTable = tableOf(big);
  const pools = new UpstreamPools({ connectionsPerEndpoint: 1, connectTimeoutMs: 1000 });
  const snapshotMs = timeMs(() => compileSnapshot(bigTable, pools), runs);
  const bigSnap = compileSnapshot(bigTable, pools);
  // What a push costs the proxy: one service's rules changed, the other 999 keep their compiled routers.
  const changed: RouteTable = {
    ...bigTable,
    revision: 2,
    services: bigTable.services.map((s, i) => (i === 500 ? { ...s, rules: [{ route: [{ version: 'v3', weight: 100 }] }] } : s)),
  };
  const recompileMs = timeMs(() => compileSnapshot(changed, pools, bigSnap), runs);
  const smallSnap = compileSnapshot(tableOf(small), pools);
  await pools.closeAll();
  const iterations = ctx.smoke ? 50_000 : 200_000;
  const bigHosts = Array.from({ length: 997 }, (_, i) => `svc-${String(i).padStart(4, '0')}`);
  const smallHosts = Array.from({ length: 997 }, (_, i) => `svc-${String(i % 10).padStart(4, '0')}`);
  lookupNs(smallSnap, smallHosts, iterations); // warm-up (JIT, and the lazy compile of every service's rules)
  lookupNs(bigSnap, bigHosts, iterations);
  // Rounds measure the two tables back to back and keep the ratio of each pair, so a burst of load from elsewhere on
  // a shared machine lands on one pair (whose ratio it may skew) rather than on one table; the median is reported.
  const small10: number[] = [];
  const big1000: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < (ctx.smoke ? 3 : 9); round++) {
    const small = lookupNs(smallSnap, smallHosts, iterations);
    const big = lookupNs(bigSnap, bigHosts, iterations);
    small10.push(small);
    big1000.push(big);
    ratios.push(big / small);
  }
  const ns10 = median(small10)!;
  const ns1000 = median(big1000)!;

  const figures: Figure[] = [
    atMost(`compileRouteTable, ${count} services x 3 versions x 5 rules`, round(compileMs, 2), 100, 'ms'),
    info('proxy compile of that table from scratch (matchers, pickers)', round(snapshotMs, 2), 'ms'),
    info('proxy recompile after one service changed (999 compiled routers reused)', round(recompileMs, 2), 'ms'),
    info('lookup per request, 10 services', round(ns10, 0), 'ns'),
    atMost('lookup per request, 1000 vs 10 services', round(median(ratios)!, 2), 1.5, 'x', {
      peer: `${ns1000.toFixed(0)} ns vs ${ns10.toFixed(0)} ns`,
    }),
  ];
  const notes = [
    'Each service: 5 rules (header exact, cookie exact, URI regex, query exact, then 80/20 weights); lookups hit the default rule after 4 misses, as most requests do. Lookup: 9 rounds, each measuring the two tables back to back; the ratio is the median of the ratios of the rounds, the ns figures the medians per table.',
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
