import { describe, expect, it } from 'vitest';
import { type OutlierPolicy, outlierPolicy } from '../core/index.js';
import { OutlierDetector } from './outlier-detector.js';
import { type CompiledVersion, compileSnapshot, nextEndpoint, type RouteSnapshot } from './route-snapshot.js';
import { routeTable } from './test-upstreams.js';
import { UpstreamPools } from './upstream-pools.js';

/** A detector on a fake clock, and a compiled table of service `reviews` v1 with `n` endpoints. */
function setup(n: number, policy: OutlierPolicy = outlierPolicy(undefined)) {
  let now = 1_000_000;
  const ejected: string[] = [];
  const detector = new OutlierDetector({ clock: () => now, onEject: (e) => ejected.push(e.address) });
  const pools = new UpstreamPools({ connectionsPerEndpoint: 1, connectTimeoutMs: 1000 });
  const addresses = Array.from({ length: n }, (_, i) => `127.0.0.1:${9001 + i}`);
  let snap: RouteSnapshot = compileSnapshot(table(1, addresses, policy), pools, detector);
  const version = (): CompiledVersion => {
    const router = snap.services.get('reviews')!;
    return router.rules[0]!.picker.next()!;
  };
  const endpoint = (address: string) => version().endpoints.find((e) => e.address === address)!;
  return {
    detector,
    ejected,
    addresses,
    advance: (ms: number) => {
      now += ms;
    },
    /** `count` answers with `status` from `address` (0: a failure before any answer). */
    answer: (address: string, status: number, count = 1) => {
      for (let i = 0; i < count; i++) detector.record(endpoint(address).health, status);
    },
    /** The addresses of the next `count` picks. */
    picks: (count: number) => {
      const v = version();
      return Array.from({ length: count }, () => nextEndpoint(v)?.address ?? 'none');
    },
    apply: (revision: number, list: string[], p: OutlierPolicy = policy) => {
      snap = compileSnapshot(table(revision, list, p), pools, detector, snap);
      detector.retainOnly(snap.health);
    },
  };
}

function table(revision: number, addresses: string[], outlierDetection: OutlierPolicy) {
  return routeTable(revision, [
    { name: 'reviews', versions: { v1: addresses }, rules: [{ route: [{ version: 'v1', weight: 100 }] }], outlierDetection },
  ]);
}

const A = '127.0.0.1:9001';
const B = '127.0.0.1:9002';

describe('outlier detection: consecutive errors eject an endpoint', () => {
  it('ejects after 5 consecutive gateway errors (the default), and picks only the others while it is out', () => {
    const t = setup(2);
    t.answer(A, 503, 4);
    expect(t.ejected).toEqual([]);
    expect(new Set(t.picks(4))).toEqual(new Set([A, B]));
    t.answer(A, 0); // a failure before any answer (connect refused, timeout) is a gateway error too
    expect(t.ejected).toEqual([A]);
    expect(t.picks(6)).toEqual([B, B, B, B, B, B]);
    expect(t.detector.ejected()).toMatchObject([{ service: 'reviews', version: 'v1', address: A, multiplier: 1 }]);
  });

  it('a success in between starts the count again; a plain 500 is not a gateway error', () => {
    const t = setup(2);
    t.answer(A, 502, 4);
    t.answer(A, 200);
    t.answer(A, 504, 4);
    t.answer(A, 500);
    t.answer(A, 503, 4);
    expect(t.ejected).toEqual([]);
    t.answer(A, 503);
    expect(t.ejected).toEqual([A]);
  });

  it('counts any 5xx when consecutive5xxErrors is set', () => {
    const t = setup(2, outlierPolicy({ consecutive5xxErrors: 3, consecutiveGatewayErrors: 0 }));
    t.answer(A, 500, 2);
    t.answer(A, 503);
    expect(t.ejected).toEqual([A]);
  });

  it('both counts at 0 turn detection off', () => {
    const t = setup(2, outlierPolicy({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 }));
    t.answer(A, 503, 50);
    expect(t.ejected).toEqual([]);
  });
});

