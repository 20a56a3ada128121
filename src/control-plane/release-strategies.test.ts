import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/** blueGreen and mirror releases through the API: the route table, the status and the Istio manifests after each step. */
describe('release strategies through the API', () => {
  let t: TestControlPlane;
  beforeEach(async () => {
    t = await startTestControlPlane();
    expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
  });
  afterEach(async () => {
    await t.destroy();
  });

  const rulesNow = async () =>
    (await t.call('GET', '/api/v1/route-table')).body.services.find((s: { name: string }) => s.name === 'reviews').rules;
  const istio = async () => {
    const res = await t.call('GET', '/api/v1/services/reviews/manifests?format=istio');
    expect(res.status).toBe(200);
    return res.text
      .split(/^---$/m)
      .map((doc) => parse(doc))
      .find((o) => o?.kind === 'VirtualService');
  };
  const lastEvent = async (name: string) => (await t.call('GET', `/api/v1/releases/${name}/events`)).body.items.at(-1);
  const preview = { match: [{ headers: { 'x-canary-preview': { exact: 'v2' } } }], route: [{ version: 'v2', weight: 100 }] };
  const only = (v: string) => ({ route: [{ version: v, weight: 100 }] });

  it('blueGreen: the candidate waits at 0% (preview only), switches at once, keeps the baseline as standby, finishes retiring it', async () => {
    let res = await t.call('POST', '/api/v1/releases', {
      name: 'reviews-bg',
      service: 'reviews',
      strategy: 'blueGreen',
      candidate: { name: 'v2' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ strategy: 'blueGreen', baseline: 'v1' });
    expect(res.body.traffic).toEqual({ weights: { v1: 100 } }); // the strategy's default, stored
    expect((await t.call('GET', '/api/v1/releases/reviews-bg')).body.status.phase).toBe('Progressing');
    expect(await rulesNow()).toEqual([preview, only('v1')]);
    const vs = await istio();
    expect(vs.spec.http[0]).toEqual({
      match: [{ headers: { 'x-canary-preview': { exact: 'v2' } } }],
      route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 100 }],
    });
    expect(vs.spec.http[1].route).toEqual([{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 100 }]);

    res = await t.call('PATCH', '/api/v1/releases/reviews-bg', { traffic: { weights: { v1: 50, v2: 50 } } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^traffic\.weights\.v2: must be 0: strategy blueGreen/);

    res = await t.call('POST', '/api/v1/releases/reviews-bg/takeover', { version: 'v2' });
    expect(res.status).toBe(200);
    expect(res.body.status).toMatchObject({ phase: 'TakenOver', governor: 'v2', standby: 'v1' });
    expect(await rulesNow()).toEqual([only('v2')]);
    expect(await lastEvent('reviews-bg')).toMatchObject({ action: 'release.taken-over', message: 'v2 takes 100% of "reviews-bg"' });

    res = await t.call('POST', '/api/v1/releases/reviews-bg/rollback');
    expect(res.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v1', standby: 'v1' });
    expect(await rulesNow()).toEqual([preview, only('v1')]);

    expect((await t.call('POST', '/api/v1/releases/reviews-bg/takeover', { version: 'v2' })).status).toBe(200);
    res = await t.call('DELETE', '/api/v1/releases/reviews-bg?keep=v2');
    expect(res.body).toEqual({ release: 'reviews-bg', service: 'reviews', kept: 'v2', retired: 'v1' });
    expect((await t.call('GET', '/api/v1/services/reviews')).body.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
    expect(await rulesNow()).toEqual([only('v2')]);
  });

  it('mirror: answers from the baseline, copies a share to the candidate, and becomes a canary at 100% on take over', async () => {
    let res = await t.call('POST', '/api/v1/releases', {
      name: 'reviews-mirror',
      service: 'reviews',
      strategy: 'mirror',
      candidate: { name: 'v2' },
      traffic: { mirror: { percent: 20 } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ strategy: 'mirror', traffic: { mirror: { percent: 20 } } });
    expect(await rulesNow()).toEqual([preview, { route: [{ version: 'v1', weight: 100 }], mirror: { version: 'v2', percent: 20 } }]);
    const vs = await istio();
    expect(vs.spec.http[1]).toEqual({
      route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 100 }],
      mirror: { host: 'reviews', port: { number: 9080 }, subset: 'v2' },
      mirrorPercentage: { value: 20 },
    });

    res = await t.call('PATCH', '/api/v1/releases/reviews-mirror', { traffic: { mirror: { percent: 50 } } });
    expect(res.status).toBe(200);
    expect((await rulesNow())[1].mirror).toEqual({ version: 'v2', percent: 50 });

    res = await t.call('POST', '/api/v1/releases/reviews-mirror/takeover', { version: 'v2' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      strategy: 'canary',
      traffic: { weights: { v1: 0, v2: 100 } },
      status: { phase: 'TakenOver', governor: 'v2' },
    });
    expect(await rulesNow()).toEqual([only('v2')]);
    expect((await lastEvent('reviews-mirror')).message).toBe(
      'v2 takes 100% of "reviews-mirror"; mirroring ends and the release goes on as a canary',
    );

    // Now a canary: resume restores its stored split (100% v2), which can be changed like any canary's.
    res = await t.call('POST', '/api/v1/releases/reviews-mirror/resume');
    expect(res.body.status).toMatchObject({ phase: 'Progressing', governor: null });
    res = await t.call('PATCH', '/api/v1/releases/reviews-mirror', { traffic: { weights: { v1: 90, v2: 10 } } });
    expect(res.status).toBe(200);
    expect(await rulesNow()).toEqual([
      preview,
      {
        route: [
          { version: 'v1', weight: 90 },
          { version: 'v2', weight: 10 },
        ],
      },
    ]);
  });
});
