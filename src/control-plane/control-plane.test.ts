import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RouteTable } from '../core/index.js';
import { EndpointsRuntime } from '../workloads/endpoints-runtime.js';
import { createControlPlane } from './create-control-plane.js';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';

/** Reads server-sent events from a real socket. */
function watch(
  url: string,
  token: string,
): Promise<{ next(): Promise<{ event: string; data: string; id: string }>; comments: string[]; res: IncomingMessage; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      const queue: { event: string; data: string; id: string }[] = [];
      const comments: string[] = [];
      let waiting: ((e: { event: string; data: string; id: string }) => void) | null = null;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const msg = { event: 'message', data: '', id: '' };
          let isComment = true;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else {
              isComment = false;
              const [field, ...rest] = line.split(': ');
              (msg as Record<string, string>)[field!] = rest.join(': ');
            }
          }
          if (!isComment) {
            if (waiting) {
              const w = waiting;
              waiting = null;
              w(msg);
            } else queue.push(msg);
          }
          cut = buffer.indexOf('\n\n');
        }
      });
      resolve({
        res,
        comments,
        next: () =>
          new Promise((r, j) => {
            const m = queue.shift();
            if (m) return r(m);
            const timer = setTimeout(() => j(new Error('no event within 5 s')), 5000);
            waiting = (e) => {
              clearTimeout(timer);
              r(e);
            };
          }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

describe('control plane', () => {
  let t: TestControlPlane;
  beforeEach(async () => {
    t = await startTestControlPlane({ watchPingMs: 100 });
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('streams a route-table snapshot on connect and a new one after a PATCH, with pings between', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    await t.call('POST', '/api/v1/releases', reviewsCanary);
    const base = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
    const w = await watch(`${base}/api/v1/route-table/watch`, t.token);
    try {
      expect(w.res.statusCode).toBe(200);
      expect(w.res.headers['content-type']).toMatch(/^text\/event-stream/);
      const first = await w.next();
      expect(first.event).toBe('snapshot');
      const t1 = JSON.parse(first.data) as RouteTable;
      // First, while v2 runs: `x-canary-preview: v2` reaches it.
      const preview = { match: [{ headers: { 'x-canary-preview': { exact: 'v2' } } }], route: [{ version: 'v2', weight: 100 }] };
      expect(first.id).toBe(String(t1.revision));
      expect(t1.services[0]!.rules).toEqual([
        preview,
        {
          route: [
            { version: 'v1', weight: 50 },
            { version: 'v2', weight: 50 },
          ],
        },
      ]);

      const patched = await t.call('PATCH', '/api/v1/releases/reviews-canary', { traffic: { weights: { v1: 80, v2: 20 } } });
      expect(patched.status).toBe(200);
      const second = await w.next();
      const t2 = JSON.parse(second.data) as RouteTable;
      expect(t2.revision).toBeGreaterThan(t1.revision);
      expect(t2.services[0]!.rules).toEqual([
        preview,
        {
          route: [
            { version: 'v1', weight: 80 },
            { version: 'v2', weight: 20 },
          ],
        },
      ]);
      await new Promise((r) => setTimeout(r, 250));
      expect(w.comments).toContain(': ping');
    } finally {
      w.close();
    }
  });

  it('refuses the watch stream without a token', async () => {
    const base = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
    const status = await new Promise<number>((resolve, reject) => {
      get(`${base}/api/v1/route-table/watch`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(401);
  });

  it('closes while a proxy is still watching', async () => {
    const base = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
    const w = await watch(`${base}/api/v1/route-table/watch`, t.token);
    await w.next();
    const ended = new Promise((r) => w.res.on('close', r));
    await t.stop();
    await ended;
  });

  it('restores everything after a restart on the same data dir', async () => {
    await t.call('POST', '/api/v1/services', reviewsService);
    await t.call('POST', '/api/v1/services', {
      name: 'ratings',
      versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: ['127.0.0.1:19101'] } }],
    });
    await t.call('POST', '/api/v1/releases', reviewsCanary);
    await t.call('PATCH', '/api/v1/releases/reviews-canary', {
      traffic: { match: [{ headers: { 'end-user': { exact: 'jason' } } }], weights: { v1: 100 } },
    });
    await t.call('POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' });
    const before = t.snapshot();
    const api = async (tc: TestControlPlane) => ({
      releases: (await tc.call('GET', '/api/v1/releases')).body,
      release: (await tc.call('GET', '/api/v1/releases/reviews-canary')).body,
      events: (await tc.call('GET', '/api/v1/events')).body,
      services: (await tc.call('GET', '/api/v1/services')).body.items.map(({ status: _s, ...rest }: { status: unknown }) => rest),
      rules: (await tc.call('GET', '/api/v1/route-table')).body.services.map((s: { rules: unknown }) => s.rules),
    });
    const apiBefore = await api(t);
    const revisionBefore = (await t.call('GET', '/api/v1/route-table')).body.revision;
    await t.stop();

    const again = await startTestControlPlane({ dataDir: t.dataDir, root: join(t.dataDir, '..') });
    try {
      expect(again.snapshot()).toEqual(before);
      expect(await api(again)).toEqual(apiBefore);
      expect((await again.call('GET', '/api/v1/route-table')).body.revision).toBeGreaterThan(revisionBefore);
      // and it carries on from there
      const res = await again.call('POST', '/api/v1/releases/reviews-canary/resume');
      expect(res.status).toBe(200);
      expect(Number(res.body.resourceVersion)).toBe(before.revision + 1);
    } finally {
      await again.stop();
    }
  });

  it('completes a finish that a restart cut short', async () => {
    await t.stop();
    const slow = await startTestControlPlane({ dataDir: t.dataDir, root: join(t.dataDir, '..'), drainGraceMs: 60_000 });
    await slow.call('POST', '/api/v1/services', reviewsService);
    await slow.call('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      candidate: { name: 'v2' },
      traffic: { weights: { v1: 50, v2: 50 } },
    });
    const finishing = slow.call('DELETE', '/api/v1/releases/reviews-canary?keep=v2');
    await new Promise((r) => setTimeout(r, 50));
    expect((await slow.call('GET', '/api/v1/releases/reviews-canary')).body.status.conditions.at(-1)).toMatchObject({
      type: 'Finishing',
      status: 'True',
    });
    // a release that is finishing takes no more changes
    expect((await slow.call('POST', '/api/v1/releases/reviews-canary/rollback')).status).toBe(409);
    await slow.stop();
    expect((await finishing).status).toBe(409);

    const again = await startTestControlPlane({ dataDir: t.dataDir, root: join(t.dataDir, '..'), drainGraceMs: 20 });
    try {
      const deadline = Date.now() + 5000;
      while ((await again.call('GET', '/api/v1/releases/reviews-canary')).status !== 404) {
        if (Date.now() > deadline) throw new Error('the finish was not completed after the restart');
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await again.call('GET', '/api/v1/services/reviews')).body.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
      expect((await again.call('GET', '/api/v1/events?limit=1')).body.items[0]).toMatchObject({
        action: 'release.finished',
        actor: 'controller',
      });
    } finally {
      await again.stop();
    }
  });
});

describe('admin token and data directory', () => {
  let root: string;
  const saved = process.env.CANARY_ADMIN_TOKEN;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'canary-token-'));
    delete process.env.CANARY_ADMIN_TOKEN;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.CANARY_ADMIN_TOKEN;
    else process.env.CANARY_ADMIN_TOKEN = saved;
    rmSync(root, { recursive: true, force: true });
  });

  it('creates the data dir 0700 and a random admin token file 0600 that later starts reuse', async () => {
    const dataDir = join(root, 'fresh', 'data');
    const runtime = new EndpointsRuntime();
    let log = '';
    const logStream = new Writable({
      write(chunk, _enc, done) {
        log += String(chunk);
        done();
      },
    });
    let cp = await createControlPlane({ dataDir, runtime, logLevel: 'info', logStream });
    const file = join(dataDir, 'admin-token');
    try {
      // the log says where the token is, never the token itself
      expect(log).toContain(file);
      expect(log).not.toContain(readFileSync(file, 'utf8').trim());
      expect(cp.adminTokenFile).toBe(file);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const token = readFileSync(file, 'utf8').trim();
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
      const ok = await cp.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: `Bearer ${token}` } });
      expect(ok.statusCode).toBe(200);
      await cp.close();
      cp = await createControlPlane({ dataDir, runtime, logLevel: 'silent' });
      expect(readFileSync(file, 'utf8').trim()).toBe(token);
      const again = await cp.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: `Bearer ${token}` } });
      expect(again.statusCode).toBe(200);
    } finally {
      await cp.close();
      await runtime.stopAll();
    }
  });

  it('lets CANARY_ADMIN_TOKEN override the file', async () => {
    process.env.CANARY_ADMIN_TOKEN = 'from-the-environment';
    const runtime = new EndpointsRuntime();
    const cp = await createControlPlane({ dataDir: join(root, 'data'), runtime, logLevel: 'silent' });
    try {
      expect(cp.adminTokenFile).toBeNull();
      const res = await cp.app.inject({
        method: 'GET',
        url: '/api/v1/services',
        headers: { authorization: 'Bearer from-the-environment' },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await cp.close();
    }
  });
});

