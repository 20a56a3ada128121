import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { throttleKeyOf } from './access-control.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

const processService = {
  name: 'ratings',
  port: 9080,
  versions: [{ name: 'v1', workload: { kind: 'process', command: 'node', args: ['-e', 'setInterval(()=>{},1e6)'] } }],
};

describe('roles and tokens', () => {
  let t: TestControlPlane;
  let log: string;
  beforeEach(async () => {
    log = '';
    const logStream = new PassThrough();
    logStream.on('data', (c: Buffer) => {
      log += c.toString();
    });
    t = await startTestControlPlane({ logLevel: 'debug', logStream });
    expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('lets a viewer read everything but tokens, and change nothing (403)', async () => {
    const viewer = t.tokenFor('viewer', 'alice');
    await t.call('POST', '/api/v1/releases', reviewsCanary);
    const before = t.snapshot();
    for (const url of [
      '/api/v1/services',
      '/api/v1/services/reviews/routes',
      '/api/v1/releases/reviews-canary',
      '/api/v1/events',
      '/api/v1/topology',
    ]) {
      expect((await t.callAs(viewer, 'GET', url)).status, url).toBe(200);
    }
    expect(await t.callAs(viewer, 'GET', '/api/v1/whoami').then((r) => r.body)).toMatchObject({ name: 'alice', role: 'viewer' });
    const changes: [string, string, unknown?][] = [
      ['POST', '/api/v1/releases/reviews-canary/rollback'],
      ['POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' }],
      ['PATCH', '/api/v1/releases/reviews-canary', { traffic: { weights: { v1: 90, v2: 10 } } }],
      ['DELETE', '/api/v1/releases/reviews-canary?keep=v1'],
      ['PUT', '/api/v1/services/reviews/routes', { rules: [] }],
      ['DELETE', '/api/v1/services/reviews/versions/v2'],
      ['GET', '/api/v1/tokens'],
      ['POST', '/api/v1/tokens', { name: 'mine', role: 'admin' }],
    ];
    for (const [method, url, body] of changes) {
      const res = await t.callAs(viewer, method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'Forbidden', message: expect.stringContaining('role viewer (token "alice") may not') });
    }
    expect(t.snapshot()).toEqual(before);
  });

  it('lets an operator run a canary of an existing version, recorded under its name, but not register process workloads or mint tokens', async () => {
    const operator = t.tokenFor('operator', 'ci-bot');
    let res = await t.callAs(operator, 'POST', '/api/v1/releases', reviewsCanary);
    expect(res.status).toBe(201);
    expect(res.body.createdBy).toBe('ci-bot');
    expect((await t.callAs(operator, 'POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' })).status).toBe(200);
    expect((await t.callAs(operator, 'POST', '/api/v1/releases/reviews-canary/rollback')).status).toBe(200);
    const events = (await t.call('GET', '/api/v1/events')).body.items as { actor: string; action: string }[];
    const byPeople = events.filter((e) => e.action.startsWith('release.') && e.actor !== 'controller');
    expect(byPeople.map((e) => `${e.action} by ${e.actor}`)).toEqual([
      'release.created by ci-bot',
      'release.taken-over by ci-bot',
      'release.rolled-back by ci-bot',
    ]);
    expect((await t.callAs(operator, 'DELETE', '/api/v1/releases/reviews-canary?keep=v1')).status).toBe(200);

    const before = t.snapshot();
    res = await t.callAs(operator, 'POST', '/api/v1/services', processService);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('register or delete services and versions');
    // A candidate whose workload sets what runs (command, args, env such as NODE_OPTIONS, cwd) is an admin's call.
    for (const workload of [
      { env: { NODE_OPTIONS: '--require /tmp/evil.js' } },
      { command: '/bin/sh', args: ['-c', 'id'] },
      { cwd: '/' },
      { kind: 'endpoints', addresses: ['10.0.0.1:80'] },
    ]) {
      res = await t.callAs(operator, 'POST', '/api/v1/releases', { ...reviewsCanary, candidate: { name: 'v3', workload } });
      expect(res.status, JSON.stringify(workload)).toBe(403);
      expect(res.body.error.message).toMatch(/^role operator may not set (candidate\.workload\.\w+(, )?)+: only an admin/);
      res = await t.callAs(operator, 'POST', '/api/v1/releases?dryRun=true', { ...reviewsCanary, candidate: { name: 'v3', workload } });
      expect(res.status).toBe(403);
    }
    expect((await t.callAs(operator, 'POST', '/api/v1/tokens', { name: 'more', role: 'admin' })).status).toBe(403);
    expect((await t.callAs(operator, 'DELETE', '/api/v1/tokens/ci-bot')).status).toBe(403);
    expect(t.snapshot()).toEqual(before);
    expect(t.cp.tokens.list().map((x) => x.name)).toEqual(['admin', 'ci-bot']);
    // The admin may.
    res = await t.call('POST', '/api/v1/releases?dryRun=true', {
      ...reviewsCanary,
      candidate: { name: 'v3', workload: { env: { A: 'b' } } },
    });
    expect(res.status).toBe(400); // endpoints baseline: env is not a field of it — validation, not a refusal
    expect(res.body.error.code).toBe('InvalidInput');
  });

  it('creates, lists and revokes tokens over the API; a revoked or expired token gets 401; no value is stored or logged', async () => {
    let res = await t.call('POST', '/api/v1/tokens', { name: 'deploy', role: 'operator', expiresIn: '30d' });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const { token, expiresAt } = res.body;
    expect(res.body).toMatchObject({ name: 'deploy', role: 'operator', createdBy: 'admin', source: 'stored' });
    expect(token).toMatch(/^canary_[0-9a-f]{12}_[0-9a-f]{64}$/);
    const days = (Date.parse(expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    expect((await t.callAs(token, 'GET', '/api/v1/whoami')).body).toMatchObject({ name: 'deploy', role: 'operator' });

    res = await t.call('GET', '/api/v1/tokens');
    expect(res.body.items).toEqual([
      { name: 'admin', role: 'admin', createdAt: null, createdBy: null, expiresAt: null, source: 'bootstrap' },
      { name: 'deploy', role: 'operator', createdAt: expect.any(String), createdBy: 'admin', expiresAt, source: 'stored' },
    ]);
    expect(JSON.stringify(res.body)).not.toContain(token.slice(20));

    // Refusals: a name taken or reserved, an unknown role, a bad duration.
    expect((await t.call('POST', '/api/v1/tokens', { name: 'deploy', role: 'viewer' })).status).toBe(409);
    expect((await t.call('POST', '/api/v1/tokens', { name: 'admin', role: 'viewer' })).status).toBe(409);
    expect((await t.call('POST', '/api/v1/tokens', { name: 'x', role: 'root' })).status).toBe(400);
    const bad = await t.call('POST', '/api/v1/tokens', { name: 'x', role: 'viewer', expiresIn: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('expiresIn: must be a duration such as 30d, 12h or 90m, got "soon"');

    // Nothing holds the value in clear: not the database, its WAL, nor the log.
    const secret = token.split('_')[2];
    for (const f of readdirSync(t.dataDir)) {
      expect(readFileSync(join(t.dataDir, f)).includes(secret), f).toBe(false);
    }
    expect(log).not.toContain(secret);

    res = await t.call('DELETE', '/api/v1/tokens/deploy');
    expect(res.status).toBe(200);
    res = await t.callAs(token, 'GET', '/api/v1/services');
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/^invalid token/);
    expect((await t.call('DELETE', '/api/v1/tokens/deploy')).status).toBe(404);
    expect((await t.call('DELETE', '/api/v1/tokens/admin')).status).toBe(409);
    const actions = (await t.call('GET', '/api/v1/events')).body.items.filter((e: { resourceKind: string }) => e.resourceKind === 'token');
    expect(actions.map((e: { action: string; actor: string }) => `${e.action} by ${e.actor}`)).toEqual([
      'token.created by admin',
      'token.revoked by admin',
    ]);

    const shortLived = t.cp.tokens.create({ name: 'brief', role: 'viewer', expiresInMs: 1 }, 'admin').token;
    await new Promise((r) => setTimeout(r, 10));
    res = await t.callAs(shortLived, 'GET', '/api/v1/services');
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain('token expired');
  });

  it('keeps the bootstrap admin token working and gives the proxy credential only route tables and telemetry', async () => {
    expect((await t.call('GET', '/api/v1/whoami')).body).toMatchObject({ name: 'admin', role: 'admin' });
    const proxy = t.cp.tokens.mintInMemory('proxy', 'proxy');
    expect((await t.callAs(proxy, 'GET', '/api/v1/route-table')).status).toBe(200);
    const batch = { proxy: { id: 'p1', host: 'h', pid: 1 }, start: Date.now() - 1000, end: Date.now(), edges: [], spans: [] };
    expect((await t.callAs(proxy, 'POST', '/api/v1/telemetry', batch)).status).toBe(200);
    for (const url of ['/api/v1/services', '/api/v1/events', '/api/v1/whoami', '/api/v1/tokens']) {
      expect((await t.callAs(proxy, 'GET', url)).status, url).toBe(403);
    }
    // Minting again replaces it (a restarted `canary up`); it is never stored.
    const again = t.cp.tokens.mintInMemory('proxy', 'proxy');
    expect((await t.callAs(proxy, 'GET', '/api/v1/route-table')).status).toBe(401);
    expect((await t.callAs(again, 'GET', '/api/v1/route-table')).status).toBe(200);
    expect(t.cp.store.listTokens()).toEqual([]);
  });
  it('gives a stored proxy-role token no more than the proxy credential, and keeps the minted proxy name reserved', async () => {
    t.cp.tokens.mintInMemory('proxy', 'proxy');
    expect((await t.call('POST', '/api/v1/tokens', { name: 'proxy', role: 'admin' })).status).toBe(409);
    expect((await t.call('DELETE', '/api/v1/tokens/proxy')).status).toBe(409);
    const res = await t.call('POST', '/api/v1/tokens', { name: 'edge-proxy', role: 'proxy' });
    expect(res.status).toBe(201);
    const remote = res.body.token as string;
    expect((await t.callAs(remote, 'GET', '/api/v1/route-table')).status).toBe(200);
    for (const [method, url, body] of [
      ['GET', '/api/v1/whoami'],
      ['GET', '/api/v1/services'],
      ['GET', '/api/v1/tokens'],
      ['POST', '/api/v1/tokens', { name: 'x', role: 'admin' }],
      ['POST', '/api/v1/releases', reviewsCanary],
    ] as [string, string, unknown?][]) {
      expect((await t.callAs(remote, method, url, body)).status, `${method} ${url}`).toBe(403);
    }
  });
});

describe('repeated failed sign-ins', () => {
  it('answers 429 with Retry-After after the free failures, even to a valid token, from that address only', async () => {
    const t = await startTestControlPlane({ signInThrottle: { freeFailures: 3, baseDelayMs: 1500 } });
    try {
      for (let i = 0; i < 3; i++) expect((await t.callAs('wrong', 'GET', '/api/v1/services')).status).toBe(401);
      let res = await t.call('GET', '/api/v1/services');
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.body.error.message).toMatch(/^too many rejected tokens from 127\.0\.0\.1: try again in \d+ s$/);
      // Another client address is not held back.
      const other = await t.cp.app.inject({
        method: 'GET',
        url: '/api/v1/services',
        remoteAddress: '10.1.2.3',
        headers: { authorization: `Bearer ${t.token}` },
      });
      expect(other.statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 1600));
      res = await t.call('GET', '/api/v1/services');
      expect(res.status).toBe(200);
      // Public routes are never held back.
      expect((await t.callAs(null, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await t.destroy();
    }
  });

  it('counts an IPv6 client by its /64, so rotating addresses buys no fresh guesses; IPv4-mapped by the IPv4 address', async () => {
    expect(throttleKeyOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(throttleKeyOf('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(throttleKeyOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(throttleKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(throttleKeyOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(throttleKeyOf('::ffff:10.1.2.4')).not.toBe(throttleKeyOf('::ffff:10.1.2.3'));
    expect(throttleKeyOf('10.1.2.3')).toBe('10.1.2.3');
    const t = await startTestControlPlane({ signInThrottle: { freeFailures: 3, baseDelayMs: 60_000 } });
    try {
      const from = (remoteAddress: string, token: string) =>
        t.cp.app.inject({ method: 'GET', url: '/api/v1/services', remoteAddress, headers: { authorization: `Bearer ${token}` } });
      for (let i = 1; i <= 3; i++) expect((await from(`2001:db8:1:2::${i}`, 'wrong')).statusCode).toBe(401);
      // The next address of the same /64, even with the right token, waits; another /64 and an IPv4 client do not.
      expect((await from('2001:db8:1:2:dead:beef:0:1', 'wrong')).statusCode).toBe(429);
      expect((await from('2001:db8:1:2::99', t.token)).statusCode).toBe(429);
      expect((await from('2001:db8:1:3::1', t.token)).statusCode).toBe(200);
      expect((await from('::ffff:10.1.2.3', t.token)).statusCode).toBe(200);
    } finally {
      await t.destroy();
    }
  });

  it('remembers a bounded number of addresses, and doubles the wait up to the limit', () => {
    const th = new SignInThrottle({ freeFailures: 1, baseDelayMs: 1000, maxDelayMs: 4000, maxAddresses: 100 });
    for (let i = 0; i < 1000; i++) th.failed(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(th.size).toBe(100);
    expect(th.waitMs('10.0.0.0', 0)).toBe(0); // forgotten: among the oldest
    const waits = [1, 2, 3, 4, 5].map(() => {
      th.failed('192.0.2.1', 0);
      return th.waitMs('192.0.2.1', 0);
    });
    expect(waits).toEqual([1000, 2000, 4000, 4000, 4000]);
  });
});
