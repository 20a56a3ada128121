import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type OutlierPolicy, outlierPolicy } from '../core/index.js';
import { MeshProxy } from './mesh-proxy.js';
import { OutlierDetector } from './outlier-detector.js';
import { silentProxyLogger } from './proxy-logger.js';
import type { RequestRecord } from './request-observer.js';
import { type CompiledVersion, compileSnapshot, nextEndpoint, type RouteSnapshot } from './route-snapshot.js';
import { ProxyTelemetry } from './telemetry/proxy-telemetry.js';
import { call, freePort, routeTable, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
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

describe.each([
  ['the fast path', true],
  ['node:http + undici', false],
])('outlier detection through real sockets (%s)', (_name, fastPath) => {
  let proxy: MeshProxy;
  let port: number;
  const records: RequestRecord[] = [];
  const upstreams: TestUpstream[] = [];

  beforeAll(async () => {
    proxy = new MeshProxy({ logger: silentProxyLogger, fastPath, observer: { onRequest: (r) => records.push(r) } });
    port = (await proxy.listenIngress('127.0.0.1', 0)).port;
  });
  afterAll(async () => {
    await proxy.close();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const route = (versions: Record<string, Array<TestUpstream | string>>) =>
    proxy.applyRouteTable(routeTable(Date.now(), [{ name: 'reviews', versions, rules: [{ route: [{ version: 'v1', weight: 100 }] }] }]));

  it('ejects an endpoint that answers 503 after five in a row: every later request is served by the other', async () => {
    const good = await startUpstream('good');
    const bad = await startUpstream('bad', (req, res) => {
      req.resume();
      res.writeHead(503, { 'content-length': '4' });
      res.end('down');
    });
    upstreams.push(good, bad);
    await route({ v1: [good, bad] });
    const answers: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await call(port, { headers: { host: 'reviews' } });
      answers.push(r.status === 200 ? r.body : String(r.status));
    }
    // Round-robin until the fifth 503 (requests 2, 4, ..., 10), then only the good endpoint.
    expect(answers.filter((a) => a === '503')).toHaveLength(5);
    expect(answers.slice(10)).toEqual(Array(30).fill('good'));
    expect(bad.requests).toHaveLength(5);
    expect(proxy.outliers.ejected()).toMatchObject([{ service: 'reviews', version: 'v1', address: bad.address, multiplier: 1 }]);
  });

  it('at maxEjectionPercent 100 may eject every endpoint: the proxy then answers 503 itself, saying why', async () => {
    const bad = await startUpstream('bad', (req, res) => {
      req.resume();
      res.writeHead(503, { 'content-length': '4' });
      res.end('down');
    });
    upstreams.push(bad);
    await proxy.applyRouteTable(
      routeTable(Date.now(), [
        {
          name: 'reviews',
          versions: { v1: [bad] },
          rules: [{ route: [{ version: 'v1', weight: 100 }] }],
          outlierDetection: outlierPolicy({ maxEjectionPercent: 100 }),
        },
      ]),
    );
    for (let i = 0; i < 5; i++) expect((await call(port, { headers: { host: 'reviews' } })).body).toBe('down');
    const r = await call(port, { headers: { host: 'reviews' } });
    expect([r.status, r.headers['x-canary-error']]).toEqual([503, 'no-ready-endpoint']);
    expect(r.body).toBe('no endpoint in service for service reviews version v1: all 1 ejected by outlier detection\n');
    expect(bad.requests).toHaveLength(5);
  });

  it('ejects an endpoint that refuses connections: retried GETs stop being retried, and POSTs stop failing', async () => {
    const good = await startUpstream('good');
    upstreams.push(good);
    const dead = `127.0.0.1:${await freePort()}`;
    await route({ v1: [dead, good] });
    records.length = 0;
    for (let i = 0; i < 10; i++) expect((await call(port, { headers: { host: 'reviews' } })).body).toBe('good');
    // Five attempts on the dead endpoint (each retried on the good one), then it is ejected.
    expect(records.filter((r) => r.flags.retried)).toHaveLength(5);
    records.length = 0;
    for (let i = 0; i < 6; i++) {
      const r = await call(port, { method: 'POST', headers: { host: 'reviews' }, body: 'x' });
      expect([r.status, r.body]).toEqual([200, 'good']);
    }
    expect(records.every((r) => !r.flags.retried && r.status === 200)).toBe(true);
    expect(proxy.outliers.ejected().map((e) => e.address)).toEqual([dead]);
  });
});

describe('a hung upstream (SIGSTOP)', () => {
  let hung: ChildProcess | null = null;
  afterEach(() => {
    if (hung !== null && hung.exitCode === null) {
      hung.kill('SIGCONT');
      hung.kill('SIGKILL');
    }
    hung = null;
  });

  it('times out (a gateway error), is ejected after five, and then no request waits for it', async () => {
    // A real process answering on a port, then stopped: the kernel still accepts connections, nobody answers.
    const child = spawn(
      process.execPath,
      ['-e', "require('http').createServer((q,s)=>s.end('hung')).listen(0,'127.0.0.1',function(){console.log(this.address().port)})"],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    hung = child;
    const hungPort = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', () => reject(new Error('the upstream process exited')));
    });
    child.kill('SIGSTOP');
    const good = await startUpstream('good');
    const records: RequestRecord[] = [];
    const proxy = new MeshProxy({ logger: silentProxyLogger, upstreamTimeoutMs: 300, observer: { onRequest: (r) => records.push(r) } });
    try {
      const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
      const hungAddress = `127.0.0.1:${hungPort}`;
      await proxy.applyRouteTable(
        routeTable(1, [{ name: 'reviews', versions: { v1: [hungAddress, good] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] }]),
      );
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await call(port, { headers: { host: 'reviews' } })).status);
      // Every GET got its answer (a timeout is retried once on the other endpoint), five of them late.
      expect(statuses).toEqual(Array(10).fill(200));
      expect(records.filter((r) => r.flags.retried)).toHaveLength(5);
      expect(proxy.outliers.ejected().map((e) => e.address)).toEqual([hungAddress]);
      // Ejected: requests no longer wait for the hung upstream's timeout, POSTs (not retried) included.
      records.length = 0;
      const started = performance.now();
      for (let i = 0; i < 10; i++) {
        const post = i % 2 === 1;
        const r = await call(port, { method: post ? 'POST' : 'GET', headers: { host: 'reviews' }, ...(post ? { body: 'x' } : {}) });
        expect([r.status, r.body]).toEqual([200, 'good']);
      }
      expect(records.every((r) => !r.flags.retried)).toBe(true);
      // Ten requests that each waited for a 300 ms timeout would take 3 s; generous for a loaded machine.
      expect(performance.now() - started).toBeLessThan(2500);
    } finally {
      await proxy.close();
      await good.close();
    }
  });
});

