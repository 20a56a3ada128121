import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { http, waitFor } from '../support/http.js';
import { freePort } from '../support/ports.js';

/**
 * `analysis.load` through real processes: `canary up --demo bookinfo` with no traffic from anyone but the analysis's
 * own load generator. A healthy reviews candidate that would stay `inconclusive` forever (see analysis-scenario's
 * "without traffic" case) is judged on the synthetic requests and promoted through every step.
 */
describe('automated analysis with synthetic load', () => {
  let up: RunningUp;
  let dir: string;
  const token = 'e2e-analysis-load-token-0123456789';
  const call = (method: string, path: string, body?: unknown) => http(method, `${up.url}${path}`, { token, body });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-analysis-load-'));
    process.env.CANARY_ADMIN_TOKEN = token;
    up = await startUp({ dataDir: dir, host: '127.0.0.1', port: 0, ingressPort: await freePort(), demo: 'bookinfo', log: () => {} });
    await waitFor(
      'the product page',
      async () => ((await http('GET', `${up.ingressUrl}/productpage`)).status === 200 ? true : undefined),
      60_000,
      200,
    );
  }, 90_000);

  afterAll(async () => {
    await up?.stop();
    delete process.env.CANARY_ADMIN_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  });

  it('judges a healthy low-traffic candidate on the built-in load and promotes it', { timeout: 120_000 }, async () => {
    const created = await call('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      analysis: {
        interval: '1s',
        steps: [{ setWeight: 50 }, { setWeight: 100 }],
        checks: [{ metric: 'successRate', min: 99 }],
        minRequests: 20,
        load: { rate: 20, path: '/reviews/0' },
      },
    });
    expect(created.status, created.body).toBe(201);
    // Watch the analysis until the release finishes; keep the verdicts seen on the way.
    const seen: { step: number; verdict: string | null; candidate: number }[] = [];
    let last = '';
    await waitFor(
      'the release to finish',
      async () => {
        const r = await call('GET', '/api/v1/releases/reviews-canary');
        if (r.status === 404) return true;
        const a = JSON.parse(r.body).status.analysis;
        if (a?.state === 'running') seen.push({ step: a.step, verdict: a.verdict, candidate: a.totals?.candidate?.requests ?? 0 });
        last = `${a?.state} step ${a?.step}: ${a?.message}`;
        return undefined;
      },
      60_000,
      200,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; last: ${last}`);
    });
    const events = JSON.parse((await call('GET', '/api/v1/events?release=reviews-canary')).body).items as {
      action: string;
      actor: string;
      message: string;
    }[];
    // Promoted by the analysis itself (every step passed), not by a person: the load made it judgeable.
    expect(events.filter((e) => e.action === 'release.analysis-step')).toHaveLength(2);
    expect(events.find((e) => e.action === 'release.promoted')?.actor).toBe('analysis');
    expect(seen.some((s) => s.verdict === 'passing' && s.candidate >= 20)).toBe(true);
    const service = JSON.parse((await call('GET', '/api/v1/services/reviews')).body);
    expect(service.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
  });
});
