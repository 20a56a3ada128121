import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CompareSettings, DEFAULT_COMPARE } from '../../core/comparison/index.js';
import type { Rule } from '../../core/index.js';
import { durationSlot } from '../../telemetry-wire/histogram-layout.js';
import type { ComparisonSample } from '../../telemetry-wire/telemetry-batch.js';
import { MeshProxy, type MeshProxyOptions } from '../mesh-proxy.js';
import { call, freePort, routeTable } from '../../../test/support/test-upstreams.js';
import { waitFor } from '../../../test/support/wait-for.js';

/**
 * Mirroring with bodies and the comparison of answers, through real sockets: a client, the proxy (fast path and
 * node:http), a baseline and a candidate on loopback. The comparison is read as the telemetry reads it
 * (`proxy.mirrors.drain()`) once no copy is in flight.
 */

interface Seen {
  method: string;
  url: string;
  host: string;
  body: string;
}

interface Backend {
  address: string;
  seen: Seen[];
  server: Server;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

type Answer = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function backend(answer: Answer): Promise<Backend> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body });
      answer(req, res, body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    server,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

/** What both versions answer alike: volatile fields (timestamp, item ids) differ on every answer. */
function review(path: string, rating: number) {
  return { path, timestamp: Date.now() + Math.random(), items: [{ id: Math.random().toString(36), rating }], reviewer: 'Reviewer1' };
}

const baselineAnswer: Answer = (req, res, body) => {
  if (req.method === 'POST') json(res, 200, { received: body.length });
  else json(res, 200, review(req.url ?? '', 5));
};

/** The candidate: 503 on /reviews/0, another rating on /reviews/2, the baseline's answers otherwise. */
const candidateAnswer: Answer = (req, res, body) => {
  if (req.url === '/reviews/0') json(res, 503, { error: 'unavailable' });
  else if (req.url === '/reviews/2') json(res, 200, review(req.url, 4));
  else baselineAnswer(req, res, body);
};

const COMPARE: CompareSettings = { ...DEFAULT_COMPARE, ignoreJsonPaths: ['$.timestamp', '$.items[*].id'], maxBodyBytes: 1024 };

function table(revision: number, versions: Record<string, string[]>, mirror = 'v2', compare = COMPARE) {
  const rules: Rule[] = [{ route: [{ version: 'v1', weight: 100 }], mirror: { version: mirror, percent: 100 } }];
  const t = routeTable(revision, [{ name: 'reviews', versions, rules }]);
  t.services[0]!.release = 'reviews-mirror';
  t.services[0]!.compare = compare;
  return t;
}

async function startProxy(options: MeshProxyOptions): Promise<{ proxy: MeshProxy; port: number }> {
  const proxy = new MeshProxy({ logger: { info() {}, warn() {}, error() {} }, ...options });
  const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
  return { proxy, port };
}

/** The comparison so far, once every copy has settled, summed as the control plane sums it. */
async function comparison(proxy: MeshProxy, timeoutMs = 15_000): Promise<ComparisonSample> {
  await waitFor('the mirror copies to settle', () => proxy.mirrors.pending === 0, timeoutMs);
  const samples = proxy.mirrors.drain();
  expect(samples.length).toBeLessThanOrEqual(1);
  return (
    samples[0] ?? {
      service: 'reviews',
      release: 'reviews-mirror',
      requests: 0,
      mirrored: 0,
      compared: 0,
      agree: 0,
      skipped: { bodyTooLarge: 0, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 },
      differences: [],
      otherDifferences: 0,
      primaryLatency: [],
      mirrorLatency: [],
    }
  );
}

const host = { host: 'reviews:9080' };

describe.each([
  ['the fast path', true],
  ['node:http', false],
])('mirroring on %s', (_name, fastPath) => {
  let v1: Backend;
  let v2: Backend;
  let proxy: MeshProxy;
  let port: number;
  let revision = 0;

  beforeAll(async () => {
    v1 = await backend(baselineAnswer);
    v2 = await backend(candidateAnswer);
    ({ proxy, port } = await startProxy({ fastPath }));
    await proxy.applyRouteTable(table(++revision, { v1: [v1.address], v2: [v2.address] }));
  });

  afterAll(async () => {
    await proxy?.close();
    await v1?.close();
    await v2?.close();
  });

  it('copies a POST with a JSON body to the candidate, body included, with a -shadow host', async () => {
    await comparison(proxy);
    const body = JSON.stringify({ user: 'jason', text: 'Ünïcödé review ✓' });
    const r = await call(port, { method: 'POST', url: '/reviews', headers: { ...host, 'content-type': 'application/json' }, body });
    expect(r.status).toBe(200);
    // Chunked: the fast path hands it to node:http, which streams it to the primary and copies it on the way.
    const chunked = await call(port, {
      method: 'POST',
      url: '/reviews/chunked',
      headers: { ...host, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body,
    });
    expect(chunked.status).toBe(200);
    const c = await comparison(proxy);
    expect(v2.seen.filter((s) => s.method === 'POST').map((s) => [s.url, s.host, s.body])).toEqual([
      ['/reviews', 'reviews-shadow:9080', body],
      ['/reviews/chunked', 'reviews-shadow:9080', body],
    ]);
    expect(v1.seen.filter((s) => s.method === 'POST').map((s) => [s.url, s.host, s.body])).toEqual([
      ['/reviews', 'reviews:9080', body],
      ['/reviews/chunked', 'reviews:9080', body],
    ]);
    expect(c).toMatchObject({ requests: 2, mirrored: 2, compared: 2, agree: 2, differences: [] });
  });

  it('counts 503s of the candidate as status differences, and finds body differences but not ignored fields', async () => {
    await comparison(proxy);
    for (let i = 0; i < 6; i++) expect((await call(port, { url: '/reviews/0', headers: host })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await call(port, { url: '/reviews/1', headers: host })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await call(port, { url: '/reviews/2', headers: host })).status).toBe(200);
    const c = await comparison(proxy);
    expect(c).toMatchObject({ requests: 13, mirrored: 13, compared: 13, agree: 4 });
    expect(c.differences.map((d) => [d.kind, d.path, d.field, d.primary, d.mirror, d.count])).toEqual([
      ['status', '/reviews/0', null, '200', '503', 6],
      ['body', '/reviews/2', '$.items[*].rating', '5', '4', 3],
    ]);
    const example = c.differences[0]!.example!;
    expect(example.primary).toMatchObject({ status: 200, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(example.primary.body)).toMatchObject({ path: '/reviews/0', reviewer: 'Reviewer1' });
    expect(example.mirror).toMatchObject({ status: 503, body: '{"error":"unavailable"}' });
    expect(c.primaryLatency.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0)).toBe(13);
  });

  it('does not mirror a body over maxBodyBytes and counts it; the primary gets it whole', async () => {
    await comparison(proxy);
    const seenBefore = v2.seen.length;
    const big = 'x'.repeat(4096);
    expect((await call(port, { method: 'POST', url: '/big', headers: host, body: big })).body).toBe('{"received":4096}');
    const huge = Buffer.alloc(200_000, 'y');
    const chunked = await call(port, { method: 'POST', url: '/huge', headers: { ...host, 'transfer-encoding': 'chunked' }, body: huge });
    expect(chunked.body).toBe('{"received":200000}');
    const c = await comparison(proxy);
    expect(c).toMatchObject({ requests: 2, mirrored: 0, compared: 0, skipped: { bodyTooLarge: 2 } });
    expect(v2.seen.length).toBe(seenBefore);
  });
});

describe('a slow candidate (2 s) never slows the primary', () => {
  it('keeps the primary latency what it is without mirroring, on both paths', async () => {
    const v1 = await backend(baselineAnswer);
    const slow = await backend((req, res, body) => setTimeout(() => baselineAnswer(req, res, body), 2000));
    const { proxy, port } = await startProxy({});
    try {
      const timed = async (withMirror: boolean) => {
        await proxy.applyRouteTable(table(withMirror ? 2 : 1, { v1: [v1.address], v2: [withMirror ? slow.address : v1.address] }));
        const ms: number[] = [];
        for (let i = 0; i < 10; i++) {
          for (const req of [
            { url: `/reviews/${i + 10}`, headers: host },
            { method: 'POST', url: '/post', headers: host, body: '{"a":1}' },
            { method: 'POST', url: '/chunked', headers: { ...host, 'transfer-encoding': 'chunked' }, body: '{"a":1}' },
          ]) {
            const t0 = performance.now();
            expect((await call(port, req)).status).toBe(200);
            ms.push(performance.now() - t0);
          }
        }
        return ms.sort((a, b) => a - b);
      };
      const off = await timed(false);
      await comparison(proxy);
      const on = await timed(true);
      const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
      const figures = `p50 ${p(off, 0.5).toFixed(1)} -> ${p(on, 0.5).toFixed(1)} ms, max ${p(off, 1).toFixed(1)} -> ${p(on, 1).toFixed(1)} ms`;
      // Had any request waited on its copy, it would have taken 2 s; a loaded machine stays far below that.
      expect(p(on, 1), figures).toBeLessThan(1000);
      expect(p(on, 0.5), figures).toBeLessThan(p(off, 0.5) + 100);
      // The copies did go, and their answers (2 s later) were compared.
      const c = await comparison(proxy);
      expect(c).toMatchObject({ mirrored: 30, compared: 30 });
      const m = new Map<number, number>();
      for (let i = 0; i < c.mirrorLatency.length; i += 2) m.set(c.mirrorLatency[i]!, c.mirrorLatency[i + 1]!);
      // Every mirror answer took 2 s or more.
      expect([...m.entries()].filter(([slot]) => slot >= durationSlot(1999)).reduce((n, [, k]) => n + k, 0)).toBe(30);
    } finally {
      await proxy.close();
      await v1.close();
      await slow.close();
    }
  }, 60_000);
});

describe('a candidate that misbehaves costs the primary nothing and leaks nothing', () => {
  let v1: Backend;
  beforeAll(async () => {
    v1 = await backend(baselineAnswer);
  });
  afterAll(async () => {
    await v1?.close();
  });

  async function run(candidate: string, options: MeshProxyOptions, requests = 5) {
    const { proxy, port } = await startProxy(options);
    try {
      await proxy.applyRouteTable(table(1, { v1: [v1.address], v2: [candidate] }));
      for (let i = 0; i < requests; i++) {
        const r = await call(port, {
          method: i % 2 ? 'POST' : 'GET',
          url: '/reviews/7',
          headers: host,
          body: i % 2 ? '{"x":1}' : undefined,
        });
        expect([r.status, JSON.parse(r.body).reviewer ?? JSON.parse(r.body).received]).toEqual([200, i % 2 ? 7 : 'Reviewer1']);
      }
      return await comparison(proxy);
    } finally {
      await proxy.close();
    }
  }

  it('refusing connections: counted as failed copies', async () => {
    const c = await run(`127.0.0.1:${await freePort()}`, {});
    expect(c).toMatchObject({ mirrored: 5, compared: 0, skipped: { mirrorFailed: 5 } });
  });

  it('resetting mid-answer: counted as failed copies', async () => {
    const resetting = await backend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      const c = await run(resetting.address, {});
      expect(c).toMatchObject({ mirrored: 5, compared: 0, skipped: { mirrorFailed: 5 } });
    } finally {
      await resetting.close();
    }
  });

  it('answering a huge body: read to the end but kept only up to the bound, compared by length', async () => {
    const huge = await backend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 'z');
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    });
    try {
      const c = await run(huge.address, {}, 2);
      expect(c).toMatchObject({ mirrored: 2, compared: 2, agree: 0 });
      const d = c.differences.find((x) => x.path === '/reviews/7' && x.kind === 'body')!;
      expect(d.example!.mirror.bodyBytes).toBe(20 * 1024 * 1024);
      expect(d.example!.mirror.body.length).toBeLessThanOrEqual(1024);
      expect([d.field, d.mirror]).toEqual(['$', '(20971520 bytes, over the bound: not parsed)']);
    } finally {
      await huge.close();
    }
  });

  it('never answering: abandoned at the timeout, its connections closed; over the bound, copies are skipped', async () => {
    const silent = await backend(() => undefined);
    try {
      const started = Date.now();
      const c = await run(silent.address, { mirror: { timeoutMs: 800, maxPending: 3 } }, 6);
      // The primaries did not wait: six requests well within one timeout.
      expect(c).toMatchObject({ requests: 6, mirrored: 3, compared: 0, skipped: { mirrorFailed: 3, overloaded: 3 } });
      expect(Date.now() - started).toBeLessThan(10_000);
      await waitFor('the silent candidate’s connections to close', () => silent.sockets.size === 0, 5000);
    } finally {
      await silent.close();
    }
  });
});