describe('console', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'canary-console-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('serves the built console without a token, with index.html for page paths', async () => {
    const consoleDir = join(root, 'web');
    mkdirSync(join(consoleDir, 'assets'), { recursive: true });
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>Canary Mesh</title>');
    writeFileSync(join(consoleDir, 'assets', 'app.js'), 'console.log(1)');
    const t = await startTestControlPlane({ root, consoleDir });
    try {
      const page = await t.cp.app.inject({ method: 'GET', url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<title>Canary Mesh</title>');
      const asset = await t.cp.app.inject({ method: 'GET', url: '/assets/app.js' });
      expect(asset.body).toBe('console.log(1)');
      const deep = await t.cp.app.inject({ method: 'GET', url: '/releases/reviews-canary?tab=events' });
      expect(deep.statusCode).toBe(200);
      expect(deep.headers['content-type']).toMatch(/^text\/html/);
      expect(deep.body).toContain('<title>Canary Mesh</title>');
      const missingAsset = await t.cp.app.inject({ method: 'GET', url: '/assets/nope.js' });
      expect(missingAsset.statusCode).toBe(404);
      const api = await t.call('GET', '/api/v1/nope');
      expect(api.status).toBe(404);
      expect(api.body.error.code).toBe('NotFound');
    } finally {
      await t.stop();
    }
  });
});
