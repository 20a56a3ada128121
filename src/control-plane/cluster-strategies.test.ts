import { afterEach, describe, expect, it } from 'vitest';
import { FakeCluster, V2_IMAGE } from '../../test/support/fake-cluster.js';
import type { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';
import type { Deployment } from '../kubernetes/index.js';
import { waitForValue } from '../../test/support/wait-for.js';

/**
 * blueGreen and mirror releases in cluster mode (`canary up --kubernetes`) against the fake API server: the
 * candidate is a clone of the baseline Deployment, traffic is a VirtualService (or a Gateway API HTTPRoute).
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(traffic: 'istio' | 'gateway-api' = 'istio') {
  const cluster = await FakeCluster.start({ podBehaviour: () => ({ ready: true }) });
  cleanups.push(() => cluster.close());
  await cluster.startControlPlane({ rolloutDeadlineMs: 60_000, traffic });
  return cluster;
}

type VsHttp = {
  match?: { headers?: Record<string, { exact: string }> }[];
  route: { destination: { subset: string }; weight: number }[];
  mirror?: { subset: string };
  mirrorPercentage?: { value: number };
};

/** The VirtualService's routes: `preview(x-canary-preview=v2)->v2:100 | v1:100 mirror v2 20%`. */
function vsRoutes(api: FakeApiServer): string {
  const vs = api.object('VirtualService', 'demo', 'reviews');
  if (!vs) return 'none';
  return (vs.spec as { http: VsHttp[] }).http
    .map((h) => {
      const match = h.match?.[0]?.headers;
      const head = match ? `preview(${Object.entries(match).map(([k, m]) => `${k}=${m.exact}`)})->` : '';
      const mirror = h.mirror ? ` mirror ${h.mirror.subset} ${h.mirrorPercentage?.value}%` : '';
      return `${head}${h.route.map((r) => `${r.destination.subset}:${r.weight}`).join(' ')}${mirror}`;
    })
    .join(' | ');
}

type RouteRule = { matches?: { headers?: { name: string; value: string }[] }[]; backendRefs: { name: string; weight: number }[] };

/** The HTTPRoute's rules: `preview(x-canary-preview=v2)->reviews-v2:100 | reviews-v1:100`. */
function httpRoute(api: FakeApiServer): string {
  const route = api.object('HTTPRoute', 'demo', 'reviews');
  if (!route) return 'none';
  return (route.spec as { rules: RouteRule[] }).rules
    .map((r) => {
      const headers = r.matches?.[0]?.headers;
      const head = headers ? `preview(${headers.map((h) => `${h.name}=${h.value}`)})->` : '';
      return `${head}${r.backendRefs.map((b) => `${b.name}:${b.weight}`).join(' ')}`;
    })
    .join(' | ');
}

const blueGreen = {
  name: 'reviews-bg',
  service: 'reviews',
  strategy: 'blueGreen',
  candidate: { name: 'v2', workload: { image: V2_IMAGE } },
};

describe('release strategies in cluster mode', () => {
  it('blueGreen with Istio: the cloned Deployment waits at 0% behind the preview route, switches at once, rolls back, and finishing deletes nothing it did not create', async () => {
    const cluster = await start();
    const { api } = cluster;
    let res = await cluster.call('POST', '/api/v1/releases', blueGreen);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const v2 = await waitForValue(
      'the cloned Deployment',
      () => api.object('Deployment', 'demo', 'reviews-v2') as Deployment | undefined,
      (d) => d !== undefined,
    );
    expect(v2!.spec.template.spec.containers[0]!.image).toBe(V2_IMAGE);
    await waitForValue(
      'the preview route',
      () => vsRoutes(api),
      (r) => r === 'preview(x-canary-preview=v2)->v2:100 | v1:100',
    );

    res = await cluster.call('POST', '/api/v1/releases/reviews-bg/takeover', { version: 'v2' });
    expect(res.body.status).toMatchObject({ phase: 'TakenOver', governor: 'v2', standby: 'v1' });
    expect(vsRoutes(api)).toBe('v2:100');
    res = await cluster.call('POST', '/api/v1/releases/reviews-bg/rollback');
    expect(res.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v1' });
    expect(vsRoutes(api)).toBe('preview(x-canary-preview=v2)->v2:100 | v1:100');

    expect((await cluster.call('POST', '/api/v1/releases/reviews-bg/takeover', { version: 'v2' })).status).toBe(200);
    res = await cluster.call('DELETE', '/api/v1/releases/reviews-bg?keep=v2');
    expect(res.body).toEqual({ release: 'reviews-bg', service: 'reviews', kept: 'v2', retired: 'v1' });
    expect(vsRoutes(api)).toBe('v2:100');
    // reviews-v1 was not created by Canary Mesh: the standby is retired from routing and left running.
    expect(api.object('Deployment', 'demo', 'reviews-v1')).toBeDefined();
  });

  it('blueGreen with Gateway API: the HTTPRoute carries the preview rule first, then moves 100% at once', async () => {
    const cluster = await start('gateway-api');
    const { api } = cluster;
    expect((await cluster.call('POST', '/api/v1/releases', blueGreen)).status).toBe(201);
    await waitForValue(
      'the preview rule',
      () => httpRoute(api),
      (r) => r === 'preview(x-canary-preview=v2)->reviews-v2:100 | reviews-v1:100',
    );
    expect(api.object('Service', 'demo', 'reviews-v2')).toBeDefined();
    expect((await cluster.call('POST', '/api/v1/releases/reviews-bg/takeover', { version: 'v2' })).status).toBe(200);
    expect(httpRoute(api)).toBe('reviews-v2:100');
    expect((await cluster.call('POST', '/api/v1/releases/reviews-bg/rollback')).status).toBe(200);
    expect(httpRoute(api)).toBe('preview(x-canary-preview=v2)->reviews-v2:100 | reviews-v1:100');
  });

  it('mirror with Istio: the baseline answers and the VirtualService mirrors a share to the clone; take over makes it a canary', async () => {
    const cluster = await start();
    const { api } = cluster;
    const mirror = { ...blueGreen, name: 'reviews-mirror', strategy: 'mirror', traffic: { mirror: { percent: 25 } } };
    expect((await cluster.call('POST', '/api/v1/releases', mirror)).status).toBe(201);
    await waitForValue(
      'the mirror route',
      () => vsRoutes(api),
      (r) => r === 'preview(x-canary-preview=v2)->v2:100 | v1:100 mirror v2 25%',
    );
    const res = await cluster.call('POST', '/api/v1/releases/reviews-mirror/takeover', { version: 'v2' });
    expect(res.body).toMatchObject({ strategy: 'canary', status: { governor: 'v2' } });
    expect(vsRoutes(api)).toBe('v2:100');
  });
});
