import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/** The release lifecycle through the API, checking the route table and the events after each step. */
describe('release lifecycle through the API', () => {
  let t: TestControlPlane;
  beforeEach(async () => {
    t = await startTestControlPlane();
  });
  afterEach(async () => {
    await t.destroy();
  });

  const rulesNow = async () => {
    const res = await t.call('GET', '/api/v1/route-table');
    expect(res.status).toBe(200);
    return res.body.services.find((s: { name: string }) => s.name === 'reviews');
  };
  const lastEvent = async () => {
    const res = await t.call('GET', '/api/v1/releases/reviews-canary/events');
    expect(res.status).toBe(200);
    return res.body.items.at(-1);
  };
  const split = (v1: number, v2: number) => [
    {
      route: [
        { version: 'v1', weight: v1 },
        { version: 'v2', weight: v2 },
      ],
    },
  ];
  const only = (v: string) => [{ route: [{ version: v, weight: 100 }] }];
  /** While the candidate runs, a first rule sends `x-canary-preview: <candidate>` to it. */
  const previewed = (candidate: string, rules: unknown[]) => [
    { match: [{ headers: { 'x-canary-preview': { exact: candidate } } }], route: [{ version: candidate, weight: 100 }] },
    ...rules,
  ];

  it('50/50, PATCH 80/20, take over v2, roll back, resume, finish keeping v1', async () => {
    let res = await t.call('POST', '/api/v1/services', reviewsService);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'reviews', resourceVersion: '1', createdBy: 'admin', routes: [] });
    expect((await rulesNow()).rules).toEqual(only('v1'));

    res = await t.call('POST', '/api/v1/releases', reviewsCanary);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'reviews-canary', baseline: 'v1', strategy: 'canary', createdBy: 'admin' });
    // endpoints without health checks are ready at once: the controller moves the release on by itself
    res = await t.call('GET', '/api/v1/releases/reviews-canary');
    expect(res.body.status).toMatchObject({ phase: 'Progressing', governor: null, observed: {} });
    expect(res.headers.etag).toBe(`"${res.body.resourceVersion}"`);
    let table = await rulesNow();
    expect(table.release).toBe('reviews-canary');
    expect(table.rules).toEqual(previewed('v2', split(50, 50)));
    let ev = await lastEvent();
    expect(ev).toMatchObject({
      action: 'release.candidate-ready',
      actor: 'controller',
      before: { status: { phase: 'Pending' } },
      after: { status: { phase: 'Progressing' } },
    });

    const version = res.body.resourceVersion;
    res = await t.call(
      'PATCH',
      '/api/v1/releases/reviews-canary',
      { traffic: { weights: { v1: 80, v2: 20 } } },
      { 'if-match': `"${version}"` },
    );
    expect(res.status).toBe(200);
    expect(res.body.traffic).toEqual({ weights: { v1: 80, v2: 20 } });
    expect(Number(res.body.resourceVersion)).toBeGreaterThan(Number(version));
    expect((await rulesNow()).rules).toEqual(previewed('v2', split(80, 20)));
    ev = await lastEvent();
    expect(ev).toMatchObject({
      action: 'release.traffic-changed',
      actor: 'admin',
      before: { traffic: { weights: { v1: 50, v2: 50 } } },
      after: { traffic: { weights: { v1: 80, v2: 20 } } },
    });

    res = await t.call('POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' });
    expect(res.status).toBe(200);
    expect(res.body.status).toMatchObject({ phase: 'TakenOver', governor: 'v2' });
    expect((await rulesNow()).rules).toEqual(only('v2'));
    expect(await lastEvent()).toMatchObject({
      action: 'release.taken-over',
      before: { status: { phase: 'Progressing' } },
      after: { status: { governor: 'v2' } },
    });

    res = await t.call('POST', '/api/v1/releases/reviews-canary/rollback');
    expect(res.status).toBe(200);
    expect(res.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v1' });
    expect((await rulesNow()).rules).toEqual(previewed('v2', only('v1'))); // rolled back: v2 still runs for testers
    expect(await lastEvent()).toMatchObject({ action: 'release.rolled-back', after: { status: { phase: 'RolledBack' } } });

    // a PATCH while a governor is set is stored, and the governor stays in force
    res = await t.call('PATCH', '/api/v1/releases/reviews-canary', { traffic: { weights: { v1: 70, v2: 30 } } });
    expect(res.status).toBe(200);
    expect((await rulesNow()).rules).toEqual(previewed('v2', only('v1')));

    res = await t.call('POST', '/api/v1/releases/reviews-canary/resume');
    expect(res.status).toBe(200);
    expect(res.body.status).toMatchObject({ phase: 'Progressing', governor: null });
    expect((await rulesNow()).rules).toEqual(previewed('v2', split(70, 30)));
    expect(await lastEvent()).toMatchObject({
      action: 'release.resumed',
      before: { status: { governor: 'v1' } },
      after: { status: { governor: null } },
    });

    // resuming twice is refused: there is nothing to resume from
    res = await t.call('POST', '/api/v1/releases/reviews-canary/resume');
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/no take-over or rollback to resume from/);

    const done = t.call('DELETE', '/api/v1/releases/reviews-canary?keep=v1');
    // during the drain period everything already goes to the kept version
    await new Promise((r) => setTimeout(r, 10));
    table = await rulesNow();
    expect(table.rules).toEqual(only('v1'));
    expect(table.versions.map((v: { name: string }) => v.name)).toEqual(['v1', 'v2']);
    res = await done;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v1', retired: 'v2' });

    expect((await t.call('GET', '/api/v1/releases/reviews-canary')).status).toBe(404);
    expect((await t.call('GET', '/api/v1/releases')).body.items).toEqual([]);
    table = await rulesNow();
    expect(table).toMatchObject({ release: null, rules: only('v1') });
    expect(table.versions.map((v: { name: string }) => v.name)).toEqual(['v1']);
    const svc = (await t.call('GET', '/api/v1/services/reviews')).body;
    expect(svc.versions.map((v: { name: string }) => v.name)).toEqual(['v1']);
    expect(svc.routes).toEqual([]);
    // the retired version's endpoints are gone from the runtime
    expect(t.runtime.endpoints('reviews', 'v2')).toEqual([]);

    // the release's events outlive it, in order, newest last
    const events = (await t.call('GET', '/api/v1/releases/reviews-canary/events')).body.items;
    expect(events.map((e: { action: string }) => e.action)).toEqual([
      'release.created',
      'release.candidate-ready',
      'release.traffic-changed',
      'release.taken-over',
      'release.rolled-back',
      'release.traffic-changed',
      'release.resumed',
      'release.finishing',
      'version.removed',
      'release.finished',
    ]);
    expect(events.at(-1)).toMatchObject({ actor: 'admin', before: { name: 'reviews-canary' }, after: null });
    const ids = events.map((e: { id: number }) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('starts a new candidate from the baseline workload, keeps traffic on the baseline until it is ready, and retires it when the baseline is kept', async () => {
    const { createServer } = await import('node:http');
    let healthy = false;
    const server = createServer((_req, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      await t.call('POST', '/api/v1/services', {
        name: 'reviews',
        versions: [{ name: 'v1', labels: { track: 'stable' }, workload: { kind: 'endpoints', addresses: ['127.0.0.1:19001'] } }],
      });
      let res = await t.call('POST', '/api/v1/releases', {
        name: 'reviews-canary',
        service: 'reviews',
        candidate: { name: 'v3', workload: { addresses: [`127.0.0.1:${port}`], health: { path: '/health' } } },
        traffic: { weights: { v1: 50, v3: 50 } },
      });
      expect(res.status).toBe(201);
      expect(res.body.status).toMatchObject({ phase: 'Pending', candidateCreated: true });
      const svc = (await t.call('GET', '/api/v1/services/reviews')).body;
      expect(svc.versions[1]).toEqual({
        name: 'v3',
        labels: { track: 'stable' },
        workload: { kind: 'endpoints', addresses: [`127.0.0.1:${port}`], health: { path: '/health' } },
      });
      expect(svc.status.versions[1]).toMatchObject({
        name: 'v3',
        health: { ready: false },
        instances: [{ state: 'unready', ready: false }],
      });
      expect((await rulesNow()).rules).toEqual(only('v1'));
      // taking over with a candidate that is not ready is refused
      res = await t.call('POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v3' });
      expect(res.status).toBe(409);
      expect(res.body.error.message).toBe('cannot take over with v3: it is not ready (phase Pending)');

      healthy = true;
      const deadline = Date.now() + 5000;
      while ((await t.call('GET', '/api/v1/releases/reviews-canary')).body.status.phase !== 'Progressing') {
        if (Date.now() > deadline) throw new Error('the candidate never became ready');
        await new Promise((r) => setTimeout(r, 25));
      }
      expect((await rulesNow()).rules).toEqual(
        previewed('v3', [
          {
            route: [
              { version: 'v1', weight: 50 },
              { version: 'v3', weight: 50 },
            ],
          },
        ]),
      );

      res = await t.call('DELETE', '/api/v1/releases/reviews-canary?keep=v1');
      expect(res.body).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v1', retired: 'v3' });
      expect((await t.call('GET', '/api/v1/services/reviews')).body.versions.map((v: { name: string }) => v.name)).toEqual(['v1']);
      const svcEvents = (await t.call('GET', '/api/v1/releases/reviews-canary/events')).body.items;
      expect(svcEvents[0]).toMatchObject({
        action: 'version.added',
        resourceKind: 'service',
        resourceName: 'reviews',
        release: 'reviews-canary',
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('fails a release whose candidate cannot start, and still rolls back and finishes', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    // no process runtime in this control plane: the candidate cannot start
    let res = await t.call('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      candidate: { name: 'v3', workload: { kind: 'process', command: 'node', args: ['reviews.js'] } },
      traffic: { weights: { v1: 90, v3: 10 } },
    });
    expect(res.status).toBe(201);
    res = await t.call('GET', '/api/v1/releases/reviews-canary');
    expect(res.body.status.phase).toBe('Failed');
    expect(res.body.status.conditions[0]).toMatchObject({
      type: 'CandidateReady',
      status: 'False',
      reason: 'Failed',
      message: expect.stringMatching(/no runtime for "process"/),
    });
    expect((await rulesNow()).rules).toEqual(only('v1'));
    res = await t.call('POST', '/api/v1/releases/reviews-canary/rollback');
    expect(res.body.status.phase).toBe('RolledBack');
    res = await t.call('DELETE', '/api/v1/releases/reviews-canary?keep=v3');
    expect(res.status).toBe(409);
    res = await t.call('DELETE', '/api/v1/releases/reviews-canary');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('keep: required: the version to keep ("v1" or "v3")');
    res = await t.call('DELETE', '/api/v1/releases/reviews-canary?keep=v1');
    expect(res.body).toMatchObject({ kept: 'v1', retired: 'v3' });
  });

  it('finishes keeping the candidate: it becomes the stable version', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    await t.call('POST', '/api/v1/releases', reviewsCanary);
    const res = await t.call('DELETE', '/api/v1/releases/reviews-canary?keep=v2');
    expect(res.body).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v2', retired: 'v1' });
    const table = await rulesNow();
    expect(table.rules).toEqual(only('v2'));
    expect(table.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
    expect(table.versions[0].endpoints).toEqual([{ address: '127.0.0.1:19002', instance: '127.0.0.1:19002', ready: true }]);
  });
});
