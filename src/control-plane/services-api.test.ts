import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/**
 * A service's outlier detection through the API, over real HTTP on loopback: written and validated with the
 * service, carried by the route table, rendered into the Istio DestinationRule, and an instance a proxy reports
 * ejected is marked so in the service's status (the console's instances table).
 */
let t: TestControlPlane;
let url: string;

// biome-ignore lint/suspicious/noExplicitAny: tests assert response bodies field by field
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

beforeAll(async () => {
  t = await startTestControlPlane();
  url = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await t.stop();
});

describe('outlier detection of a service', () => {
  it('refuses invalid settings with a message that says what to write, and creates nothing', async () => {
    const bad = {
      ...reviewsService,
      name: 'bad',
      outlierDetection: { consecutiveGatewayErrors: -1, baseEjectionTime: '30 seconds', maxEjectionPercent: 150, interval: 10, base: 1 },
    };
    const res = await api('POST', '/api/v1/services', bad);
    expect(res.status).toBe(400);
    const details: { path: string; message: string }[] = res.body.error.details;
    const byPath = Object.fromEntries(details.map((d) => [d.path, d.message]));
    expect(byPath['outlierDetection.consecutiveGatewayErrors']).toMatch(/0 \(off\) or more/);
    expect(byPath['outlierDetection.baseEjectionTime']).toMatch(/must be a duration such as "500ms", "10s" or "1m", got "30 seconds"/);
    expect(byPath['outlierDetection.maxEjectionPercent']).toMatch(/between 0 and 100/);
    expect(byPath['outlierDetection.interval']).toMatch(/interval must be a duration string such as "500ms"/);
    expect(byPath.outlierDetection).toMatch(/unknown field "base": the fields are consecutive5xxErrors, /);
    expect((await api('GET', '/api/v1/services/bad')).status).toBe(404);
  });

  it('keeps what was written, and renders it (defaults filled in) into the Istio DestinationRule', async () => {
    const created = await api('POST', '/api/v1/services', {
      ...reviewsService,
      outlierDetection: { consecutiveGatewayErrors: 3, baseEjectionTime: '1m' },
    });
    expect(created.status).toBe(201);
    const got = await api('GET', '/api/v1/services/reviews');
    expect(got.body.outlierDetection).toEqual({ consecutiveGatewayErrors: 3, baseEjectionTime: '1m' });
    const table = (await api('GET', '/api/v1/route-table')).body;
    expect(table.services.find((x: { name: string }) => x.name === 'reviews').outlierDetection).toEqual({
      consecutive5xxErrors: 0,
      consecutiveGatewayErrors: 3,
      intervalMs: 10_000,
      baseEjectionTimeMs: 60_000,
      maxEjectionPercent: 50,
    });
    const yaml = (await api('GET', '/api/v1/services/reviews/manifests?format=istio')).text;
    expect(yaml).toContain(
      [
        '  trafficPolicy:',
        '    outlierDetection:',
        '      consecutive5xxErrors: 0',
        '      consecutiveGatewayErrors: 3',
        '      interval: 10s',
        '      baseEjectionTime: 60s',
        '      maxEjectionPercent: 50',
      ].join('\n'),
    );
  });

  it('changes it on a running service: PUT .../outlier-detection, validated first, If-Match honoured, an event', async () => {
    const before = await api('GET', '/api/v1/services/reviews');
    const bad = await api('PUT', '/api/v1/services/reviews/outlier-detection', { outlierDetection: { maxEjectionPercent: 101 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/outlierDetection.maxEjectionPercent: maxEjectionPercent must be between 0 and 100/);
    expect((await api('GET', '/api/v1/services/reviews')).body.resourceVersion).toBe(before.body.resourceVersion);
    const stale = await fetch(`${url}/api/v1/services/reviews/outlier-detection`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json', 'if-match': '"999999"' },
      body: JSON.stringify({ outlierDetection: {} }),
    });
    expect(stale.status).toBe(409);
    const off = await api('PUT', '/api/v1/services/reviews/outlier-detection', {
      outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 },
    });
    expect(off.status).toBe(200);
    expect(off.body.outlierDetection).toEqual({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 });
    const table = (await api('GET', '/api/v1/route-table')).body;
    expect(table.services.find((x: { name: string }) => x.name === 'reviews').outlierDetection).toMatchObject({
      consecutive5xxErrors: 0,
      consecutiveGatewayErrors: 0,
    });
    expect((await api('GET', '/api/v1/services/reviews/manifests?format=istio')).text).not.toContain('trafficPolicy');
    const events = (await api('GET', '/api/v1/events')).body;
    expect(JSON.stringify(events)).toContain('outlierDetection.updated');
    // Back to the defaults.
    expect((await api('PUT', '/api/v1/services/reviews/outlier-detection', { outlierDetection: {} })).status).toBe(200);
    expect((await api('GET', '/api/v1/services/reviews/manifests?format=istio')).text).toContain('consecutiveGatewayErrors: 5');
  });

  it("marks an instance ejected while a proxy's telemetry says so, and no longer once its time is up", async () => {
    const until = Date.now() + 1500;
    const end = Date.now();
    const posted = await api('POST', '/api/v1/telemetry', {
      proxy: { id: 'proxy-a', host: 'host-a', pid: 4242 },
      start: end - 1000,
      end,
      edges: [],
      spans: [],
      outliers: [
        { service: 'reviews', version: 'v2', instance: '127.0.0.1:19002', address: '127.0.0.1:19002', ejectedUntil: until, multiplier: 1 },
      ],
    });
    expect(posted.status).toBe(200);
    const instances = async (version: string) =>
      (await api('GET', '/api/v1/services/reviews')).body.status.versions.find((v: { name: string }) => v.name === version).instances;
    expect((await instances('v2'))[0].ejectedUntil).toBe(new Date(until).toISOString());
    expect((await instances('v1'))[0].ejectedUntil).toBeUndefined();
    await new Promise((r) => setTimeout(r, until - Date.now() + 50));
    expect((await instances('v2'))[0].ejectedUntil).toBeUndefined();
  });
});
