import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durationSlot } from '../telemetry-wire/histogram-layout.js';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';
import { waitFor } from '../../test/support/wait-for.js';

/**
 * A release's observed history over real HTTP on loopback: a real control plane (SQLite in a temp dir) fed the
 * telemetry batches a proxy posts, read back as a user (or the console) would.
 */
let t: TestControlPlane;
let url: string;

// biome-ignore lint/suspicious/noExplicitAny: tests assert response bodies field by field
async function api(method: string, path: string, body?: unknown, token: string | null = t.token): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** One edge sample as the proxy's edge aggregator sends it: `count` calls of ~12 ms from productpage v1. */
function edge(version: string, code: number, count: number) {
  return {
    source: { service: 'productpage', version: 'v1', instance: 'productpage-v1-1' },
    destination: { service: 'reviews', version, instance: `reviews-${version}-1` },
    code,
    flags: 0,
    count,
    durationSumMs: 12 * count,
    durationSlots: [durationSlot(12), count],
    bytesInSum: 0,
    bytesInBuckets: [count, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    bytesOutSum: 100 * count,
    bytesOutBuckets: [0, 0, count, 0, 0, 0, 0, 0, 0, 0],
  };
}

function batch(edges: ReturnType<typeof edge>[]) {
  const end = Date.now();
  return { proxy: { id: 'proxy-a', host: 'host-a', pid: 4242 }, start: end - 1000, end, edges, spans: [] };
}

beforeAll(async () => {
  t = await startTestControlPlane();
  url = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
  expect((await api('POST', '/api/v1/services', reviewsService)).status).toBe(201);
  expect((await api('POST', '/api/v1/releases', reviewsCanary)).status).toBe(201);
  await waitFor(
    'the release to progress',
    async () => (await api('GET', '/api/v1/releases/reviews-canary')).body.status.phase === 'Progressing',
  );
});

afterAll(async () => {
  await t?.destroy();
});

describe('GET /api/v1/releases/{name}/observed-history', () => {
  it('has no points before any traffic, but names the versions and the weights in force', async () => {
    const r = await api('GET', '/api/v1/releases/reviews-canary/observed-history');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      release: 'reviews-canary',
      service: 'reviews',
      minutes: 15,
      bucketSeconds: 10,
      versions: ['v1', 'v2'],
      weights: { v1: 50, v2: 50 },
      points: [],
    });
  });

  it('shows a 50/50 split from the batches the proxies post, with rate and success per version', async () => {
    // Three seconds of a proxy's batches: 10 req/s to each version, v2 failing one call in ten.
    for (let s = 0; s < 3; s++) {
      const posted = await api('POST', '/api/v1/telemetry', batch([edge('v1', 200, 10), edge('v2', 200, 9), edge('v2', 503, 1)]));
      expect(posted.status).toBe(200);
    }
    const r = await api('GET', '/api/v1/releases/reviews-canary/observed-history?minutes=5');
    expect(r.status).toBe(200);
    expect(r.body.minutes).toBe(5);
    // The three batches fall in one 10-s bucket, or in two when they straddle a boundary.
    const points = r.body.points as {
      at: string;
      requests: number;
      versions: Record<string, { share: number; successRate: number; rps: number }>;
      weights: unknown;
    }[];
    expect(points.length).toBeGreaterThanOrEqual(1);
    expect(points.length).toBeLessThanOrEqual(2);
    expect(points.reduce((n, p) => n + p.requests, 0)).toBe(60);
    for (const p of points) {
      expect(p.versions.v1!.share).toBeCloseTo(0.5, 2);
      expect(p.versions.v2!.share).toBeCloseTo(0.5, 2);
      expect(p.versions.v1!.successRate).toBe(1);
      expect(p.versions.v2!.successRate).toBeCloseTo(0.9, 4);
      expect(p.versions.v1!.rps).toBeGreaterThan(0);
      expect(p.weights).toEqual({ v1: 50, v2: 50 });
      expect(Date.parse(p.at)).toBeLessThanOrEqual(Date.now());
    }
    const times = points.map((p) => Date.parse(p.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The release resource agrees over the last minute (once the current second is complete).
    await waitFor(
      'status.observed',
      async () => Object.keys((await api('GET', '/api/v1/releases/reviews-canary')).body.status.observed).length > 0,
    );
    expect((await api('GET', '/api/v1/releases/reviews-canary')).body.status.observed).toEqual({ v1: 0.5, v2: 0.5 });
  });

  it('a rejected telemetry batch adds nothing to the history', async () => {
    const before = (await api('GET', '/api/v1/releases/reviews-canary/observed-history')).body;
    const bad = batch([edge('v2', 200, 1000)]);
    (bad.edges[0] as { count: number }).count = 0; // counts are at least 1
    const refused = await api('POST', '/api/v1/telemetry', { ...bad, edges: [edge('v2', 200, 1000), ...bad.edges] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0].path).toBe('edges.1.count');
    const after = (await api('GET', '/api/v1/releases/reviews-canary/observed-history')).body;
    expect(after.points.reduce((n: number, p: { requests: number }) => n + p.requests, 0)).toBe(
      before.points.reduce((n: number, p: { requests: number }) => n + p.requests, 0),
    );
    // Rates of the bucket filling now move with the clock; counts, shares and success must not.
    type Point = { versions: Record<string, { requests: number; share: number | null; successRate: number | null }> };
    const counts = (points: Point[]) =>
      points.map((p) => Object.entries(p.versions).map(([v, x]) => [v, x.requests, x.share, x.successRate]));
    expect(counts(after.points)).toEqual(counts(before.points));
  });

  it('refuses a bad minutes naming the field, an unknown release with 404, and a call without a token, changing nothing', async () => {
    const snapshot = t.snapshot();
    for (const q of ['0', '61', 'abc', '2.5']) {
      const r = await api('GET', `/api/v1/releases/reviews-canary/observed-history?minutes=${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('InvalidInput');
      expect(r.body.error.message, q).toMatch(/^minutes: /);
      expect(r.body.error.details[0].path).toBe('minutes');
    }
    const missing = await api('GET', '/api/v1/releases/nope/observed-history');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NotFound', message: 'release "nope" does not exist', details: [] });
    expect((await api('GET', '/api/v1/releases/reviews-canary/observed-history', undefined, null)).status).toBe(401);
    expect((await api('GET', '/api/v1/releases/reviews-canary/observed-history', undefined, 'wrong-token')).status).toBe(401);
    expect(t.snapshot()).toEqual(snapshot);
  });

  it('follows a takeover: the weights in force move to 100% for the governor', async () => {
    expect((await api('POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' })).status).toBe(200);
    await api('POST', '/api/v1/telemetry', batch([edge('v2', 200, 20)]));
    const r = await api('GET', '/api/v1/releases/reviews-canary/observed-history');
    expect(r.body.weights).toEqual({ v1: 0, v2: 100 });
    const last = r.body.points.at(-1);
    expect(last.weights).toEqual({ v1: 0, v2: 100 });
    expect(last.versions.v2.requests).toBeGreaterThanOrEqual(20);
  });

  it('answers a point per 10 s since the first traffic in range, with the weights in force at each (none before the release)', async () => {
    // A sample from two minutes ago, before the release was created (as a batch received then would be).
    t.cp.telemetry.history.add([edge('v1', 200, 40)], Date.now() - 120_000);
    const r = await api('GET', '/api/v1/releases/reviews-canary/observed-history?minutes=3');
    const points = r.body.points as { at: string; requests: number; weights: Record<string, number> | null }[];
    expect(points.length).toBeGreaterThanOrEqual(12);
    expect(points[0]).toMatchObject({ requests: 40, weights: null });
    expect(points.at(-1)!.weights).toEqual({ v1: 0, v2: 100 });
    const times = points.map((p) => Date.parse(p.at));
    // Complete points are 10 s apart; the last may be the bucket filling now.
    for (let i = 1; i < times.length - 1; i++) expect(times[i]! - times[i - 1]!).toBe(10_000);
    expect(times.at(-1)!).toBeGreaterThan(times.at(-2)!);
    expect(
      (await api('GET', '/api/v1/releases/reviews-canary/observed-history?minutes=1')).body.points.every(
        (p: { weights: unknown }) => p.weights !== null,
      ),
    ).toBe(true);
  });

  it('is in the OpenAPI document with its minutes parameter', async () => {
    const doc = (await api('GET', '/api/v1/openapi.json')).body;
    const op = doc.paths['/api/v1/releases/{name}/observed-history'].get;
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['minutes', 'name']);
    expect(Object.keys(op.responses)).toContain('200');
  });
});
