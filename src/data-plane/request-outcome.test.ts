import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../core/index.js';
import { MeshProxy } from './mesh-proxy.js';
import { OutlierDetector } from './outlier-detector.js';
import { silentProxyLogger } from './proxy-logger.js';
import type { RequestRecord } from './request-observer.js';
import { RequestOutcome } from './request-outcome.js';
import { compileSnapshot } from './route-snapshot.js';
import { UpstreamPools } from './upstream-pools.js';
import { call, freePort, NO_OUTLIER_DETECTION, routeTable, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';

/**
 * One request outcome on every path: the same failure through the fast path and through node:http + undici (and,
 * where it applies, the upgrade tunnel) gives the same status, body, x-canary-error, retry and telemetry record.
 */

interface Path {
  name: string;
  proxy: MeshProxy;
  port: number;
  records: RequestRecord[];
}

const paths: Path[] = [];
const closers: Array<() => Promise<void>> = [];
let good: TestUpstream;
let dead: string;
let revision = 0;
const all: Rule[] = [{ route: [{ version: 'v1', weight: 100 }] }];

beforeAll(async () => {
  good = await startUpstream('good');
  closers.push(() => good.close());
  dead = `127.0.0.1:${await freePort()}`;
  for (const [name, fastPath] of [
    ['fast path', true],
    ['node:http', false],
  ] as const) {
    const records: RequestRecord[] = [];
    const proxy = new MeshProxy({
      logger: silentProxyLogger,
      fastPath,
      upstreamTimeoutMs: 400,
      observer: { onRequest: (r) => records.push(r) },
    });
    const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
    paths.push({ name, proxy, port, records });
  }
});

afterAll(async () => {
  for (const p of paths) await p.proxy.close();
  for (const close of closers) await close();
});

/** Routes `reviews` v1 to `endpoints` on both proxies (outlier detection off: these are single failures). */
async function route(endpoints: Array<TestUpstream | string>): Promise<void> {
  const table = routeTable(++revision, [
    { name: 'reviews', versions: { v1: endpoints }, rules: all, outlierDetection: NO_OUTLIER_DETECTION },
  ]);
  for (const p of paths) await p.proxy.applyRouteTable(table);
}

/** What a user and telemetry see of one request, without what differs by nature (time, ports). */
async function outcomeOf(p: Path, options: Parameters<typeof call>[1]) {
  p.records.length = 0;
  const r = await call(p.port, { ...options, headers: { host: 'reviews', ...options?.headers } });
  const deadline = Date.now() + 5000;
  while (p.records.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  expect(p.records, p.name).toHaveLength(1);
  const { startTime: _s, durationMs: _d, peerAddress, ...record } = p.records[0]!;
  return {
    status: r.status,
    error: r.headers['x-canary-error'],
    body: r.body,
    record: { ...record, peerAddress: peerAddress.length > 0 },
  };
}

/** The same request through both paths: asserts both outcomes are equal and returns one. */
async function samePaths(options: Parameters<typeof call>[1]) {
  const [fast, node] = [await outcomeOf(paths[0]!, options), await outcomeOf(paths[1]!, options)];
  expect(fast).toEqual(node);
  return fast;
}

describe('the same failure through the fast path and node:http gives the same outcome', () => {
  it('a refused connection on the only endpoint: 502 upstream-connect-failure, not retried', async () => {
    await route([dead]);
    for (const method of ['GET', 'POST']) {
      const o = await samePaths({ method, ...(method === 'POST' ? { body: 'abc' } : {}) });
      expect(o.status).toBe(502);
      expect(o.error).toBe('upstream-connect-failure');
      expect(o.body).toBe(`upstream connect failure: reviews version v1 at ${dead}: ECONNREFUSED\n`);
      expect(o.record).toMatchObject({
        method,
        status: 502,
        upstreamAddress: dead,
        bytesIn: method === 'POST' ? 3 : 0,
        flags: { noRoute: false, upstreamFailure: true, retried: false, mirrored: false },
      });
    }
  });

  it('a refused connection with another endpoint: a GET is retried there, a POST is not', async () => {
    await route([dead, good]);
    // Round-robin starts on the dead endpoint on both proxies (they saw the same tables).
    const get = await samePaths({ method: 'GET' });
    expect([get.status, get.body]).toEqual([200, 'good']);
    expect(get.record).toMatchObject({ upstreamAddress: good.address, flags: { retried: true, upstreamFailure: false } });
    await samePaths({ method: 'GET' }); // the good one's turn
    const post = await samePaths({ method: 'POST', body: 'x' });
    expect([post.status, post.error]).toEqual([502, 'upstream-connect-failure']);
    expect(post.record.flags).toMatchObject({ retried: false, upstreamFailure: true });
  });

  it('no answer within the upstream timeout: 504 upstream-timeout naming the timeout, not retried on the only endpoint', async () => {
    const silent = await rawUpstream(() => undefined);
    await route([silent.address]);
    const o = await samePaths({ method: 'GET' });
    expect([o.status, o.error]).toEqual([504, 'upstream-timeout']);
    expect(o.body).toBe(`upstream timeout: reviews version v1 at ${silent.address} did not answer within 400 ms\n`);
    expect(o.record.flags).toMatchObject({ retried: false, upstreamFailure: true });
  });

  it('a reused keep-alive connection reset before any byte: retried once on a fresh connection to the same endpoint', async () => {
    // Answers the first request of each connection with keep-alive, then resets the connection when the next comes:
    // the race of an upstream's keep-alive timeout against a proxy reusing the connection.
    const flaky = await rawUpstream((socket, n) => {
      if (n === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh');
      else socket.resetAndDestroy();
    });
    await route([flaky.address]);
    await samePaths({ method: 'GET' }); // opens the connection each proxy will reuse
    const o = await samePaths({ method: 'GET' });
    expect([o.status, o.body]).toEqual([200, 'fresh']);
    expect(o.record.flags).toMatchObject({ retried: true, upstreamFailure: false });
  });

  it('a connection reset on every attempt: a GET is retried once then answered 502, a POST is not retried', async () => {
    const resetting = await rawUpstream((socket) => socket.resetAndDestroy());
    await route([resetting.address]);
    const get = await samePaths({ method: 'GET' });
    expect([get.status, get.error]).toEqual([502, 'upstream-failure']);
    expect(get.body).toBe(`upstream failure: reviews version v1 at ${resetting.address} failed before responding: ECONNRESET\n`);
    expect(get.record.flags).toMatchObject({ retried: true, upstreamFailure: true });
    const post = await samePaths({ method: 'POST', body: 'x' });
    expect([post.status, post.body]).toEqual([502, get.body]);
    expect(post.record.flags).toMatchObject({ retried: false, upstreamFailure: true });
  });

  it('an upgrade to an endpoint that refuses connections gets the same status, error and words', async () => {
    await route([dead]);
    const plain = await samePaths({ method: 'GET' });
    const upgrade = await new Promise<{ status: number; error: unknown; body: string }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: paths[0]!.port,
        headers: { host: 'reviews', connection: 'upgrade', upgrade: 'websocket' },
        agent: false,
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-canary-error'], body }));
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(upgrade).toEqual({ status: plain.status, error: plain.error, body: plain.body });
  });
});

/** A raw TCP upstream: `onRequest(socket, n)` for the n-th request head on each connection. */
async function rawUpstream(onRequest: (socket: Socket, n: number) => void): Promise<{ address: string }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let n = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        onRequest(socket, ++n);
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the one retry decision', () => {
  const version = (addresses: string[]) => {
    const snap = compileSnapshot(
      routeTable(1, [{ name: 'reviews', versions: { v1: addresses }, rules: all }]),
      new UpstreamPools({ connectionsPerEndpoint: 1, connectTimeoutMs: 1000 }),
      new OutlierDetector(),
    );
    return snap.services.get('reviews')!.rules[0]!.picker.next()!;
  };

  it('retries a reset (ECONNRESET, EPIPE, a closed socket) on the only endpoint, a connect failure or timeout not', () => {
    const v = version(['127.0.0.1:1']);
    const only = v.endpoints[0]!;
    for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])
      expect(new RequestOutcome().retryTarget(v, only, code, 'GET', false)).toBe(only);
    for (const code of ['ECONNREFUSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
      expect(new RequestOutcome().retryTarget(v, only, code, 'GET', false)).toBeUndefined();
  });

  it('goes to the next endpoint whatever the failure, once, for bodiless idempotent requests only', () => {
    const v = version(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
    const [a, b] = v.endpoints;
    const outcome = new RequestOutcome();
    expect(outcome.retryTarget(v, a!, 'UND_ERR_HEADERS_TIMEOUT', 'GET', false)).toBe(b);
    expect(outcome.retried).toBe(true);
    expect(outcome.retryTarget(v, b!, 'ECONNREFUSED', 'GET', false)).toBeUndefined();
    for (const [method, hasBody] of [
      ['POST', false],
      ['PATCH', false],
      ['PUT', true],
    ] as const)
      expect(new RequestOutcome().retryTarget(v, a!, 'ECONNREFUSED', method, hasBody)).toBeUndefined();
    // A pool closed by a newer route table says nothing about the request: the proxy does not retry it.
    expect(new RequestOutcome().retryTarget(v, a!, 'UND_ERR_CLOSED', 'GET', false)).toBeUndefined();
  });
});
