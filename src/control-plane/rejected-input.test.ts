import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/**
 * Every refused call answers the right status and a message that names the field, and leaves the store
 * exactly as it was: services, releases, events and the revision.
 */
describe('refused calls change nothing', () => {
  let t: TestControlPlane;
  let releaseVersion: string;
  const release = (over: Record<string, unknown> = {}) => ({
    name: 'ratings-canary',
    service: 'ratings',
    candidate: { name: 'v2' },
    traffic: { weights: { v1: 50, v2: 50 } },
    ...over,
  });

  beforeAll(async () => {
    t = await startTestControlPlane();
    await t.call('POST', '/api/v1/services', reviewsService);
    await t.call('POST', '/api/v1/services', { ...reviewsService, name: 'ratings', ingress: undefined });
    const r = await t.call('POST', '/api/v1/releases', reviewsCanary);
    expect(r.status).toBe(201);
    releaseVersion = (await t.call('GET', '/api/v1/releases/reviews-canary')).body.resourceVersion;
  });
  afterAll(async () => {
    await t?.destroy();
  });

  const cases: {
    name: string;
    method: string;
    url: string;
    body?: () => unknown;
    headers?: () => Record<string, string>;
    status: number;
    code: string;
    message: string | RegExp;
  }[] = [
    {
      name: 'weights that do not sum to 100',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ traffic: { weights: { v1: 60, v2: 50 } } }),
      status: 400,
      code: 'InvalidInput',
      message: 'traffic.weights: must sum to 100, got 110',
    },
    {
      name: 'a non-integer weight',
      method: 'PATCH',
      url: '/api/v1/releases/reviews-canary',
      body: () => ({ traffic: { weights: { v1: 50.5, v2: 49.5 } } }),
      status: 400,
      code: 'InvalidInput',
      message: /^traffic\.weights\.v1: .*int.*; traffic\.weights\.v2: .*int/i,
    },
    {
      name: 'a version outside the release',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ traffic: { weights: { v1: 50, v3: 50 } } }),
      status: 400,
      code: 'InvalidInput',
      message: 'traffic.weights.v3: "v3" is neither the baseline "v1" nor the candidate "v2"',
    },
    {
      name: 'routes naming a version the service does not have',
      method: 'PUT',
      url: '/api/v1/services/ratings/routes',
      body: () => ({
        rules: [
          {
            route: [
              { version: 'v1', weight: 50 },
              { version: 'v9', weight: 50 },
            ],
          },
        ],
      }),
      status: 400,
      code: 'InvalidInput',
      message: 'rules.0.route.1.version: version "v9" does not exist in service "ratings" (it has v1, v2)',
    },
    {
      name: 'a regex with a lookaround',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ traffic: { match: [{ headers: { 'end-user': { regex: '(?=admin).*' } } }], weights: { v1: 100 } } }),
      status: 400,
      code: 'InvalidInput',
      message: /^traffic\.match\.0\.headers\.end-user\.regex: not a valid RE2 regex .*lookarounds and backreferences are not supported/,
    },
    {
      name: 'a name that is not a DNS-1123 label',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ name: 'Ratings_Canary' }),
      status: 400,
      code: 'InvalidInput',
      message: /^name: "Ratings_Canary" must be a DNS-1123 label/,
    },
    {
      name: 'an unknown field',
      method: 'POST',
      url: '/api/v1/services',
      body: () => ({ ...reviewsService, name: 'details', replicas: 3 }),
      status: 400,
      code: 'InvalidInput',
      message: /replicas/,
    },
    {
      name: 'a body that is not JSON',
      method: 'POST',
      url: '/api/v1/services',
      body: () => '{"name": ',
      headers: () => ({ 'content-type': 'application/json' }),
      status: 400,
      code: 'InvalidInput',
      message: /^body: not valid JSON/,
    },
    {
      name: 'a second active release for a service',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ name: 'reviews-canary-2', service: 'reviews' }),
      status: 409,
      code: 'ReleaseActive',
      message: 'service "reviews" already has an active release "reviews-canary"; finish it first',
    },
    {
      name: 'a release name that exists',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ name: 'reviews-canary' }),
      status: 409,
      code: 'AlreadyExists',
      message: 'release "reviews-canary" exists already',
    },
    {
      name: 'a stale If-Match',
      method: 'PATCH',
      url: '/api/v1/releases/reviews-canary',
      body: () => ({ traffic: { weights: { v1: 10, v2: 90 } } }),
      headers: () => ({ 'if-match': `"${Number(releaseVersion) - 1}"` }),
      status: 409,
      code: 'StaleResourceVersion',
      message: /^release "reviews-canary" changed since you read it/,
    },
    {
      name: 'PUT routes while a release owns them',
      method: 'PUT',
      url: '/api/v1/services/reviews/routes',
      body: () => ({ rules: [{ route: [{ version: 'v2', weight: 100 }] }] }),
      status: 409,
      code: 'NotAllowed',
      message:
        'the routes of "reviews" belong to release "reviews-canary" while it is active; change the release\'s traffic, or finish it first',
    },
    {
      name: 'deleting a service with an active release',
      method: 'DELETE',
      url: '/api/v1/services/reviews',
      status: 409,
      code: 'NotAllowed',
      message: 'service "reviews" has an active release "reviews-canary"; finish it before deleting the service',
    },
    {
      name: 'deleting a version a release uses',
      method: 'DELETE',
      url: '/api/v1/services/reviews/versions/v2',
      status: 409,
      code: 'NotAllowed',
      message: 'version "v2" is used by release "reviews-canary"; finish the release first',
    },
    {
      name: 'deleting the stable version that serves all traffic',
      method: 'DELETE',
      url: '/api/v1/services/ratings/versions/v1',
      status: 409,
      code: 'NotAllowed',
      message: /"v1" is the stable version of "ratings" and serves all its traffic/,
    },
    {
      name: 'a version that exists already',
      method: 'POST',
      url: '/api/v1/services/ratings/versions',
      body: () => ({ name: 'v2', workload: { kind: 'endpoints', addresses: ['127.0.0.1:1'] } }),
      status: 409,
      code: 'AlreadyExists',
      message: 'version "v2" exists already in service "ratings"',
    },
    {
      name: 'taking over with a version outside the release',
      method: 'POST',
      url: '/api/v1/releases/reviews-canary/takeover',
      body: () => ({ version: 'v7' }),
      status: 400,
      code: 'InvalidInput',
      message: 'version: "v7" is not part of release "reviews-canary" (v1, v2)',
    },
    {
      name: 'an unknown release',
      method: 'POST',
      url: '/api/v1/releases/nope/rollback',
      status: 404,
      code: 'NotFound',
      message: 'release "nope" does not exist',
    },
    {
      name: 'a header name with CR/LF in a match rule',
      method: 'PATCH',
      url: '/api/v1/releases/reviews-canary',
      body: () => ({ traffic: { match: [{ headers: { 'x-a\r\nx-b': { exact: '1' } } }], weights: { v1: 100 } } }),
      status: 400,
      code: 'InvalidInput',
      message: /^traffic\.match\.0\.headers: header name "x-a\\r\\nx-b" is not a valid HTTP field name/,
    },
    {
      name: 'a header name with a space in a routes rule',
      method: 'PUT',
      url: '/api/v1/services/ratings/routes',
      body: () => ({ rules: [{ match: [{ headers: { 'end user': { exact: 'jason' } } }], route: [{ version: 'v1', weight: 100 }] }] }),
      status: 400,
      code: 'InvalidInput',
      message: /^rules\.0\.match\.0\.headers: header name "end user" is not a valid HTTP field name/,
    },
    {
      name: 'one header named twice in different case',
      method: 'PUT',
      url: '/api/v1/services/ratings/routes',
      body: () => ({
        rules: [
          { match: [{ headers: { 'End-User': { exact: 'a' }, 'end-user': { exact: 'b' } } }], route: [{ version: 'v1', weight: 100 }] },
        ],
      }),
      status: 400,
      code: 'InvalidInput',
      message: /^rules\.0\.match\.0\.headers: header "end-user" is named twice \(as "End-User" and "end-user"\)/,
    },
    {
      name: 'a sticky header that is not a field name',
      method: 'PUT',
      url: '/api/v1/services/ratings/routes',
      body: () => ({ rules: [{ route: [{ version: 'v1', weight: 100 }], sticky: { header: 'x:user' } }] }),
      status: 400,
      code: 'InvalidInput',
      message: /^rules\.0\.sticky\.header: "x:user" is not a valid HTTP field name/,
    },
    {
      name: 'a malformed If-Match',
      method: 'PATCH',
      url: '/api/v1/releases/reviews-canary',
      body: () => ({ traffic: { weights: { v1: 10, v2: 90 } } }),
      headers: () => ({ 'if-match': 'abc' }),
      status: 400,
      code: 'InvalidInput',
      message: 'If-Match: must be a resourceVersion as the API returned it, e.g. "7", got "abc"',
    },
    {
      name: 'the events of an unknown release',
      method: 'GET',
      url: '/api/v1/releases/nope/events',
      status: 404,
      code: 'NotFound',
      message: 'release "nope" does not exist and has no events',
    },
    {
      name: 'a missing token',
      method: 'GET',
      url: '/api/v1/services',
      headers: () => ({ authorization: '' }),
      status: 401,
      code: 'Unauthorized',
      message: /^missing token: send "Authorization: Bearer <token>"/,
    },
    {
      name: 'a wrong token (on a mutating call)',
      method: 'POST',
      url: '/api/v1/releases/reviews-canary/rollback',
      headers: () => ({ authorization: 'Bearer not-the-token' }),
      status: 401,
      code: 'Unauthorized',
      message: /^invalid token/,
    },
    {
      name: 'a blueGreen release that would send ordinary traffic to the candidate',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ strategy: 'blueGreen', traffic: { weights: { v1: 90, v2: 10 } } }),
      status: 400,
      code: 'InvalidInput',
      message: /^traffic\.weights\.v2: must be 0: strategy blueGreen sends no ordinary traffic to the candidate before the switch/,
    },
    {
      name: 'a mirror release copying 0%',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ strategy: 'mirror', traffic: { mirror: { percent: 0 } } }),
      status: 400,
      code: 'InvalidInput',
      message: 'traffic.mirror.percent: must be more than 0 and at most 100, got 0',
    },
    {
      name: 'a mirror release with weights',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ strategy: 'mirror' }),
      status: 400,
      code: 'InvalidInput',
      message: 'traffic.weights: strategy mirror answers every request from the baseline; give only {"mirror":{"percent":N}}',
    },
    {
      name: 'a canary release without traffic',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ traffic: undefined }),
      status: 400,
      code: 'InvalidInput',
      message: 'traffic: required for strategy canary, e.g. {"weights":{"v1":90,"v2":10}}',
    },
    {
      name: 'an unknown strategy',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ strategy: 'rainbow' }),
      status: 400,
      code: 'InvalidInput',
      message: /^strategy: .*"canary".*"blueGreen".*"mirror"/,
    },
    {
      name: 'a preview header that is not an HTTP field name',
      method: 'POST',
      url: '/api/v1/releases',
      body: () => release({ preview: { header: 'x preview' } }),
      status: 400,
      code: 'InvalidInput',
      message: /^preview\.header: "x preview" is not a valid HTTP field name/,
    },
    {
      name: 'a canary changed to mirroring alone',
      method: 'PATCH',
      url: '/api/v1/releases/reviews-canary',
      body: () => ({ traffic: { mirror: { percent: 10 } } }),
      status: 400,
      code: 'InvalidInput',
      message: 'traffic: strategy canary needs "weights", "match" or "rules"; to only copy requests, use strategy mirror',
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const before = t.snapshot();
      const tableBefore = (await t.call('GET', '/api/v1/route-table')).body;
      const headers = c.headers?.() ?? {};
      if (headers.authorization === '') delete headers.authorization;
      const res = await (headers.authorization === undefined && c.status === 401
        ? t.cp.app
            .inject({ method: c.method as 'GET', url: c.url })
            .then((r) => ({ status: r.statusCode, body: JSON.parse(r.body), headers: r.headers }))
        : t.call(c.method, c.url, c.body?.(), headers));
      expect(res.status).toBe(c.status);
      expect(res.body.error.code).toBe(c.code);
      if (typeof c.message === 'string') expect(res.body.error.message).toBe(c.message);
      else expect(res.body.error.message).toMatch(c.message);
      if (c.status === 400 && c.code === 'InvalidInput' && !/JSON|replicas/.test(String(c.message))) {
        // each detail names its field (unknown keys are reported on the object that has them)
        expect(res.body.error.details.length).toBeGreaterThan(0);
        expect(res.body.error.details[0].path).not.toBe('');
      }
      if (c.status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(t.snapshot()).toEqual(before);
      expect((await t.call('GET', '/api/v1/route-table')).body).toEqual(tableBefore);
    });
  }

  it('answers unknown routes with 404 in the same error shape', async () => {
    const res = await t.call('GET', '/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NotFound', message: 'no route for GET /api/v1/nothing-here', details: [] } });
  });
});
