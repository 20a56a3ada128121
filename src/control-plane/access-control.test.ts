import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RawReply, rawRequest } from '../../test/support/raw-http.js';
import { type Permission, permits, ROLES, type Role } from './permissions.js';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/** The path spellings and request-target forms a router may decode, fold or strip to reach `path`'s route. */
function spellings(path: string, port: number): string[] {
  const rest = path.slice('/api'.length); // e.g. /v1/services/reviews
  const last = path.lastIndexOf('/');
  const tail = path.slice(last + 1);
  const out = [
    `/%61pi${rest}`,
    `/ap%69${rest}`,
    `/%41PI${rest}`,
    `/%2561pi${rest}`,
    `/%252561pi${rest}`,
    `//api${rest}`,
    `///api${rest}`,
    `/API${rest}`,
    `/Api${rest}`,
    `/api;${rest}`,
    `/api;x=1${rest}`,
    `/api/.${rest}`,
    `/x/..${path}`,
    `/x/%2e%2e${path}`,
    `/%2fapi${rest}`,
    `/api%2f${rest.slice(1)}`,
    `/api%2F${rest.slice(1)}`,
    `\\api${rest.replaceAll('/', '\\')}`,
    `/api${rest}/`,
    `/api${rest};`,
    `/api${rest};jsessionid=1`,
    `/api${rest}%20`,
    `/api${rest}%00`,
    `/api${rest}?`,
    `/api${rest}#x`,
    `/api/V1${rest.slice(3)}`,
    `${path.slice(0, last + 1)}${[...tail].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`,
    `/ａpi${rest}`,
    // Request-target forms other than origin-form (RFC 9112 3.2).
    `http://127.0.0.1:${port}${path}`,
    `HTTP://127.0.0.1:${port}${path}`,
    `http://localhost:${port}${path}`,
    `https://127.0.0.1:${port}${path}`,
    `http://127.0.0.1:${port}/%61pi${rest}`,
    `http://user@127.0.0.1:${port}${path}`,
    `127.0.0.1:${port}`,
    '*',
  ];
  return out;
}

/** Not served: refused, not found, or (for a page-like GET) the console's public index.html. */
function served(r: RawReply): boolean {
  if (r.status >= 400) return false;
  if (r.status >= 300) return true;
  return !/^text\/html/.test(r.headers['content-type'] ?? '');
}

