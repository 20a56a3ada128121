import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durationSlot } from '../telemetry-wire/histogram-layout.js';
import type { ComparisonSample } from '../telemetry-wire/telemetry-batch.js';
import { reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/**
 * A release's comparison of mirrored answers, read as a user reads it: a real control plane (SQLite in a temp dir)
 * fed the comparison samples a proxy puts in its telemetry batches.
 */
let t: TestControlPlane;

const mirrorRelease = {
  name: 'reviews-mirror',
  service: 'reviews',
  candidate: { name: 'v2' },
  traffic: { weights: { v1: 100, v2: 0 }, mirror: { version: 'v2', percent: 100 } },
  compare: { ignoreJsonPaths: ['$.timestamp', '$.items[*].id'] },
};

const answer = (status: number, body: string) => ({
  status,
  headers: { 'content-type': 'application/json' },
  body,
  bodyBytes: body.length,
});

function sample(over: Partial<ComparisonSample> = {}): ComparisonSample {
  return {
    service: 'reviews',
    release: 'reviews-mirror',
    requests: 10,
    mirrored: 10,
    compared: 8,
    agree: 5,
    skipped: { bodyTooLarge: 1, mirrorFailed: 1, overloaded: 0, primaryFailed: 0 },
    differences: [
      {
        kind: 'status',
        method: 'GET',
        path: '/reviews/0',
        field: null,
        primary: '200',
        mirror: '503',
        count: 2,
        example: { primary: answer(200, '{"rating":5}'), mirror: answer(503, 'no') },
      },
      { kind: 'body', method: 'GET', path: '/reviews/1', field: '$.rating', primary: '5', mirror: '4', count: 1, example: null },
    ],
    otherDifferences: 0,
    primaryLatency: [durationSlot(3), 8],
    mirrorLatency: [durationSlot(40), 8],
    ...over,
  };
}

function batch(comparisons: ComparisonSample[]) {
  const end = Date.now();
  return { proxy: { id: 'proxy-a', host: 'host-a', pid: 4242 }, start: end - 1000, end, edges: [], spans: [], comparisons };
}

beforeAll(async () => {
  t = await startTestControlPlane();
  expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
});

afterAll(async () => {
  await t?.destroy();
});

describe('Release.compare', () => {
  it('is kept with the release and carried in the route table', async () => {
    const created = await t.call('POST', '/api/v1/releases', mirrorRelease);
    expect(created.status).toBe(201);
    expect(created.body.compare).toEqual({
      body: true,
      headers: ['content-type'],
      ignoreHeaders: [],
      ignoreJsonPaths: ['$.timestamp', '$.items[*].id'],
      maxBodyBytes: 65536,
    });
    const table = (await t.call('GET', '/api/v1/route-table')).body;
    const reviews = table.services.find((s: { name: string }) => s.name === 'reviews');
    expect(reviews.release).toBe('reviews-mirror');
    expect(reviews.compare.ignoreJsonPaths).toEqual(['$.timestamp', '$.items[*].id']);
  });

  it('refuses a bad JSON path or body bound, naming the field, and creates nothing', async () => {
    const before = t.snapshot();
    const bad = await t.call('POST', '/api/v1/releases', {
      ...mirrorRelease,
      name: 'other',
      compare: { ignoreJsonPaths: ['timestamp'], maxBodyBytes: 2_000_000 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('compare.ignoreJsonPaths.0: must start with "$"');
    expect(bad.body.error.message).toContain('compare.maxBodyBytes: must be at most 1048576');
    expect(t.snapshot()).toEqual(before);
  });
});

describe('GET /api/v1/releases/{name}/comparison', () => {
  it('answers zeros before any comparison', async () => {
    const r = await t.call('GET', '/api/v1/releases/reviews-mirror/comparison');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      release: 'reviews-mirror',
      window: 300,
      requests: 0,
      mirrored: 0,
      compared: 0,
      agree: 0,
      skipped: { bodyTooLarge: 0, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 },
      otherDifferences: 0,
      differences: [],
      latency: { primary: { p50: null, p90: null, p99: null }, mirror: { p50: null, p90: null, p99: null } },
    });
  });

  it('sums the proxies’ samples: counts, differences most frequent first with an example, latency of both', async () => {
    expect((await t.call('POST', '/api/v1/telemetry', batch([sample()]))).status).toBe(200);
    expect((await t.call('POST', '/api/v1/telemetry', batch([sample({ differences: [sample().differences[0]!] })]))).status).toBe(200);
    // Another release's and a release-less service's samples do not count here.
    await t.call('POST', '/api/v1/telemetry', batch([sample({ release: 'someone-else' }), sample({ release: null })]));
    const r = await t.call('GET', '/api/v1/releases/reviews-mirror/comparison?window=60');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      window: 60,
      requests: 20,
      mirrored: 20,
      compared: 16,
      agree: 10,
      skipped: { bodyTooLarge: 2, mirrorFailed: 2, overloaded: 0, primaryFailed: 0 },
    });
    expect(r.body.differences.map((d: { kind: string; count: number }) => [d.kind, d.count])).toEqual([
      ['status', 4],
      ['body', 1],
    ]);
    expect(r.body.differences[0]).toMatchObject({ path: '/reviews/0', primary: '200', mirror: '503' });
    expect(r.body.differences[0].example.mirror).toEqual(answer(503, 'no'));
    expect(r.body.differences[1]).toMatchObject({ field: '$.rating', example: null });
    expect(r.body.latency.primary.p50).toBeGreaterThan(2.5);
    expect(r.body.latency.primary.p50).toBeLessThanOrEqual(5);
    expect(r.body.latency.mirror.p99).toBeGreaterThan(25);
    expect(r.body.latency.mirror.p99).toBeLessThanOrEqual(50);
  });

  it('cuts over-long example bodies rather than refusing the batch', async () => {
    const long = 'x'.repeat(100_000);
    const d = { ...sample().differences[0]!, path: '/long', example: { primary: answer(200, long), mirror: answer(503, long) } };
    expect((await t.call('POST', '/api/v1/telemetry', batch([sample({ differences: [d] })]))).status).toBe(200);
    const r = await t.call('GET', '/api/v1/releases/reviews-mirror/comparison');
    const kept = r.body.differences.find((x: { path: string }) => x.path === '/long');
    expect(kept.example.primary.body.length).toBe(4096);
    expect(kept.example.primary.bodyBytes).toBe(100_000);
  });

  it('is 404 for an unknown release and 400 for a bad window, saying why', async () => {
    const missing = await t.call('GET', '/api/v1/releases/nosuch/comparison');
    expect(missing.status).toBe(404);
    for (const [w, why] of [
      ['0', 'must be at least 1'],
      ['601', 'must be at most 600'],
      ['abc', 'must be a whole number of seconds'],
      ['1.5', 'must be a whole number of seconds'],
    ]) {
      const r = await t.call('GET', `/api/v1/releases/reviews-mirror/comparison?window=${w}`);
      expect(r.status, w).toBe(400);
      expect(r.body.error.message, w).toContain(why);
    }
  });

  it('is readable by a viewer, not by a proxy token, and in the OpenAPI document', async () => {
    expect((await t.callAs(t.tokenFor('viewer', 'alice'), 'GET', '/api/v1/releases/reviews-mirror/comparison')).status).toBe(200);
    expect((await t.callAs(t.tokenFor('proxy', 'p'), 'GET', '/api/v1/releases/reviews-mirror/comparison')).status).toBe(403);
    expect((await t.callAs(null, 'GET', '/api/v1/releases/reviews-mirror/comparison')).status).toBe(401);
    const doc = (await t.call('GET', '/api/v1/openapi.json')).body;
    const op = doc.paths['/api/v1/releases/{name}/comparison'].get;
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['name', 'window']);
    expect(Object.keys(op.responses['200'].content['application/json'].schema.properties)).toContain('differences');
  });
});
