import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createAnalysisRelease, reviewsBatch, useAnalysisControlPlane } from '../../test/support/analysis-fixtures.js';
import { reviewsService, type TestControlPlane } from '../../test/support/test-harness.js';
import { waitFor } from '../../test/support/wait-for.js';

/**
 * The confirmPromotion gate and the event webhook, delivered over real HTTP to a loopback receiver by the
 * analysis runner of an in-process control plane (real store); telemetry is fed as the proxies' batches would be.
 */

const { start, feeds, servers } = useAnalysisControlPlane();
const batch = (version: string, ok: number) => reviewsBatch(version, ok);

/** Healthy traffic on both versions (10 requests per 100 ms shared by the weights in force). */
function feedHealthy(t: TestControlPlane) {
  const timer = setInterval(() => {
    const r = t.cp.store.getRelease('reviews-canary');
    const w2 = r?.status.phase === 'Progressing' ? ((r.traffic?.weights as Record<string, number> | undefined)?.v2 ?? 0) : 0;
    const toV2 = Math.round((10 * w2) / 100);
    if (10 - toV2 > 0) t.cp.telemetry.ingest(batch('v1', 10 - toV2));
    if (toV2 > 0) t.cp.telemetry.ingest(batch('v2', toV2));
  }, 100);
  feeds.push(timer);
}

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A loopback webhook receiver; `answer(path)` picks the status of each call. */
async function receiver(answer: (path: string) => number): Promise<{ base: string; calls: Received[] }> {
  const calls: Received[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      calls.push({ path: req.url!, body: JSON.parse(text) });
      res.writeHead(answer(req.url!)).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const get = async (t: TestControlPlane) => (await t.call('GET', '/api/v1/releases/reviews-canary')).body;
const release = (analysis: object) => ({ name: 'reviews-canary', service: 'reviews', candidate: { name: 'v2' }, analysis });

describe('the confirmPromotion gate', () => {
  it('holds the promotion while the hook answers non-2xx, asks again every interval, and promotes once it answers 2xx', async () => {
    let gate = 403;
    const hooks = await receiver(() => gate);
    const t = await start();
    const created = await createAnalysisRelease(t, {
      interval: '1s',
      minRequests: 3,
      steps: [{ setWeight: 50 }, { setWeight: 100 }],
      webhooks: [{ on: 'confirmPromotion', url: `${hooks.base}/gate`, retries: 0 }],
    });
    expect(created.status, created.text).toBe(201);
    feedHealthy(t);
    const waiting = await waitFor('the gate to be asked twice', async () => {
      const x = await get(t);
      return hooks.calls.length >= 2 && x.status.analysis?.state === 'confirming' ? x : undefined;
    });
    expect(waiting.status.analysis.message).toMatch(
      /^every step passed; waiting for confirmPromotion webhook "confirmPromotion-0" \(answered 403\); asking again in 1 ?s$/,
    );
    expect(hooks.calls[0]!.body).toMatchObject({
      type: 'confirmPromotion',
      event: 'release.confirm-promotion',
      release: 'reviews-canary',
      candidate: 'v2',
      baseline: 'v1',
      verdict: 'passing',
    });
    // Still not promoted: both versions remain, the release is still there.
    expect(
      t.cp.store
        .getService('reviews')!
        .versions.map((v) => v.name)
        .sort(),
    ).toEqual(['v1', 'v2']);
    expect(t.cp.store.listEvents().map((e) => e.action)).not.toContain('release.promoted');

    gate = 200;
    await waitFor('the release to finish keeping v2', () => (t.cp.store.getRelease('reviews-canary') ? undefined : true));
    expect(t.cp.store.getService('reviews')!.versions.map((v) => v.name)).toEqual(['v2']);
    const promoted = t.cp.store.listEvents().find((e) => e.action === 'release.promoted')!;
    expect(promoted.actor).toBe('analysis');
  }, 40_000);

  it('lets a person promote or abort while the gate says no', async () => {
    const hooks = await receiver(() => 503);
    const t = await start();
    const analysis = {
      interval: '1s',
      minRequests: 3,
      steps: [{ setWeight: 100 }],
      webhooks: [{ on: 'confirmPromotion', url: `${hooks.base}/gate`, retries: 0 }],
    };
    await createAnalysisRelease(t, analysis);
    feedHealthy(t);
    await waitFor('the gate to refuse', async () =>
      (await get(t)).status.analysis?.state === 'confirming' && hooks.calls.length > 0 ? true : undefined,
    );
    const promoted = await t.call('POST', '/api/v1/releases/reviews-canary/promote');
    expect(promoted.status, promoted.text).toBe(200);
    expect(promoted.body).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v2', retired: 'v1' });
    expect(t.cp.store.getRelease('reviews-canary')).toBeUndefined();

    // Again, from v2 back to v1, aborted this time.
    await t.call('POST', '/api/v1/services/reviews/versions', reviewsService.versions[0]);
    await t.call('POST', '/api/v1/releases', { ...release(analysis), candidate: { name: 'v1' }, baseline: 'v2' });
    const asked = hooks.calls.length;
    await waitFor('the gate to refuse again', async () =>
      (await get(t)).status.analysis?.state === 'confirming' && hooks.calls.length > asked ? true : undefined,
    );
    const aborted = await t.call('POST', '/api/v1/releases/reviews-canary/abort');
    expect(aborted.status, aborted.text).toBe(200);
    expect(aborted.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v2' });
    expect(aborted.body.status.analysis.state).toBe('aborted');
    // The gate is not asked again after the abort, and nothing promotes later.
    await new Promise((r) => setTimeout(r, 1500));
    const after = hooks.calls.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(hooks.calls.length).toBe(after);
    expect((await get(t)).status).toMatchObject({ phase: 'RolledBack', governor: 'v2' });
  }, 40_000);
});

describe('the event webhook', () => {
  it('receives each step, the verdict and the promotion as JSON naming the release', async () => {
    const hooks = await receiver(() => 204);
    const t = await start();
    await createAnalysisRelease(t, {
      interval: '1s',
      minRequests: 3,
      steps: [{ setWeight: 50 }, { setWeight: 100 }],
      webhooks: [{ on: 'event', url: `${hooks.base}/events` }],
    });
    feedHealthy(t);
    await waitFor('the release to finish', () => (t.cp.store.getRelease('reviews-canary') ? undefined : true), 30_000);
    await waitFor('the promotion event', () => (hooks.calls.some((c) => c.body.event === 'release.promoted') ? true : undefined));
    expect(hooks.calls.every((c) => c.path === '/events' && c.body.type === 'event' && c.body.release === 'reviews-canary')).toBe(true);
    const events = hooks.calls.map((c) => c.body.event);
    const steps = hooks.calls.filter((c) => c.body.event === 'release.analysis-step').map((c) => c.body);
    expect(steps.map((b) => [b.step, b.weight, b.message])).toEqual([
      [0, 50, 'step 1 of 2: setWeight 50: v2 gets 50 %'],
      [1, 100, 'step 2 of 2: setWeight 100: v2 gets 100 %'],
    ]);
    // Each change of verdict is sent with the verdict just reached (not the one before) and its message.
    const verdicts = hooks.calls.filter((c) => c.body.event === 'release.analysis').map((c) => c.body);
    for (const v of verdicts) expect((v.message as string).startsWith('inconclusive')).toBe(v.verdict === 'inconclusive');
    const verdict = verdicts.find((v) => v.verdict === 'passing')!;
    expect(verdict).toMatchObject({ service: 'reviews', baseline: 'v1', candidate: 'v2', phase: 'Progressing' });
    expect(typeof verdict.message).toBe('string');
    expect(Number.isNaN(Date.parse(verdict.at as string))).toBe(false);
    expect(events.indexOf('release.promoted')).toBeGreaterThan(events.lastIndexOf('release.analysis-step'));
  }, 40_000);

  it('receives the rollback with the failing verdict', async () => {
    const hooks = await receiver(() => 200);
    const t = await start();
    await createAnalysisRelease(t, {
      interval: '1s',
      checks: [{ metric: 'successRate', min: 99 }],
      steps: [{ setWeight: 50 }, { setWeight: 100 }],
      webhooks: [{ on: 'event', url: `${hooks.base}/events` }],
    });
    // The candidate fails every request.
    const timer = setInterval(() => {
      t.cp.telemetry.ingest(batch('v1', 5));
      const r = t.cp.store.getRelease('reviews-canary');
      if (r?.status.phase !== 'Progressing') return;
      const b = batch('v2', 5);
      for (const e of b.edges) (e as { code: number }).code = 503;
      t.cp.telemetry.ingest(b);
    }, 100);
    feeds.push(timer);
    const rolled = await waitFor('the rolled-back event', () => hooks.calls.find((c) => c.body.event === 'release.rolled-back'));
    expect(rolled.body).toMatchObject({ type: 'event', release: 'reviews-canary', verdict: 'failing', phase: 'RolledBack' });
    expect(rolled.body.message).toMatch(/^successRate: candidate v2 0\.00 %/);
  }, 40_000);
});
