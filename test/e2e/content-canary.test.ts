import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { http } from '../support/http.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';

/**
 * Canaries by request content through the real demo: a header canary (`end-user: jason`, which productpage sends
 * after login, as in Istio's request-routing task) and a cookie canary (`user=jason` among other cookies).
 */
describe('content-based canaries on Bookinfo', () => {
  let up: RunningUp;
  let dir: string;
  const token = 'e2e-content-token-0123456789';
  const call = (method: string, path: string, body?: unknown) => http(method, `${up.url}${path}`, { token, body });
  const versionFor = async (headers: Record<string, string>) => {
    const r = await http('GET', `${up.ingressUrl}/productpage`, { headers });
    const m = /Reviews served by: reviews-(v\d)-\d+/.exec(r.body);
    if (r.status !== 200 || !m) throw new Error(`product page: ${r.status} ${r.body.slice(0, 200)}`);
    return m[1]!;
  };
  const versionsOver = async (n: number, headers: Record<string, string>) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add(await versionFor(headers));
    return [...seen].sort();
  };
  const startRelease = async (traffic: unknown) => {
    const r = await call('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      traffic,
    });
    expect(r.status, r.body).toBe(201);
    await waitFor(
      'the release to progress',
      async () => {
        const rel = JSON.parse((await call('GET', '/api/v1/releases/reviews-canary')).body);
        return rel.status.phase === 'Progressing' ? true : undefined;
      },
      60_000,
      200,
    );
  };
  const finish = async () => {
    expect((await call('DELETE', '/api/v1/releases/reviews-canary?keep=v1')).status).toBeLessThan(300);
    await waitFor('v2 retired', async () => {
      const s = JSON.parse((await call('GET', '/api/v1/services/reviews')).body);
      return s.versions.length === 1 ? true : undefined;
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-content-'));
    process.env.CANARY_ADMIN_TOKEN = token;
    up = await startUp({ dataDir: dir, host: '127.0.0.1', port: 0, ingressPort: await freePort(), demo: 'bookinfo', log: () => {} });
    await waitFor('the product page', async () => ((await versionFor({})) === 'v1' ? true : undefined), 60_000, 200);
  });

  afterAll(async () => {
    await up?.stop();
    delete process.env.CANARY_ADMIN_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends jason (end-user header after login) to v2 and everybody else to v1', async () => {
    await startRelease({ match: [{ headers: { 'end-user': { exact: 'jason' } } }], weights: { v1: 100 } });
    // Log in as jason: productpage keeps the user in a cookie and sends `end-user: jason` downstream.
    const login = await http('POST', `${up.ingressUrl}/login`, {
      body: 'username=jason',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const setCookie = String(login.headers['set-cookie'] ?? '');
    expect(setCookie).toMatch(/user=jason/);
    await waitFor('jason to reach v2', async () => ((await versionFor({ cookie: 'user=jason' })) === 'v2' ? true : undefined), 10_000, 50);
    expect(await versionsOver(30, { cookie: 'user=jason' })).toEqual(['v2']);
    expect(await versionsOver(30, { cookie: 'user=bob' })).toEqual(['v1']);
    expect(await versionsOver(30, {})).toEqual(['v1']);
    await finish();
  });

  it('matches the user cookie among several cookies, and not a near miss', async () => {
    await startRelease({ match: [{ cookie: { user: { exact: 'jason' } } }], weights: { v1: 100 } });
    const jason = { cookie: 'theme=dark; user=jason; lang=en' };
    await waitFor('the cookie canary', async () => ((await versionFor(jason)) === 'v2' ? true : undefined), 10_000, 50);
    expect(await versionsOver(30, jason)).toEqual(['v2']);
    expect(await versionsOver(30, { cookie: 'theme=dark;user=jason' })).toEqual(['v2']);
    expect(await versionsOver(30, { cookie: 'theme=dark; user=jasonx' })).toEqual(['v1']);
    expect(await versionsOver(30, { cookie: 'xuser=jason' })).toEqual(['v1']);
    await finish();
  });
});
