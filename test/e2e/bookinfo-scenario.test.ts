import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookinfoReviewsCanary } from '../support/test-harness.js';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { http } from '../support/http.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';

/**
 * The seed article's scenario end to end, through real processes and sockets: `canary up --demo bookinfo`,
 * a reviews canary at 50/50, take over, roll back, finish keeping v2 — with a steady load running across
 * every change that must see zero failed requests.
 */
describe('Bookinfo canary scenario', () => {
  let up: RunningUp;
  let dir: string;
  let token: string;
  let api: string;
  let page: string;

  const servedBy = async () => {
    const r = await http('GET', page);
    if (r.status !== 200) throw new Error(`product page answered ${r.status}: ${r.body.slice(0, 200)}`);
    const m = /Reviews served by: (reviews-(v\d)-\d+)/.exec(r.body);
    if (!m) throw new Error('product page does not name the reviews instance');
    return { instance: m[1]!, version: m[2]!, body: r.body };
  };
  const call = (method: string, path: string, body?: unknown) => http(method, `${api}${path}`, { token, body });
  const phase = async () => JSON.parse((await call('GET', '/api/v1/releases/reviews-canary')).body).status.phase as string;
  const shareOfV2 = async (n: number) => {
    let v2 = 0;
    for (let i = 0; i < n; i++) if ((await servedBy()).version === 'v2') v2++;
    return v2 / n;
  };
  /** Waits until the proxy routes by the latest change: `expect` holds for 20 loads in a row. */
  const settle = (what: string, ok: (v: string) => boolean) =>
    waitFor(
      what,
      async () => {
        for (let i = 0; i < 20; i++) if (!ok((await servedBy()).version)) return undefined;
        return true;
      },
      20_000,
      50,
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-'));
    token = 'e2e-test-token-0123456789';
    process.env.CANARY_ADMIN_TOKEN = token;
    const ingressPort = await freePort();
    up = await startUp({ dataDir: dir, host: '127.0.0.1', port: 0, ingressPort, demo: 'bookinfo', log: () => {} });
    api = up.url;
    page = `${up.ingressUrl}/productpage?u=normal`;
    await waitFor('the product page through the mesh', async () => ((await servedBy()).version === 'v1' ? true : undefined), 60_000, 200);
  });

  afterAll(async () => {
    await up?.stop();
    delete process.env.CANARY_ADMIN_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the proxy a credential of its own that reads route tables and sends telemetry, not the admin token', async () => {
    const proxies = await waitFor(
      'the proxy to report',
      async () => {
        const items = JSON.parse((await call('GET', '/api/v1/telemetry/proxies')).body).items as { pid: number }[];
        return items.length > 0 ? items : undefined;
      },
      30_000,
      200,
    );
    const env = readFileSync(`/proc/${proxies[0]!.pid}/environ`, 'utf8').split('\0');
    expect(env.some((e) => e.includes(token))).toBe(false);
    const proxyToken = env.find((e) => e.startsWith('CANARY_TOKEN='))!.slice('CANARY_TOKEN='.length);
    expect(proxyToken).toMatch(/^canary_/);
    expect((await http('GET', `${api}/api/v1/route-table`, { token: proxyToken })).status).toBe(200);
    for (const path of ['/api/v1/services', '/api/v1/events', '/api/v1/tokens']) {
      expect((await http('GET', `${api}${path}`, { token: proxyToken })).status, path).toBe(403);
    }
    const register = await http('POST', `${api}/api/v1/services`, { token: proxyToken, body: {} });
    expect(register.status).toBe(403);
    const listed = JSON.parse((await call('GET', '/api/v1/tokens')).body).items;
    expect(listed).toContainEqual(expect.objectContaining({ name: 'proxy', role: 'proxy', source: 'process' }));
  });

  it('runs the article: 50/50, take over, roll back, finish — with no failed request under load', async () => {
    // A steady background load across every change: it must see no failure at all.
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const load = (async () => {
      const until = Date.now() + 120_000;
      while (!stop && Date.now() < until) {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            try {
              const r = await http('GET', page);
              if (r.status === 200 && r.body.includes('Reviews served by')) ok++;
              else failures.push(`${r.status} ${r.body.slice(0, 120)}`);
            } catch (err) {
              failures.push(String(err));
            }
          }),
        );
      }
    })();

    const created = await call('POST', '/api/v1/releases', bookinfoReviewsCanary);
    expect(created.status, created.body).toBe(201);
    await waitFor('the release to progress', async () => ((await phase()) === 'Progressing' ? true : undefined), 60_000, 200);
    await waitFor('v2 to serve', async () => ((await servedBy()).version === 'v2' ? true : undefined), 20_000, 20);

    const share = await shareOfV2(400);
    expect(share).toBeGreaterThanOrEqual(0.45);
    expect(share).toBeLessThanOrEqual(0.55);
    const v2Page = await waitFor(
      'a page served by v2',
      async () => {
        const s = await servedBy();
        return s.version === 'v2' ? s.body : undefined;
      },
      5_000,
      0,
    );
    expect(v2Page).toMatch(/data-stars="black"/);

    expect((await call('POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' })).status).toBe(200);
    await settle('take over by v2', (v) => v === 'v2');
    expect(await shareOfV2(100)).toBe(1);

    expect((await call('POST', '/api/v1/releases/reviews-canary/rollback')).status).toBe(200);
    await settle('rollback to v1', (v) => v === 'v1');
    expect(await shareOfV2(100)).toBe(0);

    expect((await call('POST', '/api/v1/releases/reviews-canary/resume')).status).toBe(200);
    const finished = await call('DELETE', '/api/v1/releases/reviews-canary?keep=v2');
    expect(finished.status, finished.body).toBeLessThan(300);
    await settle('finish keeping v2', (v) => v === 'v2');

    // Only v2 processes remain.
    const svc = await waitFor('v1 to be retired', async () => {
      const s = JSON.parse((await call('GET', '/api/v1/services/reviews')).body);
      return s.versions.length === 1 ? s : undefined;
    });
    expect(svc.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
    expect((await servedBy()).body).toMatch(/data-stars="black"/);

    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(200);
  });
});
