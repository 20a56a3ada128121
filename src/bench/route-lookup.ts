import type { RouteTable, Service, ServiceSpec } from '../core/index.js';
import { compileRouteTable } from '../core/index.js';
import { hostFirstLabel } from '../data-plane/forward-headers.js';
import { ReusableRequestView } from '../data-plane/request-view.js';
import { OutlierDetector } from '../data-plane/outlier-detector.js';
import { compileSnapshot, type RouteSnapshot } from '../data-plane/route-snapshot.js';
import { UpstreamPools } from '../data-plane/upstream-pools.js';
import { median } from './percentiles.js';
import { largeServices } from './route-files.js';

/** Stored services (the API's shape) from specs, as the control plane's compiler takes them. */
export function asStored(specs: ServiceSpec[]): Service[] {
  const now = new Date().toISOString();
  return specs.map((s) => ({ ...s, resourceVersion: '1', createdAt: now, updatedAt: now, createdBy: 'bench' }));
}

export function tableOf(services: Service[]): RouteTable {
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

/** The proxy's per-request lookup as in MeshProxy.route: service by Host, then first matching rule. */
export function lookupNs(snap: RouteSnapshot, hosts: string[], iterations: number): number {
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

export interface LookupFigures {
  /** Median ns per lookup: 10-service table; 1,000-service table hit on the same 10 services; hit on all of them. */
  ns10: number;
  ns1000: number;
  ns1000Spread: number;
  /** Medians of the rounds' paired ratios: table size alone (same 10 services hit), and traffic spread over all. */
  ratio: number;
  spreadRatio: number;
}

/**
 * The per-request lookup with 10 and with 1,000 services (5 rules each; every request misses 4 rules and takes the
 * default). The 1,000-service table is looked up twice: for the same 10 services the small table serves (what the
 * table's size costs a request), and round-robin over all of them (what traffic spread over a thousand services
 * costs: the CPU caches then hold a thousand services' rules instead of ten). Rounds measure the three back to back
 * and keep the ratios of each round, so a burst of load from elsewhere on a shared machine lands on one round
 * rather than on one table; the medians are reported.
 */
export async function measureLookups(smoke: boolean): Promise<LookupFigures> {
  const addresses: [string, string, string] = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
  const pools = new UpstreamPools({ connectionsPerEndpoint: 1, connectTimeoutMs: 1000 });
  const bigSnap = compileSnapshot(tableOf(asStored(largeServices(1000, addresses))), pools, new OutlierDetector());
  const smallSnap = compileSnapshot(tableOf(asStored(largeServices(10, addresses))), pools, new OutlierDetector());
  const iterations = smoke ? 50_000 : 200_000;
  const allHosts = Array.from({ length: 997 }, (_, i) => `svc-${String(i).padStart(4, '0')}`);
  const tenHosts = Array.from({ length: 997 }, (_, i) => `svc-${String(i % 10).padStart(4, '0')}`);
  lookupNs(smallSnap, tenHosts, iterations); // warm-up (JIT, and the lazy compile of every service's rules)
  lookupNs(bigSnap, allHosts, iterations);
  const small: number[] = [];
  const big: number[] = [];
  const spread: number[] = [];
  const ratios: number[] = [];
  const spreadRatios: number[] = [];
  for (let round = 0; round < (smoke ? 3 : 9); round++) {
    const s = lookupNs(smallSnap, tenHosts, iterations);
    const b = lookupNs(bigSnap, tenHosts, iterations);
    const a = lookupNs(bigSnap, allHosts, iterations);
    small.push(s);
    big.push(b);
    spread.push(a);
    ratios.push(b / s);
    spreadRatios.push(a / s);
  }
  await pools.closeAll();
  return {
    ns10: median(small)!,
    ns1000: median(big)!,
    ns1000Spread: median(spread)!,
    ratio: median(ratios)!,
    spreadRatio: median(spreadRatios)!,
  };
}