describe('outlier detection in the proxy /metrics', () => {
  it('shows the ejected endpoint as a gauge and counts the ejection', async () => {
    const bad = await startUpstream('bad', (req, res) => {
      req.resume();
      res.writeHead(502, { 'content-length': '0' });
      res.end();
    });
    const good = await startUpstream('good');
    const telemetry = new ProxyTelemetry({ intervalMs: 60_000 });
    const proxy = new MeshProxy({ logger: silentProxyLogger, observer: telemetry, tracer: telemetry.tracer });
    telemetry.watchOutliers(proxy.outliers);
    try {
      const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
      const metricsPort = (await telemetry.listenMetrics('127.0.0.1', 0)).port;
      await proxy.applyRouteTable(
        routeTable(1, [{ name: 'reviews', versions: { v1: [good, bad] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] }]),
      );
      const labels = `{service="reviews",version="v1",instance="bad-2",endpoint="${bad.address}"}`;
      let text = (await call(metricsPort, { url: '/metrics' })).body;
      expect(text).not.toContain(labels);
      for (let i = 0; i < 12; i++) await call(port, { headers: { host: 'reviews' } });
      text = (await call(metricsPort, { url: '/metrics' })).body;
      expect(text).toContain(`canary_outlier_ejected${labels} 1\n`);
      expect(text).toContain(`canary_outlier_ejections_total${labels} 1\n`);
      expect(text).not.toContain('instance="good-1"');
    } finally {
      await proxy.close();
      await telemetry.close();
      await Promise.all([good.close(), bad.close()]);
    }
  });
});
