import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { http } from '../support/http.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';

/**
 * A mirroring release through the real processes of `canary up --demo bookinfo`: the proxy process copies reviews'
 * requests to v2, compares v2's answers with v1's, ships the comparison in its telemetry, and the control plane
 * answers it at /api/v1/releases/{name}/comparison.
 */
describe('a mirror release of Bookinfo reviews', () => {
  let up: RunningUp;
  let dir: string;
  const token = 'e2e-mirror-token-0123456789';
  const call = (method: string, path: string, body?: unknown) => http(method, `${up.url}${path}`, { token, body });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-mirror-'));
    process.env.CANARY_ADMIN_TOKEN = token;
    up = await startUp({ dataDir: dir, host: '127.0.0.1', port: 0, ingressPort: await freePort(), demo: 'bookinfo', log: () => {} });
    await waitFor(
      'reviews through the ingress',
      async () => {
        const r = await http('GET', `${up.ingressUrl}/reviews/0`, { headers: { host: 'reviews' } });
        return r.status === 200 ? true : undefined;
      },
      60_000,
      200,
    );
  });

  afterAll(async () => {
    await up?.stop();
    delete process.env.CANARY_ADMIN_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from v1, copies to v2, and reports where v2 differs (ignored fields left out)', async () => {
    const created = await call('POST', '/api/v1/releases', {
      name: 'reviews-mirror',
      service: 'reviews',
      strategy: 'mirror',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      traffic: { mirror: { percent: 100 } },
      compare: { ignoreJsonPaths: ['$.podname', '$.instance'] },
    });
    expect(created.status, created.body).toBe(201);
    await waitFor(
      'the release to progress',
      async () => {
        const rel = JSON.parse((await call('GET', '/api/v1/releases/reviews-mirror')).body);
        return rel.status.phase === 'Progressing' ? true : undefined;
      },
      60_000,
      200,
    );
    // The proxy follows the new table within moments; every answer the client sees is v1's.
    await waitFor(
      'the mirror rule in force',
      async () => {
        await http('GET', `${up.ingressUrl}/reviews/0`, { headers: { host: 'reviews' } });
        const c = JSON.parse((await call('GET', '/api/v1/releases/reviews-mirror/comparison?window=60')).body);
        return c.compared > 0 ? true : undefined;
      },
      30_000,
      200,
    );
    const before = JSON.parse((await call('GET', '/api/v1/releases/reviews-mirror/comparison?window=60')).body);
    for (let i = 0; i < 10; i++) {
      const r = await http('GET', `${up.ingressUrl}/reviews/${i % 2}`, { headers: { host: 'reviews' } });
      expect([r.status, JSON.parse(r.body).version]).toEqual([200, 'v1']);
    }
    // Requests with a body are mirrored too: both versions refuse a POST alike (404), so these pairs agree.
    for (let i = 0; i < 3; i++) {
      const r = await http('POST', `${up.ingressUrl}/reviews/0`, { headers: { host: 'reviews' }, body: { stars: 5 } });
      expect(r.status).toBe(404);
    }
    const c = await waitFor(
      'the comparison of 13 more pairs',
      async () => {
        const now = JSON.parse((await call('GET', '/api/v1/releases/reviews-mirror/comparison?window=60')).body);
        return now.compared >= before.compared + 13 ? now : undefined;
      },
      30_000,
      200,
    );
    expect(c.agree - before.agree).toBe(3);
    const fields = c.differences.filter((d: { path: string }) => d.path === '/reviews/0' || d.path === '/reviews/1');
    const byField = new Map<string, { primary: string; mirror: string }>(fields.map((d: { field: string }) => [d.field, d]));
    expect(byField.get('$.version')).toMatchObject({ primary: '"v1"', mirror: '"v2"' });
    expect(byField.get('$.reviews[*].rating')).toMatchObject({ primary: '(absent)' });
    expect([...byField.keys()].filter((f) => f === '$.podname' || f === '$.instance')).toEqual([]);
    expect(c.skipped).toEqual({ bodyTooLarge: 0, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 });
    expect(c.latency.primary.p50).toBeGreaterThan(0);
    expect(c.latency.mirror.p50).toBeGreaterThan(0);
    const example = fields[0].example;
    expect(JSON.parse(example.primary.body).version).toBe('v1');
    expect(JSON.parse(example.mirror.body).version).toBe('v2');
  }, 120_000);
});
