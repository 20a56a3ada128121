import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { http } from '../support/http.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';

/**
 * Issue 15's "Done when", through real processes: `canary up --demo bookinfo` (control plane, mesh proxy, the
 * Bookinfo workloads), product pages at about 20 req/s, reviews candidates released with an automated analysis.
 */
describe('automated analysis on the Bookinfo demo', () => {
  let up: RunningUp;
  let dir: string;
  let api: string;
  let page: string;
  const token = 'e2e-analysis-token-0123456789';
  const call = (method: string, path: string, body?: unknown) => http(method, `${api}${path}`, { token, body });
  const get = async () => JSON.parse((await call('GET', '/api/v1/releases/reviews-canary')).body);

  /** Product pages at ~20 req/s; each page's time and whether it lost its reviews and which version served it. */
  function pages() {
    const seen: { at: number; lost: boolean; version: string | null }[] = [];
    let stop = false;
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      if (stop) return;
      const p = http('GET', page)
        .then((r) => {
          const lost = r.status !== 200 || r.body.includes('product reviews are currently unavailable');
          const m = /Reviews served by: reviews-(v\d)-\d+/.exec(r.body);
          seen.push({ at: Date.now(), lost, version: m?.[1] ?? null });
        })
        .catch(() => {
          seen.push({ at: Date.now(), lost: true, version: null });
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }, 50);
    return {
      seen,
      async end() {
        stop = true;
        clearInterval(timer);
        await Promise.all([...inFlight]);
      },
    };
  }

  /** Finishes whatever release is left, keeping v1, so the next case starts from v1 alone. */
  async function reset() {
    const r = await call('GET', '/api/v1/releases/reviews-canary');
    if (r.status === 200) expect((await call('DELETE', '/api/v1/releases/reviews-canary?keep=v1')).status).toBe(200);
  }

  const release = (env: Record<string, string>, steps: unknown[]) => ({
    name: 'reviews-canary',
    service: 'reviews',
    baseline: 'v1',
    candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2', ...env } } },
    analysis: {
      interval: '2s',
      steps,
      checks: [
        { metric: 'successRate', min: 99 },
        { metric: 'latencyP99', maxMs: 500 },
      ],
      minRequests: 20,
    },
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-analysis-'));
    process.env.CANARY_ADMIN_TOKEN = token;
    up = await startUp({ dataDir: dir, host: '127.0.0.1', port: 0, ingressPort: await freePort(), demo: 'bookinfo', log: () => {} });
    api = up.url;
    page = `${up.ingressUrl}/productpage?u=normal`;
    await waitFor('the product page', async () => ((await http('GET', page)).status === 200 ? true : undefined), 60_000, 200);
  });

  afterAll(async () => {
    await up?.stop();
    delete process.env.CANARY_ADMIN_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  });

  it('rolls back a reviews candidate with FAULT_RATE=0.3 at a 20 % first step within 20 s, with at most 15 pages losing reviews', {
    timeout: 120_000,
  }, async () => {
    const load = pages();
    try {
      const created = await call(
        'POST',
        '/api/v1/releases',
        release({ FAULT_RATE: '0.3' }, [{ setWeight: 20 }, { pause: { duration: '30s' } }, { setWeight: 100 }]),
      );
      expect(created.status, created.body).toBe(201);
      const failed = await waitFor(
        'the analysis to roll back',
        async () => {
          const r = await get();
          return r.status.analysis?.state === 'failed' ? r : undefined;
        },
        90_000,
        100,
      );
      const rolledBackAt = Date.now();
      // Pages answered after the rollback still count until the proxy has the new table: wait a little.
      await new Promise((r) => setTimeout(r, 2000));
      await load.end();
      const firstToV2 = load.seen.find((s) => s.version === 'v2' || s.lost);
      expect(firstToV2, 'the candidate got traffic').toBeDefined();
      const seconds = (rolledBackAt - firstToV2!.at) / 1000;
      const lost = load.seen.filter((s) => s.lost).length;
      expect(seconds).toBeLessThanOrEqual(20);
      expect(lost).toBeLessThanOrEqual(15);
      expect(failed.status.phase).toBe('RolledBack');
      expect(failed.status.analysis.message).toMatch(/^successRate: candidate v2 [\d.]+ % \(\d+ of \d+ requests succeeded\)/);
      expect(failed.status.analysis.message).toMatch(/baseline v1 100\.00 % \(\d+ of \d+ requests succeeded\)/);
      expect(failed.status.analysis.message).toMatch(/likelihood ratio \S+ >= bound \d+/);
      const events = JSON.parse((await call('GET', '/api/v1/releases/reviews-canary/events')).body).items as {
        action: string;
        message: string;
      }[];
      expect(
        events.some((e) => e.action === 'release.analysis-failed' && e.message.includes('rolled back by the analysis: successRate')),
      ).toBe(true);
      process.stdout.write(
        `FAULT_RATE=0.3: rolled back ${seconds.toFixed(1)} s after the candidate's first request; ${lost} pages lost reviews\n`,
      );
    } finally {
      await load.end();
      await reset();
    }
  });

  it('promotes a healthy candidate through every step', { timeout: 180_000 }, async () => {
    const load = pages();
    try {
      const steps = [{ setWeight: 20 }, { pause: { duration: '4s' } }, { setWeight: 50 }, { setWeight: 100 }];
      expect((await call('POST', '/api/v1/releases', release({}, steps))).status).toBe(201);
      let last = '';
      await waitFor(
        'the release to finish',
        async () => {
          const r = await call('GET', '/api/v1/releases/reviews-canary');
          if (r.status === 200) {
            const a = JSON.parse(r.body).status.analysis;
            last = `${a?.state} step ${a?.step}: ${a?.message}`;
          }
          return r.status === 404 ? true : undefined;
        },
        120_000,
        200,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; last: ${last}`);
      });
      const events = JSON.parse((await call('GET', '/api/v1/events?release=reviews-canary')).body).items as {
        action: string;
        message: string;
      }[];
      const stepsTaken = events.filter((e) => e.action === 'release.analysis-step').map((e) => e.message);
      expect(stepsTaken.length).toBeGreaterThanOrEqual(4);
      expect(events.some((e) => e.action === 'release.promoted')).toBe(true);
      const service = JSON.parse((await call('GET', '/api/v1/services/reviews')).body);
      expect(service.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
      await load.end();
      expect(load.seen.filter((s) => s.lost)).toHaveLength(0);
    } finally {
      await load.end();
    }
  });

  it('does not promote a healthy candidate without traffic: inconclusive', { timeout: 90_000 }, async () => {
    // v2 serves all now; release v3 with no load at all.
    const body = {
      ...release({}, [{ setWeight: 50 }, { setWeight: 100 }]),
      baseline: 'v2',
      candidate: { name: 'v3', workload: { env: { SERVICE_VERSION: 'v3' } } },
    };
    expect((await call('POST', '/api/v1/releases', body)).status).toBe(201);
    const r = await waitFor(
      'a few checks',
      async () => {
        const x = await get();
        return (x.status.analysis?.history?.length ?? 0) >= 3 ? x : undefined;
      },
      60_000,
      200,
    );
    expect(r.status.analysis).toMatchObject({ state: 'running', step: 0, verdict: 'inconclusive' });
    expect(r.status.analysis.message).toContain('inconclusive: needs 20 more requests to the candidate v3');
    expect(r.status.phase).toBe('Progressing');
    expect((await call('DELETE', '/api/v1/releases/reviews-canary?keep=v2')).status).toBe(200);
  });

  it('promotes and aborts while paused', { timeout: 180_000 }, async () => {
    const load = pages();
    try {
      const steps = [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }];
      const v4 = { ...release({}, steps), baseline: 'v2', candidate: { name: 'v4', workload: { env: { SERVICE_VERSION: 'v4' } } } };
      expect((await call('POST', '/api/v1/releases', v4)).status).toBe(201);
      await waitFor('the pause', async () => ((await get()).status.analysis?.step === 1 ? true : undefined), 60_000, 200);
      const aborted = await call('POST', '/api/v1/releases/reviews-canary/abort');
      expect(aborted.status, aborted.body).toBe(200);
      expect(JSON.parse(aborted.body).status).toMatchObject({ phase: 'RolledBack', governor: 'v2' });
      expect((await call('DELETE', '/api/v1/releases/reviews-canary?keep=v2')).status).toBe(200);

      const v5 = { ...v4, candidate: { name: 'v5', workload: { env: { SERVICE_VERSION: 'v5' } } } };
      expect((await call('POST', '/api/v1/releases', v5)).status).toBe(201);
      await waitFor('the pause', async () => ((await get()).status.analysis?.step === 1 ? true : undefined), 60_000, 200);
      const promoted = await call('POST', '/api/v1/releases/reviews-canary/promote');
      expect(promoted.status, promoted.body).toBe(200);
      expect(JSON.parse(promoted.body)).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v5', retired: 'v2' });
      await load.end();
      expect(load.seen.filter((s) => s.lost)).toHaveLength(0);
    } finally {
      await load.end();
    }
  });
});
