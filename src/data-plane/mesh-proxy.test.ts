import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentProxyLogger } from './proxy-logger.js';
import { MeshProxy } from './mesh-proxy.js';
import type { RequestRecord } from './request-observer.js';
import { ROUTING_CASES, ROUTING_SERVICE, ROUTING_VERSIONS } from '../../test/support/routing-cases.js';
import {
  call,
  freePort,
  NO_OUTLIER_DETECTION,
  routeTable,
  startUpstream,
  type CallResult,
  type TestUpstream,
} from '../../test/support/test-upstreams.js';
import type { Rule } from '../core/index.js';
import { waitFor } from '../../test/support/wait-for.js';

const upstreams: Record<string, TestUpstream> = {};
const records: RequestRecord[] = [];
let proxy: MeshProxy;
let port: number;
let revision = 0;

beforeAll(async () => {
  for (const v of [...ROUTING_VERSIONS, 'p1', 'p2']) upstreams[v] = await startUpstream(v);
  proxy = new MeshProxy({ logger: silentProxyLogger, observer: { onRequest: (r) => records.push(r) } });
  port = (await proxy.listenIngress('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await proxy.close();
  await Promise.all(Object.values(upstreams).map((u) => u.close()));
});

/** Routes service `reviews` (v1..v3, one upstream each) by `rules`. */
async function useRules(rules: Rule[], target: MeshProxy = proxy): Promise<void> {
  await target.applyRouteTable(
    routeTable(++revision, [{ name: ROUTING_SERVICE, versions: { v1: [upstreams.v1!], v2: [upstreams.v2!], v3: [upstreams.v3!] }, rules }]),
  );
}

const weights = (w: Record<string, number>): Rule['route'] => Object.entries(w).map(([version, weight]) => ({ version, weight }));

/** Sends `n` GETs, `concurrency` at a time; returns how many each body (version) got. */
async function tally(n: number, options: { headers?: Record<string, string>; concurrency?: number } = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      const r = await call(port, { headers: { host: ROUTING_SERVICE, ...options.headers } });
      const key = r.status === 200 ? r.body : `status ${r.status}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return counts;
}

describe('route semantics (shared routing cases, through real sockets)', () => {
  for (const c of ROUTING_CASES) {
    it(c.name, async () => {
      await useRules(c.rules);
      for (const r of c.requests) {
        const res = await call(port, { method: r.method ?? 'GET', url: r.url, headers: { host: ROUTING_SERVICE, ...r.headers } });
        const where = `${r.method ?? 'GET'} ${r.url} ${JSON.stringify(r.headers ?? {})}`;
        if (r.expect === null) {
          expect(res.status, where).toBe(404);
          expect(res.headers['x-canary-error'], where).toBe('no-route');
        } else {
          expect(res.status, where).toBe(200);
          expect(res.body, where).toBe(r.expect);
        }
      }
    });
  }
});

describe('weighted and sticky picks', () => {
  it.each([
    [
      { v1: 1, v2: 99 },
      { v1: 10, v2: 990 },
    ],
    [
      { v1: 30, v2: 70 },
      { v1: 300, v2: 700 },
    ],
    [
      { v1: 50, v2: 50 },
      { v1: 500, v2: 500 },
    ],
  ])('splits 1000 requests exactly at %o', async (w, want) => {
    await useRules([{ route: weights(w) }]);
    expect(await tally(1000)).toEqual(want);
  });

  it('never picks a version of weight 0', async () => {
    await useRules([{ route: weights({ v1: 0, v2: 100, v3: 0 }) }]);
    expect(await tally(200)).toEqual({ v2: 200 });
  });

  it('keeps one user on one version by header, and spreads users', async () => {
    await useRules([{ route: weights({ v1: 50, v2: 50 }), sticky: { header: 'X-User' } }]);
    for (const user of ['alice', 'bob', 'carol']) {
      const counts = await tally(50, { headers: { 'x-user': user } });
      expect(Object.values(counts), `user ${user}: ${JSON.stringify(counts)}`).toEqual([50]);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await call(port, { headers: { host: ROUTING_SERVICE, 'x-user': `user-${i}` } })).body);
    expect([...seen].sort()).toEqual(['v1', 'v2']);
  });

  it('keeps one user on one version by cookie among other cookies', async () => {
    await useRules([{ route: weights({ v1: 50, v2: 50 }), sticky: { cookie: 'canary-session' } }]);
    for (const session of ['s-1', 's-2', 's-3', 's-4']) {
      const counts = await tally(50, { headers: { cookie: `a=1; canary-session=${session}; b=2` } });
      expect(Object.values(counts), `session ${session}`).toEqual([50]);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await call(port, { headers: { host: ROUTING_SERVICE, cookie: `canary-session=${i}` } })).body);
    expect([...seen].sort()).toEqual(['v1', 'v2']);
  });

  it('falls back to the exact split when the sticky value is missing', async () => {
    await useRules([{ route: weights({ v1: 30, v2: 70 }), sticky: { header: 'x-user' } }]);
    expect(await tally(100)).toEqual({ v1: 30, v2: 70 });
  });

  it('keeps one client address on one version with sourceIp', async () => {
    await useRules([{ route: weights({ v1: 50, v2: 50 }), sticky: { sourceIp: true } }]);
    expect(Object.values(await tally(50))).toEqual([50]);
  });

  it('reads a sticky cookie from any of several Cookie header fields', async () => {
    await useRules([{ route: weights({ v1: 50, v2: 50 }), sticky: { cookie: 'sid' } }]);
    const alone = (await call(port, { headers: { host: ROUTING_SERVICE, cookie: 'sid=user-17' } })).body;
    for (let i = 0; i < 10; i++) {
      const r = await call(port, { headers: { host: ROUTING_SERVICE, cookie: ['a=1', 'sid=user-17'] } });
      expect(r.body).toBe(alone);
    }
  });

  it('never sends a sticky user to a version of weight 0', async () => {
    await useRules([{ route: weights({ v1: 100, v2: 0 }), sticky: { header: 'x-user' } }]);
    for (let i = 0; i < 30; i++) expect((await call(port, { headers: { host: ROUTING_SERVICE, 'x-user': `u${i}` } })).body).toBe('v1');
  });
});

describe('mirroring', () => {
  it('sends a copy to the mirror version with a -shadow host; the client sees only the primary', async () => {
    await useRules([{ route: weights({ v1: 100 }), mirror: { version: 'v3', percent: 100 } }]);
    const before = upstreams.v3!.requests.length;
    for (let i = 0; i < 20; i++) {
      const r = await call(port, { url: `/m/${i}`, headers: { host: 'reviews:9080' } });
      expect(r.body).toBe('v1');
    }
    await waitFor('upstreams.v3!.requests.length - before === 20', () => upstreams.v3!.requests.length - before === 20);
    const copies = upstreams.v3!.requests.slice(before);
    expect(copies.map((c) => c.headers.host)).toEqual(Array(20).fill('reviews-shadow:9080'));
    expect(copies.map((c) => c.url)).toEqual(Array.from({ length: 20 }, (_, i) => `/m/${i}`));
  });

  it('mirrors exactly the configured percentage, requests with a body included (src/data-plane/mirror/ tests them)', async () => {
    await useRules([{ route: weights({ v1: 100 }), mirror: { version: 'v3', percent: 25 } }]);
    const before = upstreams.v3!.requests.length;
    for (let i = 0; i < 40; i++) await call(port, { headers: { host: ROUTING_SERVICE } });
    for (let i = 0; i < 8; i++)
      expect((await call(port, { method: 'POST', headers: { host: ROUTING_SERVICE }, body: 'x' })).body).toBe('v1');
    await waitFor('12 of the 48 requests mirrored to v3', () => upstreams.v3!.requests.length - before === 12);
    expect(upstreams.v3!.requests.slice(before).filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('does not delay or alter the primary answer when the mirror is down', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await proxy.applyRouteTable(
      routeTable(++revision, [
        {
          name: 'reviews',
          versions: { v1: [upstreams.v1!], v9: [dead] },
          rules: [{ route: weights({ v1: 100 }), mirror: { version: 'v9', percent: 100 } }],
        },
      ]),
    );
    for (let i = 0; i < 10; i++) {
      const r = await call(port, { headers: { host: ROUTING_SERVICE } });
      expect([r.status, r.body]).toEqual([200, 'v1']);
    }
  });
});

describe('errors the proxy answers itself', () => {
  it('404 names the host and path when no service matches', async () => {
    await useRules([{ route: weights({ v1: 100 }) }]);
    const r = await call(port, { url: '/x?y=1', headers: { host: 'nosuch.local:8000' } });
    expect(r.status).toBe(404);
    expect(r.headers['x-canary-error']).toBe('no-route');
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain('no route for host nosuch.local:8000 path /x');
  });

  it('503 when the chosen version has no ready endpoint', async () => {
    await proxy.applyRouteTable(
      routeTable(++revision, [{ name: 'reviews', versions: { v1: [upstreams.v1!], v2: [] }, rules: [{ route: weights({ v2: 100 }) }] }]),
    );
    const r = await call(port, { headers: { host: ROUTING_SERVICE } });
    expect(r.status).toBe(503);
    expect(r.headers['x-canary-error']).toBe('no-ready-endpoint');
    expect(r.body).toContain('no ready endpoint for service reviews version v2');
  });

  it('502 when the upstream refuses the connection', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await proxy.applyRouteTable(
      routeTable(++revision, [{ name: 'reviews', versions: { v1: [dead] }, rules: [{ route: weights({ v1: 100 }) }] }]),
    );
    const r = await call(port, { headers: { host: ROUTING_SERVICE } });
    expect(r.status).toBe(502);
    expect(r.headers['x-canary-error']).toBe('upstream-connect-failure');
    expect(r.body).toContain(`upstream connect failure: reviews version v1 at ${dead}`);
  });

  it('504 when the upstream does not answer in time', async () => {
    const quick = new MeshProxy({ logger: silentProxyLogger, upstreamTimeoutMs: 300 });
    try {
      const quickPort = (await quick.listenIngress('127.0.0.1', 0)).port;
      await quick.applyRouteTable(
        routeTable(1, [{ name: 'reviews', versions: { v1: [upstreams.v1!] }, rules: [{ route: weights({ v1: 100 }) }] }]),
      );
      const started = Date.now();
      const r = await call(quickPort, { url: '/slow?ms=3000', headers: { host: ROUTING_SERVICE } });
      expect(r.status).toBe(504);
      expect(r.headers['x-canary-error']).toBe('upstream-timeout');
      expect(r.body).toContain('did not answer within 300 ms');
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await quick.close();
    }
  });

  it('keeps the last table when a new one does not compile', async () => {
    await useRules([{ route: weights({ v2: 100 }) }]);
    expect(() =>
      proxy.applyRouteTable(
        routeTable(++revision, [
          {
            name: 'reviews',
            versions: { v1: [upstreams.v1!] },
            rules: [{ match: [{ uri: { regex: '(?<=x)' } }], route: weights({ v1: 100 }) }],
          },
        ]),
      ),
    ).toThrow(/rule 0/);
    expect((await call(port, { headers: { host: ROUTING_SERVICE } })).body).toBe('v2');
  });
});

describe('upstream connections', () => {
  it('retries an idempotent request once on another endpoint, but not a POST', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    // Without outlier detection, which would eject the dead endpoint after five failures.
    await proxy.applyRouteTable(
      routeTable(++revision, [
        {
          name: 'reviews',
          versions: { v1: [dead, upstreams.p1!] },
          rules: [{ route: weights({ v1: 100 }) }],
          outlierDetection: NO_OUTLIER_DETECTION,
        },
      ]),
    );
    records.length = 0;
    for (let i = 0; i < 10; i++) {
      const r = await call(port, { headers: { host: ROUTING_SERVICE } });
      expect([r.status, r.body]).toEqual([200, 'p1']);
    }
    expect(records.filter((r) => r.flags.retried).length).toBe(5);
    const posts: number[] = [];
    for (let i = 0; i < 4; i++) posts.push((await call(port, { method: 'POST', headers: { host: ROUTING_SERVICE }, body: 'b' })).status);
    expect(posts.sort()).toEqual([200, 200, 502, 502]);
  });

  it('balances round-robin over the ready endpoints of a version', async () => {
    await proxy.applyRouteTable(
      routeTable(++revision, [
        { name: 'reviews', versions: { v1: [upstreams.p1!, upstreams.p2!] }, rules: [{ route: weights({ v1: 100 }) }] },
      ]),
    );
    expect(await tally(100, { concurrency: 4 })).toEqual({ p1: 50, p2: 50 });
  });

  it('reuses keep-alive connections to upstreams', async () => {
    await useRules([{ route: weights({ v1: 100 }) }]);
    const before = upstreams.v1!.connections;
    await tally(300, { concurrency: 4 });
    expect(upstreams.v1!.connections - before).toBeLessThanOrEqual(4);
  });

  it('streams a large request body both ways without buffering it', async () => {
    await useRules([{ route: weights({ v1: 100 }) }]);
    const chunk = Buffer.alloc(256 * 1024, 'x');
    const rounds = 32; // 8 MiB, sent one chunk per echoed chunk: a buffering proxy would deadlock here
    const received = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { host: ROUTING_SERVICE } }, (res) => {
        let got = 0;
        let sent = 1;
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (got >= sent * chunk.length && sent < rounds) {
            sent++;
            req.write(chunk);
            if (sent === rounds) req.end();
          }
        });
        res.on('end', () => resolve(got));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(20_000, () => req.destroy(new Error('no echo: the body was not streamed')));
      req.flushHeaders();
      req.write(chunk);
    });
    expect(received).toBe(rounds * chunk.length);
  });

  it('cancels the upstream request when the client goes away', async () => {
    let upstreamClosed = false;
    const slow = await startUpstream('slow', (req, res) => {
      req.resume();
      res.on('close', () => {
        upstreamClosed = true;
      });
    });
    try {
      await proxy.applyRouteTable(
        routeTable(++revision, [{ name: 'reviews', versions: { v1: [slow] }, rules: [{ route: weights({ v1: 100 }) }] }]),
      );
      const req = request({ host: '127.0.0.1', port, path: '/hang', headers: { host: ROUTING_SERVICE } });
      req.on('error', () => undefined);
      req.end();
      await waitFor('slow.requests.length === 1', () => slow.requests.length === 1);
      req.destroy();
      await waitFor('upstreamClosed', () => upstreamClosed);
    } finally {
      await slow.close();
    }
  });

  it('finishes a request in flight on an endpoint that a new table removes', async () => {
    await proxy.applyRouteTable(
      routeTable(++revision, [{ name: 'reviews', versions: { v1: [upstreams.p2!] }, rules: [{ route: weights({ v1: 100 }) }] }]),
    );
    const inFlight = call(port, { url: '/slow?ms=300', headers: { host: ROUTING_SERVICE } });
    await waitFor("upstreams.p2!.requests.some((r) => r.url === '/slow?ms=300')", () =>
      upstreams.p2!.requests.some((r) => r.url === '/slow?ms=300'),
    );
    await useRules([{ route: weights({ v2: 100 }) }]);
    expect((await call(port, { headers: { host: ROUTING_SERVICE } })).body).toBe('v2');
    const r = await inFlight;
    expect([r.status, r.body]).toEqual([200, 'p2']);
  });

  it('does not fail requests in flight or under load while tables swap', async () => {
    let stop = false;
    const statuses: Record<number, number> = {};
    const load = async () => {
      while (!stop) {
        const r = await call(port, { url: '/slow?ms=5', headers: { host: ROUTING_SERVICE } });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    };
    const workers = Array.from({ length: 8 }, load);
    for (let i = 0; i < 60; i++) {
      const v1 = i % 2 === 0 ? [upstreams.v1!] : [upstreams.v1!, upstreams.p1!];
      await proxy.applyRouteTable(
        routeTable(++revision, [
          {
            name: 'reviews',
            versions: { v1, v2: [upstreams.v2!] },
            rules: [{ route: weights({ v1: i % 3 === 0 ? 100 : 50, v2: i % 3 === 0 ? 0 : 50 }) }],
          },
        ]),
      );
      await new Promise((r) => setTimeout(r, 15));
    }
    stop = true;
    await Promise.all(workers);
    expect(Object.keys(statuses)).toEqual(['200']);
    expect(statuses[200]).toBeGreaterThan(100);
  });
});

describe('headers', () => {
  it('drops hop-by-hop headers, keeps trace headers, adds forwarding headers', async () => {
    await useRules([{ route: weights({ v1: 100 }) }]);
    const before = upstreams.v1!.requests.length;
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r: CallResult = await call(port, {
      headers: {
        host: ROUTING_SERVICE,
        connection: 'keep-alive, x-private',
        'x-private': 'drop me',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic eDp5',
        te: 'trailers',
        traceparent,
        tracestate: 'vendor=1',
        b3: '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1',
        'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736',
        'x-forwarded-for': '10.0.0.1',
        'x-end-to-end': 'kept',
      },
    });
    expect(r.status).toBe(200);
    const seen = upstreams.v1!.requests[before]!.headers;
    expect(seen['x-private']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.te).toBe('trailers');
    expect(seen.traceparent).toBe(traceparent);
    expect(seen.tracestate).toBe('vendor=1');
    expect(seen.b3).toBe('4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1');
    expect(seen['x-b3-traceid']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(seen['x-end-to-end']).toBe('kept');
    expect(seen['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.host).toBe(ROUTING_SERVICE);
    // Response: the upstream's Connection-named header is gone, repeated set-cookie survives, no extra headers.
    expect(r.headers['x-upstream-private']).toBeUndefined();
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-canary-version']).toBeUndefined();
  });

  it('keeps an existing x-request-id and relays response trailers', async () => {
    await useRules([{ route: weights({ v1: 100 }) }]);
    const before = upstreams.v1!.requests.length;
    const r = await call(port, { url: '/trailers', headers: { host: ROUTING_SERVICE, 'x-request-id': 'req-1', te: 'trailers' } });
    expect(upstreams.v1!.requests[before]!.headers['x-request-id']).toBe('req-1');
    expect(r.body).toBe('v1');
    expect(r.trailers['x-checksum']).toBe('abc123');
  });

  it('adds x-canary-version only when exposeVersionHeader is on', async () => {
    const exposing = new MeshProxy({ logger: silentProxyLogger, exposeVersionHeader: true });
    try {
      const p = (await exposing.listenIngress('127.0.0.1', 0)).port;
      await useRules([{ route: weights({ v2: 100 }) }], exposing);
      const r = await call(p, { headers: { host: ROUTING_SERVICE } });
      expect(r.headers['x-canary-version']).toBe('v2');
    } finally {
      await exposing.close();
    }
  });
});

describe('listeners', () => {
  it('the ingress routes by Host label, else by the longest ingress path prefix', async () => {
    await proxy.applyRouteTable(
      routeTable(++revision, [
        {
          name: 'productpage',
          versions: { v1: [upstreams.p1!] },
          rules: [{ route: weights({ v1: 100 }) }],
          ingressPaths: ['/productpage', '/static'],
        },
        { name: 'reviews', versions: { v1: [upstreams.v1!] }, rules: [{ route: weights({ v1: 100 }) }], ingressPaths: ['/'] },
      ]),
    );
    expect((await call(port, { url: '/productpage?u=normal' })).body).toBe('p1');
    expect((await call(port, { url: '/static/app.js' })).body).toBe('p1');
    expect((await call(port, { url: '/other' })).body).toBe('v1');
    expect((await call(port, { url: '/productpage', headers: { host: 'reviews.local:8000' } })).body).toBe('v1');
    expect((await call(port, { url: '/', headers: { host: 'ProductPage' } })).body).toBe('p1');
  });

  it('takes the destination from an absolute-form target (a client using the proxy as HTTP proxy)', async () => {
    await useRules([{ route: weights({ v3: 100 }) }]);
    const before = upstreams.v3!.requests.length;
    const r = await call(port, { url: 'http://reviews:9080/reviews/7?x=1', headers: { host: 'ignored.example' } });
    expect([r.status, r.body]).toEqual([200, 'v3']);
    expect(upstreams.v3!.requests[before]).toMatchObject({ url: '/reviews/7?x=1', headers: { host: 'reviews:9080' } });
  });

  it('opens an outbound listener per instance, attributes calls to it, and closes it when the table drops it', async () => {
    const outboundPort = await freePort();
    const listener = { port: outboundPort, service: 'productpage', version: 'v1', instance: 'productpage-v1-1' };
    await proxy.applyRouteTable(
      routeTable(
        ++revision,
        [{ name: 'reviews', versions: { v2: [upstreams.v2!] }, rules: [{ route: weights({ v2: 100 }) }], ingressPaths: ['/'] }],
        [listener],
      ),
    );
    expect(proxy.outboundPorts()).toEqual([outboundPort]);
    records.length = 0;
    const r = await call(outboundPort, { url: '/reviews/1', headers: { host: 'reviews' } });
    expect(r.body).toBe('v2');
    expect(records[0]).toMatchObject({
      source: { service: 'productpage', version: 'v1', instance: 'productpage-v1-1' },
      destination: { service: 'reviews', version: 'v2', instance: 'v2-1' },
      method: 'GET',
      path: '/reviews/1',
      status: 200,
      upstreamAddress: upstreams.v2!.address,
    });
    expect(records[0]!.durationMs).toBeGreaterThan(0);
    expect(records[0]!.flags).toEqual({ noRoute: false, upstreamFailure: false, retried: false, mirrored: false, upstreamOverflow: false });
    // Outbound listeners route by Host only; ingress paths do not apply to them.
    expect((await call(outboundPort, { url: '/', headers: { host: '127.0.0.1' } })).status).toBe(404);
    expect(records.at(-1)).toMatchObject({ status: 404, destination: null, flags: { noRoute: true } });
    await proxy.applyRouteTable(
      routeTable(++revision, [{ name: 'reviews', versions: { v2: [upstreams.v2!] }, rules: [{ route: weights({ v2: 100 }) }] }]),
    );
    expect(proxy.outboundPorts()).toEqual([]);
    await expect(call(outboundPort, { headers: { host: 'reviews' }, agent: false })).rejects.toThrow(/ECONNREFUSED/);
  });
});
