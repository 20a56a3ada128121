import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

describe('API v1 endpoints', () => {
  let t: TestControlPlane;
  beforeEach(async () => {
    t = await startTestControlPlane();
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('answers /healthz without a token, and wants one for every /api call, GET included', async () => {
    const health = await t.cp.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    for (const url of ['/api/v1/services', '/api/v1/openapi.json', '/api/v1/route-table', '/api/v1/events']) {
      const res = await t.cp.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
  });

  it('registers, lists, shows and deletes services, with instances and health per version', async () => {
    let res = await t.call('POST', '/api/v1/services', reviewsService);
    expect(res.status).toBe(201);
    res = await t.call('GET', '/api/v1/services');
    expect(res.body.items.map((s: { name: string }) => s.name)).toEqual(['reviews']);
    res = await t.call('GET', '/api/v1/services/reviews');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'reviews', port: 9080, ingress: { paths: ['/reviews'] }, routes: [] });
    expect(res.body.status).toEqual({
      release: null,
      versions: [
        {
          name: 'v1',
          health: { ready: true, failed: false, reason: '1 of 1 addresses ready' },
          instances: [
            {
              name: '127.0.0.1:19001',
              address: '127.0.0.1:19001',
              pid: null,
              ready: true,
              restarts: 0,
              state: 'ready',
              startedAt: expect.any(String),
              outboundPort: null,
            },
          ],
        },
        {
          name: 'v2',
          health: expect.objectContaining({ ready: true }),
          instances: [expect.objectContaining({ address: '127.0.0.1:19002' })],
        },
      ],
    });
    expect((await t.call('GET', '/api/v1/services/nope')).body.error.message).toBe('service "nope" does not exist');
    res = await t.call('DELETE', '/api/v1/services/reviews');
    expect(res.status).toBe(200);
    expect((await t.call('GET', '/api/v1/services/reviews')).status).toBe(404);
    expect((await t.call('GET', '/api/v1/route-table')).body.services).toEqual([]);
    expect(t.runtime.endpoints('reviews', 'v1')).toEqual([]);
    const events = (await t.call('GET', '/api/v1/events')).body.items;
    expect(events.map((e: { action: string }) => e.action)).toEqual(['service.created', 'service.deleted']);
    expect(events[1]).toMatchObject({
      actor: 'admin',
      resourceKind: 'service',
      resourceName: 'reviews',
      release: null,
      after: null,
      before: { name: 'reviews' },
    });
  });

  it('adds and retires versions', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    let res = await t.call('POST', '/api/v1/services/reviews/versions', {
      name: 'v3',
      workload: { kind: 'endpoints', addresses: ['127.0.0.1:19003'] },
    });
    expect(res.status).toBe(201);
    expect(res.body.versions.map((v: { name: string }) => v.name)).toEqual(['v1', 'v2', 'v3']);
    expect(t.runtime.endpoints('reviews', 'v3')).toHaveLength(1);
    res = await t.call('DELETE', '/api/v1/services/reviews/versions/v3');
    expect(res.status).toBe(200);
    expect(res.body.versions.map((v: { name: string }) => v.name)).toEqual(['v1', 'v2']);
    expect(t.runtime.endpoints('reviews', 'v3')).toEqual([]);
    res = await t.call('DELETE', '/api/v1/services/reviews/versions/v9');
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('version "v9" does not exist in service "reviews"');
  });

  it('gets and puts routes, honouring If-Match, and refuses to retire a version they name', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    let res = await t.call('GET', '/api/v1/services/reviews/routes');
    expect(res.body).toEqual({ rules: [], effective: [{ route: [{ version: 'v1', weight: 100 }] }], release: null, resourceVersion: '1' });
    const rules = [
      { match: [{ cookie: { user: { exact: 'jason' } } }], route: [{ version: 'v2', weight: 100 }] },
      {
        route: [
          { version: 'v1', weight: 90 },
          { version: 'v2', weight: 10 },
        ],
        sticky: { cookie: 'canary-session' },
      },
    ];
    res = await t.call('PUT', '/api/v1/services/reviews/routes', { rules }, { 'if-match': '1' });
    expect(res.status).toBe(200);
    expect(res.body.routes).toEqual(rules);
    res = await t.call('PUT', '/api/v1/services/reviews/routes', { rules: [] }, { 'if-match': '1' });
    expect(res.status).toBe(409);
    const table = (await t.call('GET', '/api/v1/route-table')).body;
    expect(table.services[0].rules).toEqual(rules);
    res = await t.call('DELETE', '/api/v1/services/reviews/versions/v2');
    expect(res.status).toBe(409);
    expect(res.body.error.message).toBe('version "v2" is named by the routes of "reviews"; change the routes first');
    expect((await t.call('GET', '/api/v1/events?limit=1')).body.items[0]).toMatchObject({
      action: 'routes.updated',
      before: { routes: [] },
      after: { routes: rules },
    });
  });

  it('renders the Istio manifests of the service as routed now', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    await t.call('POST', '/api/v1/releases', reviewsCanary);
    const res = await t.call('GET', '/api/v1/services/reviews/manifests?format=istio');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/yaml/);
    expect(res.text).toMatch(/kind: VirtualService/);
    expect(res.text).toMatch(/kind: DestinationRule/);
    expect(res.text).toMatch(/subset: v2\s+weight: 50/);
    const bad = await t.call('GET', '/api/v1/services/reviews/manifests?format=helm');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^format: /);
  });

  it('serves version logs, topology and traces in their shapes', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    let res = await t.call('GET', '/api/v1/services/reviews/versions/v1/logs?tail=10');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ lines: [] });
    expect((await t.call('GET', '/api/v1/services/reviews/versions/v7/logs')).status).toBe(404);
    res = await t.call('GET', '/api/v1/topology?window=120');
    // No traffic yet: no edges, but the registered versions are nodes (docs/observability.md).
    expect(res.body).toMatchObject({ edges: [], window: 120, releases: [] });
    expect(res.body.nodes.map((n: { id: string }) => n.id)).toContain('reviews:v1');
    expect((await t.call('GET', '/api/v1/topology')).body.window).toBe(60);
    expect((await t.call('GET', '/api/v1/traces?service=reviews&limit=5')).body).toEqual({ traces: [] });
    expect((await t.call('GET', '/api/v1/traces/abc')).status).toBe(404);
  });

  it('filters the event log with limit and since (an id or a time), newest last', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    await t.call('POST', '/api/v1/releases', reviewsCanary);
    await t.call('POST', '/api/v1/releases/reviews-canary/rollback');
    const all = (await t.call('GET', '/api/v1/events')).body.items;
    expect(all.map((e: { action: string }) => e.action)).toEqual([
      'service.created',
      'release.created',
      'release.candidate-ready',
      'release.rolled-back',
    ]);
    expect((await t.call('GET', '/api/v1/events?limit=2')).body.items.map((e: { id: number }) => e.id)).toEqual([all[2].id, all[3].id]);
    expect((await t.call('GET', `/api/v1/events?since=${all[1].id}`)).body.items).toHaveLength(2);
    expect((await t.call('GET', `/api/v1/events?since=${encodeURIComponent(all[0].at)}`)).body.items.length).toBeGreaterThanOrEqual(4);
    expect((await t.call('GET', '/api/v1/releases/reviews-canary/events?limit=1')).body.items[0].action).toBe('release.rolled-back');
    const bad = await t.call('GET', '/api/v1/events?since=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('since: must be an event id or an ISO time, got "yesterday"');
    expect((await t.call('GET', '/api/v1/events?limit=0')).status).toBe(400);
  });

  it('publishes an OpenAPI document generated from the zod schemas', async () => {
    const res = await t.call('GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    for (const [path, method] of [
      ['/api/v1/services', 'post'],
      ['/api/v1/services/{name}', 'delete'],
      ['/api/v1/services/{name}/versions', 'post'],
      ['/api/v1/services/{name}/versions/{version}', 'delete'],
      ['/api/v1/services/{name}/routes', 'put'],
      ['/api/v1/services/{name}/manifests', 'get'],
      ['/api/v1/releases', 'post'],
      ['/api/v1/releases/{name}', 'patch'],
      ['/api/v1/releases/{name}', 'delete'],
      ['/api/v1/releases/{name}/takeover', 'post'],
      ['/api/v1/releases/{name}/rollback', 'post'],
      ['/api/v1/releases/{name}/resume', 'post'],
      ['/api/v1/releases/{name}/events', 'get'],
      ['/api/v1/events', 'get'],
      ['/api/v1/topology', 'get'],
      ['/api/v1/traces', 'get'],
      ['/api/v1/route-table/watch', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    const body = doc.paths['/api/v1/releases'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['name', 'service', 'candidate', 'traffic']));
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    // Each call says what it needs, from the permission its route declares.
    expect(doc.paths['/api/v1/tokens'].post.description).toContain('Needs permission `tokens:admin` (roles: admin).');
    expect(doc.paths['/api/v1/services'].get.description).toBe('Needs permission `read` (roles: viewer, operator, admin).');
    expect(doc.paths['/api/v1/releases/{name}/rollback'].post.description).toContain('(roles: operator, admin)');
    expect(doc.paths['/api/v1/route-table/watch'].get.description).toContain('(roles: viewer, operator, admin, proxy)');
  });

  it('shows the route table with endpoints and the active release', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    const table = (await t.call('GET', '/api/v1/route-table')).body;
    expect(table).toMatchObject({ revision: expect.any(Number), listeners: [] });
    expect(table.services).toEqual([
      {
        name: 'reviews',
        port: 9080,
        ingressPaths: ['/reviews'],
        release: null,
        versions: [
          { name: 'v1', endpoints: [{ address: '127.0.0.1:19001', instance: '127.0.0.1:19001', ready: true }] },
          { name: 'v2', endpoints: [{ address: '127.0.0.1:19002', instance: '127.0.0.1:19002', ready: true }] },
        ],
        rules: [{ route: [{ version: 'v1', weight: 100 }] }],
        // The defaults: outlier detection is on unless the service turns it off.
        outlierDetection: {
          consecutive5xxErrors: 0,
          consecutiveGatewayErrors: 5,
          intervalMs: 10_000,
          baseEjectionTimeMs: 30_000,
          maxEjectionPercent: 50,
        },
      },
    ]);
    // an unchanged table keeps its revision
    expect((await t.call('GET', '/api/v1/route-table')).body.revision).toBe(table.revision);
  });
});
