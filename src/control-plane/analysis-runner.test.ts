import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createAnalysisRelease, reviewsBatch, useAnalysisControlPlane } from '../../test/support/analysis-fixtures.js';
import { reviewsService, type TestControlPlane } from '../../test/support/test-harness.js';
import { waitFor } from '../../test/support/wait-for.js';

/**
 * The analysis runner in-process, on a real store: telemetry arrives as the proxies' batches would (fed straight
 * into the hub, a batch every 100 ms), so each case controls exactly what both versions answer.
 */

const { start, feeds, servers } = useAnalysisControlPlane();
const batch = reviewsBatch;

/** Feeds a steady split as the proxies would report it: per 100 ms, `perTick` requests shared by the weights in force. */
function feedTraffic(t: TestControlPlane, candidateErrorRate: number, perTick = 4, candidateMs = 5) {
  let debt = 0;
  const timer = setInterval(() => {
    const r = t.cp.store.getRelease('reviews-canary');
    const weights = r?.status.governor
      ? { [r.status.governor]: 100 }
      : ((r?.traffic?.weights as Record<string, number> | undefined) ?? { v1: 100 });
    const w2 = r?.status.phase === 'Progressing' || r?.status.phase === 'TakenOver' ? (weights.v2 ?? 0) : 0;
    const toV2 = Math.round((perTick * w2) / 100);
    const toV1 = perTick - toV2;
    debt += toV2 * candidateErrorRate;
    const failed = Math.floor(debt);
    debt -= failed;
    t.cp.telemetry.ingest(batch('v1', toV1, 0));
    if (toV2 > 0) t.cp.telemetry.ingest(batch('v2', toV2 - failed, failed, candidateMs));
  }, 100);
  feeds.push(timer);
}

const release = (analysis: object) => ({ name: 'reviews-canary', service: 'reviews', candidate: { name: 'v2' }, analysis });

const get = async (t: TestControlPlane) => (await t.call('GET', '/api/v1/releases/reviews-canary')).body;
const actions = (t: TestControlPlane) => t.cp.store.listEvents().map((e) => e.action);