describe('outlier detection: ejection time', () => {
  it('brings the endpoint back after baseEjectionTime, and ejects it for twice as long the second time', () => {
    const t = setup(2);
    t.answer(A, 503, 5);
    t.advance(29_999);
    expect(t.picks(4)).toEqual([B, B, B, B]);
    t.advance(1);
    expect(new Set(t.picks(4))).toEqual(new Set([A, B]));
    expect(t.detector.ejected()).toEqual([]);
    // Ejected again at once: 2 x 30 s.
    t.answer(A, 503, 5);
    expect(t.detector.ejected()[0]!.multiplier).toBe(2);
    t.advance(59_999);
    expect(t.picks(2)).toEqual([B, B]);
    t.advance(1);
    expect(t.picks(2)).toContain(A);
  });

  it('each interval spent in service takes one off the multiplier', () => {
    const t = setup(2);
    t.answer(A, 503, 5);
    t.advance(30_000);
    t.picks(2); // back in service
    t.answer(A, 503, 5);
    t.advance(60_000);
    t.picks(2);
    expect(t.detector.ejected()).toEqual([]);
    // 25 s in service = two whole 10 s intervals: the multiplier goes 2 -> 0, so this ejection is x1 again.
    t.advance(25_000);
    t.answer(A, 503, 5);
    expect(t.detector.ejected()[0]!.multiplier).toBe(1);
  });
});

describe('outlier detection: maxEjectionPercent', () => {
  it('never ejects the only endpoint of a version (50 % of 1 would be 100 %)', () => {
    const t = setup(1);
    t.answer(A, 503, 20);
    expect(t.ejected).toEqual([]);
    expect(t.picks(2)).toEqual([A, A]);
  });

  it('ejects at most half of four endpoints at the default 50 %', () => {
    const t = setup(4);
    for (const a of t.addresses) t.answer(a, 503, 5);
    expect(t.ejected).toEqual(t.addresses.slice(0, 2));
    expect(new Set(t.picks(8))).toEqual(new Set(t.addresses.slice(2)));
  });

  it('at 100 % may eject every endpoint: then nothing is picked (the proxy answers 503)', () => {
    const t = setup(2, outlierPolicy({ maxEjectionPercent: 100 }));
    t.answer(A, 503, 5);
    t.answer(B, 503, 5);
    expect(t.picks(1)).toEqual(['none']);
  });
});

describe('outlier detection across route tables', () => {
  it('keeps an ejection when a new table keeps the endpoint, and forgets an endpoint the table drops', () => {
    const C = '127.0.0.1:9003';
    const t = setup(3, outlierPolicy({ maxEjectionPercent: 50 }));
    t.answer(A, 503, 5);
    t.apply(2, [A, B, C], outlierPolicy({ maxEjectionPercent: 60 }));
    expect(t.detector.ejected().map((e) => e.address)).toEqual([A]);
    expect(t.picks(4)).not.toContain(A);
    // A leaves the table (unready): forgotten; when it comes back it starts afresh.
    t.apply(3, [B, C]);
    expect(t.detector.ejected()).toEqual([]);
    t.apply(4, [A, B, C]);
    expect(t.picks(3)).toContain(A);
  });
});

describe('outlier detection metrics', () => {
  it('renders a gauge of ejected endpoints and a counter of ejections, labelled by service, version and endpoint', () => {
    const t = setup(2);
    t.answer(A, 503, 5);
    const labels = `{service="reviews",version="v1",instance="${A}",endpoint="${A}"}`;
    let text = t.detector.renderMetrics();
    expect(text).toContain('# TYPE canary_outlier_ejected gauge');
    expect(text).toContain(`canary_outlier_ejected${labels} 1\n`);
    expect(text).toContain(`canary_outlier_ejections_total${labels} 1\n`);
    expect(text).not.toContain(B);
    t.advance(30_000);
    text = t.detector.renderMetrics();
    expect(text).toContain(`canary_outlier_ejected${labels} 0\n`);
    expect(text).toContain(`canary_outlier_ejections_total${labels} 1\n`);
  });
});