/** The control plane as an attacker on the same machine reaches it: real sockets, raw request bytes. */
describe('defects of issue 12 (raw TCP, no client normalising anything)', () => {
  let t: TestControlPlane;
  let port: number;
  beforeEach(async () => {
    t = await startTestControlPlane({ processes: true });
    port = Number(new URL(await t.cp.app.listen({ host: '127.0.0.1', port: 0 })).port);
    expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
    expect((await t.call('POST', '/api/v1/releases', reviewsCanary)).status).toBe(201);
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('defect 1: no spelling of an /api path reaches its handler without a token, and no command runs', async () => {
    const marker = join(t.dataDir, '..', 'pwned');
    const body = JSON.stringify({
      name: 'pwn',
      port: 9999,
      versions: [{ name: 'v1', workload: { kind: 'process', command: '/bin/sh', args: ['-c', `touch ${marker}`] } }],
    });
    const before = t.snapshot();
    for (const target of spellings('/api/v1/services', port)) {
      const get = await rawRequest(port, `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1:${port}`);
      expect(served(get), `GET ${target} -> ${get.status} ${get.body.slice(0, 80)}`).toBe(false);
      const post = await rawRequest(port, `POST ${target} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json`, body);
      expect(served(post), `POST ${target} -> ${post.status} ${post.body.slice(0, 80)}`).toBe(false);
    }
    await new Promise((r) => setTimeout(r, 500)); // a spawned command would have run by now
    expect(existsSync(marker)).toBe(false);
    expect(t.snapshot()).toEqual(before);
  });

  it('defect 2: a page on another origin cannot roll back a release (no-cors POST, no token), nor reach the API by DNS rebinding', async () => {
    const before = t.snapshot();
    for (const target of ['/api/v1/releases/reviews-canary/rollback', '/%61pi/v1/releases/reviews-canary/rollback']) {
      // What fetch(url, {method: 'POST', mode: 'no-cors', body: ''}) sends from http://evil.example.
      const r = await rawRequest(
        port,
        `POST ${target} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\norigin: http://evil.example\r\ncontent-type: text/plain;charset=UTF-8\r\nsec-fetch-mode: no-cors\r\nsec-fetch-site: cross-site\r\ncontent-length: 0`,
      );
      expect(r.status, target).toBeGreaterThanOrEqual(400);
    }
    // The same with the admin token (a leaked one, or a browser that somehow holds it): the Origin alone refuses it.
    const withToken = await rawRequest(
      port,
      `POST /api/v1/releases/reviews-canary/rollback HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\norigin: http://evil.example\r\nauthorization: Bearer ${t.token}\r\ncontent-length: 0`,
    );
    expect(withToken.status).toBe(403);
    expect(JSON.parse(withToken.body).error.message).toContain('Origin "http://evil.example"');
    // DNS rebinding: evil.example now resolves to 127.0.0.1, so the browser sends Host: evil.example.
    for (const path of ['/api/v1/services', '/%61pi/v1/services', '/healthz', '/metrics']) {
      const r = await rawRequest(port, `GET ${path} HTTP/1.1\r\nhost: evil.example:${port}\r\nauthorization: Bearer ${t.token}`);
      expect(r.status, path).toBe(421);
    }
    expect(t.snapshot()).toEqual(before);
  });
});

describe('authorization on the matched route', () => {
  let t: TestControlPlane;
  let port: number;
  const tokens = {} as Record<Role, string>;
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  /** A concrete path for a route pattern. */
  const fill = (url: string) =>
    url
      .replace('/api/v1/tokens/:name', '/api/v1/tokens/viewer')
      .replace('/releases/:name', '/releases/reviews-canary')
      .replace('/services/:name', '/services/reviews')
      .replace(':version', 'v1')
      .replace(':traceId', traceId);

  beforeAll(async () => {
    t = await startTestControlPlane();
    port = Number(new URL(await t.cp.app.listen({ host: '127.0.0.1', port: 0 })).port);
    expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
    expect((await t.call('POST', '/api/v1/releases', reviewsCanary)).status).toBe(201);
    tokens.admin = t.token;
    tokens.viewer = t.tokenFor('viewer');
    tokens.operator = t.tokenFor('operator');
    tokens.proxy = t.cp.tokens.mintInMemory('proxy', 'proxy');
  });
  afterAll(async () => {
    await t.destroy();
  });

  const send = (method: string, target: string, token?: string, host = `127.0.0.1:${port}`) =>
    rawRequest(
      port,
      `${method} ${target} HTTP/1.1\r\nhost: ${host}${token ? `\r\nauthorization: Bearer ${token}` : ''}${method === 'GET' || method === 'HEAD' ? '' : '\r\ncontent-type: application/json'}`,
      method === 'GET' || method === 'HEAD' ? '' : '{}',
    );

  it('declares a permission on every route; only health, metrics and the console files are public', () => {
    expect(t.cp.routes.length).toBeGreaterThan(30);
    const publicRoutes = t.cp.routes.filter((r) => r.permission === 'public').map((r) => r.url);
    for (const url of publicRoutes) {
      const consoleFile = url === '/' || existsSync(join(process.cwd(), 'web', 'dist', url));
      expect(url === '/healthz' || url === '/metrics' || consoleFile, url).toBe(true);
    }
    expect(publicRoutes).toEqual(expect.arrayContaining(['/healthz', '/metrics']));
    expect(t.cp.routes.filter((r) => r.url.startsWith('/api')).every((r) => r.permission !== 'public')).toBe(true);
  });

  it('refuses every non-public route without a token (401) and with a token whose role lacks its permission (403)', async () => {
    const before = t.snapshot();
    let checked = 0;
    for (const route of t.cp.routes) {
      const permission = route.permission as Permission;
      if (permission === 'public') continue;
      const target = fill(route.url);
      const none = await send(route.method, target);
      expect(none.status, `${route.method} ${target} without a token`).toBe(401);
      for (const role of ROLES.filter((r) => !permits(r, permission))) {
        const r = await send(route.method, target, tokens[role]);
        expect(r.status, `${route.method} ${target} as ${role}`).toBe(403);
        if (route.method !== 'HEAD') expect(JSON.parse(r.body).error.message).toContain(`role ${role}`);
      }
      // A role that holds the permission gets past the check (reads only: the writes are tested role by role below).
      if (route.method === 'GET') {
        const allowed = ROLES.find((r) => permits(r, permission))!;
        const r = await send('GET', target, tokens[allowed]);
        expect([401, 403, 421], `${route.method} ${target} as ${allowed}: ${r.status}`).not.toContain(r.status);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(30);
    expect(t.snapshot()).toEqual(before);
  });

  it('serves no route to any path spelling or request-target form without a token', async () => {
    const before = t.snapshot();
    const tokensBefore = t.cp.tokens.list();
    for (const route of t.cp.routes) {
      if (route.permission === 'public') continue;
      for (const target of spellings(fill(route.url), port)) {
        const r = await send(route.method, target);
        expect(served(r), `${route.method} ${target} -> ${r.status} ${r.body.slice(0, 80)}`).toBe(false);
        // HTTP/1.0 without Host, where the host check steps aside: the route's own check still holds.
        const old = await rawRequest(port, `${route.method} ${target} HTTP/1.0`);
        expect(served(old), `${route.method} ${target} HTTP/1.0 -> ${old.status} ${old.body.slice(0, 80)}`).toBe(false);
      }
    }
    expect(t.snapshot()).toEqual(before);
    expect(t.cp.tokens.list()).toEqual(tokensBefore);
  });

  it('answers an unknown /api path 401 without a token and 404 with one', async () => {
    expect((await send('GET', '/api/v1/nothing')).status).toBe(401);
    expect((await send('GET', '/%61pi/v1/nothing')).status).toBe(401);
    expect((await send('GET', '/api/v1/nothing', tokens.viewer)).status).toBe(404);
  });

  it('accepts the names given in allowedHosts, and the console’s own origin for changes', async () => {
    const own = await rawRequest(
      port,
      `POST /api/v1/releases/reviews-canary/rollback?dryRun=true HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\norigin: http://127.0.0.1:${port}\r\nauthorization: Bearer ${tokens.operator}`,
    );
    expect(own.status).toBe(200);
    const other = await rawRequest(
      port,
      `POST /api/v1/releases/reviews-canary/rollback?dryRun=true HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\norigin: http://127.0.0.1:1\r\nauthorization: Bearer ${tokens.operator}`,
    );
    expect(other.status).toBe(403);
    expect((await send('GET', '/api/v1/services', tokens.viewer, `localhost:${port}`)).status).toBe(200);
    expect((await send('GET', '/api/v1/services', tokens.viewer, `[::1]:${port}`)).status).toBe(200);
    // HTTP/1.0 without Host (an old health checker): no browser, so no rebinding; the token is still needed.
    expect((await rawRequest(port, 'GET /healthz HTTP/1.0')).status).toBe(200);
    expect((await rawRequest(port, 'GET /api/v1/services HTTP/1.0')).status).toBe(401);
    expect((await rawRequest(port, `GET /api/v1/services HTTP/1.0\r\nauthorization: Bearer ${tokens.viewer}`)).status).toBe(200);
    expect((await rawRequest(port, `GET /healthz HTTP/1.0\r\nhost: evil.example`)).status).toBe(421);
    const refused = await send('GET', '/healthz', undefined, `canary.internal:${port}`);
    expect(refused.status).toBe(421);
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: 'MisdirectedRequest',
      message: expect.stringContaining('--allowed-hosts'),
    });

    const u = await startTestControlPlane({ allowedHosts: ['canary.internal', '.example.com'] });
    try {
      const p = Number(new URL(await u.cp.app.listen({ host: '127.0.0.1', port: 0 })).port);
      const get = (host: string) => rawRequest(p, `GET /api/v1/services HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${u.token}`);
      expect((await get(`canary.internal:${p}`)).status).toBe(200);
      expect((await get('CANARY.internal.')).status).toBe(200);
      expect((await get('eu.canary.example.com')).status).toBe(200);
      expect((await get('example.com')).status).toBe(200);
      expect((await get('notexample.com')).status).toBe(421);
      expect((await get('example.com.evil.test')).status).toBe(421);
      expect((await get('canary.internal.evil.test')).status).toBe(421);
    } finally {
      await u.destroy();
    }
  });
});

/** An attacker's odd request shapes, over raw sockets: what each one gets back. */
describe('odd headers and token shapes (raw TCP)', () => {
  let t: TestControlPlane;
  let port: number;
  let viewer: string;
  let operator: string;
  beforeAll(async () => {
    // Many rejected tokens below: a throttle that never trips, so each answer is the token check's own.
    t = await startTestControlPlane({ signInThrottle: { freeFailures: 1_000_000 } });
    port = Number(new URL(await t.cp.app.listen({ host: '127.0.0.1', port: 0 })).port);
    expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
    expect((await t.call('POST', '/api/v1/releases', reviewsCanary)).status).toBe(201);
    viewer = t.tokenFor('viewer');
    operator = t.tokenFor('operator');
  });
  afterAll(async () => {
    await t.destroy();
  });
  const get = (fields: string, target = '/api/v1/services') => rawRequest(port, `GET ${target} HTTP/1.1\r\n${fields}`);
  const host = () => `host: 127.0.0.1:${port}`;

  it('uses only the first of two Authorization headers: a second one never adds a role', async () => {
    expect((await get(`${host()}\r\nauthorization: Bearer wrong\r\nauthorization: Bearer ${t.token}`)).status).toBe(401);
    const create = await rawRequest(
      port,
      `POST /api/v1/tokens HTTP/1.1\r\n${host()}\r\nauthorization: Bearer ${viewer}\r\nauthorization: Bearer ${t.token}\r\ncontent-type: application/json`,
      JSON.stringify({ name: 'doubled', role: 'admin' }),
    );
    expect(create.status).toBe(403);
    expect(t.cp.tokens.list().map((x) => x.name)).not.toContain('doubled');
  });

  it('judges the first of two Host headers, and refuses Host spellings that are not a plain name', async () => {
    const auth = `authorization: Bearer ${viewer}`;
    expect((await get(`host: evil.example\r\nhost: 127.0.0.1:${port}\r\n${auth}`)).status).toBe(421);
    for (const h of [`LOCALHOST:${port}`, `localhost.:${port}`, `127.0.0.1.:${port}`, `[::1]`, '127.0.0.2']) {
      expect((await get(`host: ${h}\r\n${auth}`)).status, h).toBe(200);
    }
    for (const h of [
      `user@127.0.0.1:${port}`,
      `127.0.0.1@evil.example:${port}`,
      `[0:0:0:0:0:0:0:1]:${port}`, // browsers send [::1]: the long form is refused, which is safe
      `evil.example@127.0.0.1:${port}`,
      '127.1',
      '2130706433',
      '0.0.0.0',
      '[::ffff:127.0.0.1]',
      `127.0.0.1:${port}.evil.example`,
      'localhost.evil.example',
      `127.0.0.1 evil.example`,
      `[::1`,
      '',
    ]) {
      const r = await get(`host: ${h}\r\n${auth}`);
      expect([400, 421], `${h} -> ${r.status}`).toContain(r.status);
    }
  });

  it('refuses a change from Origin null, a doubled Origin, or an Origin that only differs by scheme tricks', async () => {
    const before = t.snapshot();
    for (const origin of [
      'null',
      `http://evil.example\r\norigin: http://127.0.0.1:${port}`,
      `http://127.0.0.1:${port}\r\norigin: http://evil.example`,
      `http://127.0.0.1:${port}@evil.example`,
      `file://127.0.0.1:${port}`,
      `http://127.0.0.1:${port}.evil.example`,
      '',
    ]) {
      const r = await rawRequest(
        port,
        `POST /api/v1/releases/reviews-canary/rollback HTTP/1.1\r\n${host()}\r\norigin: ${origin}\r\nauthorization: Bearer ${operator}\r\ncontent-length: 0`,
      );
      expect(r.status, JSON.stringify(origin)).toBe(403);
    }
    expect(t.snapshot()).toEqual(before);
  });

  it('accepts the Bearer scheme in any case and tabs around the token, and nothing else', async () => {
    for (const a of [`bearer ${viewer}`, `BEARER ${viewer}`, `Bearer\t${viewer}`, `Bearer   ${viewer}\t`]) {
      expect((await get(`${host()}\r\nauthorization: ${a}`)).status, a).toBe(200);
    }
    for (const a of [`Basic ${viewer}`, `Bearer${viewer}`, `Bearer ${viewer} x`, `Token ${viewer}`, 'Bearer', '']) {
      const r = await get(`${host()}\r\nauthorization: ${a}`);
      expect(r.status, a).toBe(401);
    }
  });

  it('refuses tokens of odd shapes: empty secret, extra underscores, other case, very long, non-ASCII', async () => {
    const [, id, secret] = viewer.split('_') as [string, string, string];
    const shapes = [
      `canary_${id}_`,
      `canary_${id}__${secret}`,
      `canary_${id}_${secret}_`,
      `canary_${id}_${secret}_x`,
      `canary__${id}_${secret}`,
      `CANARY_${id}_${secret}`,
      `canary_${id.toUpperCase()}_${secret}`,
      `canary_${id}_${secret.toUpperCase()}`,
      `canary_${id}_${secret.slice(0, 63)}`,
      `canary_${id}_${secret}0`,
      `canary_${id}_${'0'.repeat(64)}`,
      `canary_${'0'.repeat(12)}_${secret}`,
      `canary_${id}_${secret}`.replace(/.$/, 'é'),
      `${t.token}x`,
      t.token.slice(0, -1),
      'x'.repeat(8000),
    ];
    for (const s of shapes) {
      const r = await get(`${host()}\r\nauthorization: Bearer ${s}`);
      expect(r.status, s.slice(0, 90)).toBe(401);
      expect(JSON.parse(r.body).error.message).toMatch(/^invalid token/);
    }
    // A header too large for the server is refused before any check, never served.
    const huge = await get(`${host()}\r\nauthorization: Bearer ${'x'.repeat(20_000)}`);
    expect(huge.status).toBe(431);
  });

  it('keeps an operator from setting a candidate workload through PATCH (the body takes traffic only)', async () => {
    const before = t.snapshot();
    for (const body of [
      { candidate: { name: 'v2', workload: { command: '/bin/sh', args: ['-c', 'id'] } } },
      { traffic: { weights: { v1: 90, v2: 10 } }, candidate: { name: 'v2', workload: { env: { NODE_OPTIONS: '--require /tmp/x.js' } } } },
    ]) {
      const r = await t.callAs(operator, 'PATCH', '/api/v1/releases/reviews-canary', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect(t.snapshot()).toEqual(before);
    // Nor mint a token of any role, the proxy's included.
    for (const role of ['proxy', 'viewer', 'operator']) {
      expect((await t.callAs(operator, 'POST', '/api/v1/tokens', { name: `op-${role}`, role })).status).toBe(403);
    }
  });
});

describe('the failed sign-in throttle against a lock-out', () => {
  it('counts only rejected tokens: a page without a token, a malformed header or a foreign Host cannot lock the admin out', async () => {
    const t = await startTestControlPlane({ signInThrottle: { freeFailures: 2, baseDelayMs: 60_000 } });
    try {
      const port = Number(new URL(await t.cp.app.listen({ host: '127.0.0.1', port: 0 })).port);
      for (let i = 0; i < 10; i++) {
        // What a cross-site page can send (no-cors: no Authorization), a malformed header, and a rebinding page's token guess.
        expect((await rawRequest(port, `GET /api/v1/services HTTP/1.1\r\nhost: 127.0.0.1:${port}`)).status).toBe(401);
        expect(
          (await rawRequest(port, `GET /api/v1/services HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Basic eA==`)).status,
        ).toBe(401);
        expect(
          (await rawRequest(port, `GET /api/v1/services HTTP/1.1\r\nhost: evil.example:${port}\r\nauthorization: Bearer guess${i}`)).status,
        ).toBe(421);
        expect((await rawRequest(port, `GET /api/v1/nothing HTTP/1.1\r\nhost: 127.0.0.1:${port}`)).status).toBe(401);
      }
      expect((await t.call('GET', '/api/v1/services')).status).toBe(200);
    } finally {
      await t.destroy();
    }
  });
});