describe('the analysis runner', () => {
  it('walks a healthy candidate through every step and finishes keeping it (release.promoted)', async () => {
    const t = await start();
    const created = await createAnalysisRelease(t, {
      interval: '1s',
      minRequests: 5,
      steps: [{ setWeight: 20 }, { pause: { duration: '1s' } }, { setWeight: 50 }, { setWeight: 100 }],
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.traffic).toEqual({ weights: { v1: 100 } });
    feedTraffic(t, 0, 10);
    await waitFor('the release to finish', () => (t.cp.store.getRelease('reviews-canary') ? undefined : true), 40_000);
    expect(t.cp.store.getService('reviews')!.versions.map((v) => v.name)).toEqual(['v2']);
    const a = actions(t);
    expect(a.filter((x) => x === 'release.analysis-step')).toHaveLength(4);
    expect(a).toContain('release.promoted');
    expect(a.indexOf('release.promoted')).toBeLessThan(a.indexOf('release.finished'));
    const weights = t.cp.store
      .listEvents()
      .filter((e) => e.action === 'release.traffic-changed')
      .map((e) => (e.after as { traffic: unknown }).traffic);
    expect(weights).toEqual([{ weights: { v1: 80, v2: 20 } }, { weights: { v1: 50, v2: 50 } }, { weights: { v1: 0, v2: 100 } }]);
  });

  it('rolls a failing candidate back with a message naming the metric, both values, the counts and the bound', async () => {
    const t = await start();
    await t.call(
      'POST',
      '/api/v1/releases',
      release({ interval: '1s', checks: [{ metric: 'successRate', min: 99 }], steps: [{ setWeight: 20 }, { setWeight: 100 }] }),
    );
    feedTraffic(t, 0.3, 20);
    const r = await waitFor('the rollback', async () => {
      const x = await get(t);
      return x.status.analysis?.state === 'failed' ? x : undefined;
    });
    expect(r.status.phase).toBe('RolledBack');
    expect(r.status.governor).toBe('v1');
    expect(r.status.analysis.verdict).toBe('failing');
    expect(r.status.analysis.message).toMatch(
      /^successRate: candidate v2 \d+\.\d\d % \(\d+ of \d+ requests succeeded\) .*(baseline v1 100\.00 % \(\d+ of \d+ requests succeeded\)).*likelihood ratio \S+ >= bound 200 \(alpha 0\.005\)/,
    );
    const condition = r.status.conditions.find((c: { type: string }) => c.type === 'Analysis');
    expect(condition).toMatchObject({ status: 'False', reason: 'Failing', message: r.status.analysis.message });
    const ev = t.cp.store.listEvents().find((e) => e.action === 'release.analysis-failed')!;
    expect(ev.message).toContain('rolled back by the analysis: successRate: candidate v2');
  });

  it('says inconclusive without traffic and does not promote', async () => {
    const t = await start();
    await createAnalysisRelease(t, { interval: '1s', minRequests: 20, steps: [{ setWeight: 50 }, { setWeight: 100 }] });
    const r = await waitFor('a few checks', async () => {
      const x = await get(t);
      return (x.status.analysis?.history?.length ?? 0) >= 3 ? x : undefined;
    });
    expect(r.status.analysis).toMatchObject({ state: 'running', step: 0, weight: 50, verdict: 'inconclusive' });
    expect(r.status.analysis.message).toContain(
      'inconclusive: needs 20 more requests to the candidate v2 (0 of minRequests 20 in this step)',
    );
    expect(actions(t)).not.toContain('release.promoted');
  });

  it('promotes and aborts while paused until promote', async () => {
    const t = await start();
    const steps = [{ setWeight: 30 }, { pause: {} }, { setWeight: 100 }];
    await createAnalysisRelease(t, { interval: '1s', minRequests: 3, steps });
    feedTraffic(t, 0, 10);
    await waitFor('the pause', async () => ((await get(t)).status.analysis?.step === 1 ? true : undefined));
    // It stays paused while checks keep running: read after a check made well over an interval into the pause.
    const pausedAt = Date.now();
    const paused = await waitFor('checks during the pause', async () => {
      const x = await get(t);
      return Date.parse(x.status.analysis?.checkedAt ?? '') > pausedAt + 1500 ? x : undefined;
    });
    expect(paused.status.analysis).toMatchObject({ step: 1, weight: 30, state: 'running', verdict: 'passing' });
    expect(paused.status.analysis.message).toContain('paused until promote');
    const promoted = await t.call('POST', '/api/v1/releases/reviews-canary/promote');
    expect(promoted.status, promoted.text).toBe(200);
    expect(promoted.body).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v2', retired: 'v1' });
    const ev = t.cp.store.listEvents().find((e) => e.action === 'release.promoted')!;
    expect(ev.message).toBe(
      'release "reviews-canary" promoted by admin at step 2 of 3, skipping the rest: v2 takes 100 % and the release finishes keeping it',
    );

    // The same pause, aborted this time.
    await t.call('POST', '/api/v1/services/reviews/versions', reviewsService.versions[0]);
    await t.call('POST', '/api/v1/releases', {
      ...release({ interval: '1s', minRequests: 3, steps }),
      candidate: { name: 'v1' },
      baseline: 'v2',
    });
    await waitFor('the second pause', async () => ((await get(t)).status.analysis?.step === 1 ? true : undefined));
    const aborted = await t.call('POST', '/api/v1/releases/reviews-canary/abort');
    expect(aborted.status, aborted.text).toBe(200);
    expect(aborted.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v2' });
    expect(aborted.body.status.analysis).toMatchObject({ state: 'aborted', message: 'aborted by admin at step 2; v2 takes 100 %' });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await get(t)).status.analysis.state).toBe('aborted');
  });

  it('stops before any traffic moves when a preRollout webhook refuses, and calls the rollback webhook', async () => {
    const calls: { path: string; body: { type: string } }[] = [];
    const hooks = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        calls.push({ path: req.url!, body: JSON.parse(text) });
        res.writeHead(req.url === '/pre' ? 412 : 200).end();
      });
    });
    servers.push(hooks);
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
    const t = await start();
    const created = await createAnalysisRelease(t, {
      interval: '1s',
      webhooks: [
        { on: 'preRollout', url: `${base}/pre`, retries: 0 },
        { on: 'rollback', url: `${base}/rollback` },
      ],
    });
    expect(created.status, created.text).toBe(201);
    const r = await waitFor('the refusal', async () => {
      const x = await get(t);
      return x.status.analysis?.state === 'failed' ? x : undefined;
    });
    expect(r.status.analysis.message).toMatch(
      /^preRollout webhook "preRollout-0" \(http:\/\/127\.0\.0\.1:\d+\/pre\) failed after 1 attempt\(s\): answered 412; no traffic moved to v2$/,
    );
    expect(r.status.phase).toBe('RolledBack');
    expect(actions(t)).not.toContain('release.traffic-changed');
    await waitFor('the rollback webhook', () => (calls.some((c) => c.path === '/rollback') ? true : undefined));
    expect(calls.find((c) => c.path === '/pre')!.body).toMatchObject({
      type: 'preRollout',
      release: 'reviews-canary',
      candidate: 'v2',
      weight: 0,
    });
  });

  it('continues after a control-plane restart from the step it had reached', async () => {
    const t = await start();
    await t.call(
      'POST',
      '/api/v1/releases',
      release({ interval: '1s', minRequests: 3, steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] }),
    );
    feedTraffic(t, 0, 10);
    await waitFor('the pause', async () => ((await get(t)).status.analysis?.step === 1 ? true : undefined));
    for (const f of feeds.splice(0)) clearInterval(f);
    await t.stop();
    const again = await start({ dataDir: t.dataDir, analysis: { tickMs: 50 } }, false);
    feedTraffic(again, 0, 10);
    await waitFor('checks after the restart', async () => {
      const x = await get(again);
      return x.status.analysis?.checkedAt && Date.parse(x.status.analysis.checkedAt) > Date.now() - 1500 ? true : undefined;
    });
    const x = await get(again);
    expect(x.status.analysis).toMatchObject({ step: 1, weight: 10, state: 'running' });
    expect(x.traffic).toEqual({ weights: { v1: 90, v2: 10 } });
  });

  it('refuses what it cannot serve, and webhooks from an operator, changing nothing', async () => {
    const t = await start();
    const operator = t.tokenFor('operator');
    const viewer = t.tokenFor('viewer');
    const before = t.snapshot();
    const prom = await createAnalysisRelease(t, { checks: [{ metric: 'prometheus', query: 'up', max: 1 }] });
    expect(prom.status).toBe(400);
    expect(prom.body.error.message).toBe(
      'analysis.checks.0: prometheus checks need cluster mode with --prometheus; locally use successRate and latencyP99',
    );
    const blue = await t.call('POST', '/api/v1/releases', { ...release({}), strategy: 'blueGreen' });
    expect(blue.status).toBe(400);
    expect(blue.body.error.message).toContain('automated analysis drives strategy canary only, got "blueGreen"');
    const bad = await createAnalysisRelease(t, { steps: [{ setWeight: 20, pause: {} }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('analysis.steps.0: a step is {"setWeight": 20} or {"pause"');
    const hooked = await t.callAs(
      operator,
      'POST',
      '/api/v1/releases',
      release({ webhooks: [{ on: 'event', url: 'http://127.0.0.1:9/x' }] }),
    );
    expect(hooked.status).toBe(403);
    expect(hooked.body.error.message).toContain('role operator may not set analysis.webhooks');
    expect(t.snapshot()).toEqual(before);
    // An operator may run an analysis without webhooks, and promote or abort.
    expect((await t.callAs(operator, 'POST', '/api/v1/releases', release({}))).status).toBe(201);
    expect((await t.callAs(viewer, 'POST', '/api/v1/releases/reviews-canary/abort')).status).toBe(403);
    expect((await t.callAs(operator, 'POST', '/api/v1/releases/reviews-canary/abort')).status).toBe(200);
    expect((await t.call('POST', '/api/v1/releases/nope/promote')).status).toBe(404);
  });
});
