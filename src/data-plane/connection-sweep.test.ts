import type { ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshProxy, type MeshProxyOptions } from './mesh-proxy.js';
import { silentProxyLogger } from './proxy-logger.js';
import type { ProxyLimits } from './proxy-settings.js';
import type { RequestRecord } from './request-observer.js';
import { routeTable, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { waitFor } from '../../test/support/wait-for.js';

// The proxy's limits and timeouts at the wire level (docs/proxy.md, "Limits and timeouts"): raw client sockets
// that trickle, stall, stop reading or just sit there, with timeouts set small so the tests run in seconds.

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Writes up to 256 MB in 64 KB chunks with back-pressure until the client goes away: an answer nobody finishes reading. */
function endless(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, 120);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(256 * 1024 * 1024) });
  let left = 4096;
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      left--;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (left === 0) res.end();
  };
  pump();
}

let upstream: TestUpstream;

async function start(limits: Partial<ProxyLimits>, options: MeshProxyOptions = {}): Promise<{ proxy: MeshProxy; port: number }> {
  upstream = await startUpstream('v1', (req, res) => {
    if (req.url === '/endless') {
      req.resume();
      endless(res);
      return;
    }
    if (req.url?.startsWith('/slow')) {
      const timer = setTimeout(() => res.end('slow'), 3000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    req.resume();
    req.on('end', () => res.end(`ok ${req.url}`));
  });
  const proxy = new MeshProxy({ logger: silentProxyLogger, limits, ...options });
  const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
  await proxy.applyRouteTable(
    routeTable(1, [{ name: 'app', versions: { v1: [upstream] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] }]),
  );
  cleanup.push(
    () => upstream.close(),
    () => proxy.close(),
  );
  return { proxy, port };
}

interface RawClient {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  waitFor: (text: string | RegExp, ms?: number) => Promise<string>;
}

async function open(port: number): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  cleanup.push(() => void socket.destroy());
  let data = '';
  socket.on('data', (d) => (data += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const waitFor = (text: string | RegExp, ms = 5000): Promise<string> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        socket.off('data', check);
        reject(new Error(`timed out waiting for ${String(text)}; got ${JSON.stringify(data.slice(0, 300))}`));
      }, ms);
      function check(): void {
        if (typeof text === 'string' ? data.includes(text) : text.test(data)) {
          clearTimeout(deadline);
          socket.off('data', check);
          resolve(data);
        }
      }
      socket.on('data', check);
      check();
    });
  return { socket, received: () => data, closed, waitFor };
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('header timeout', () => {
  it('answers 408 and closes a connection whose head trickles in a byte at a time', async () => {
    const { port } = await start({ headerTimeoutMs: 400 });
    const c = await open(port);
    const head = 'GET /trickle HTTP/1.1\r\nhost: app\r\nx-filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n';
    const started = Date.now();
    let sent = 0;
    // A byte every 50 ms: each one would have reset an idle timer; the head is never finished.
    const trickle = setInterval(() => {
      if (sent < head.length && !c.socket.destroyed) c.socket.write(head[sent++]!);
    }, 50);
    cleanup.push(() => clearInterval(trickle));
    const text = await c.waitFor('\r\n\r\nrequest head not received', 4000);
    expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(text).toContain('x-canary-error: header-timeout');
    expect(text).toContain('connection: close');
    expect(await within(c.closed, 3000)).toBe(true);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(3000);
    expect(sent).toBeLessThan(head.length);
    expect(upstream.requests).toHaveLength(0);
  });

  it('times the next head of a keep-alive connection from its first byte, not from the last request', async () => {
    const { port } = await start({ headerTimeoutMs: 400, idleTimeoutMs: 10_000 });
    const c = await open(port);
    c.socket.write('GET /first HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('ok /first');
    await sleep(700); // idle longer than the header timeout: still open (the idle timeout applies between requests)
    expect(c.socket.destroyed).toBe(false);
    c.socket.write('GET /second HTTP/1.1\r\nhost: app\r\n');
    await c.waitFor('HTTP/1.1 408', 4000);
    expect(await within(c.closed, 3000)).toBe(true);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/first']);
  });

  it('holds on a connection node:http carries too (handed over by a chunked upload)', async () => {
    const { port } = await start({ headerTimeoutMs: 400 });
    const c = await open(port);
    c.socket.write('POST /upload HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n');
    await c.waitFor('ok /upload');
    const head = 'GET /next HTTP/1.1\r\nhost: app\r\nx-filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n';
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < head.length && !c.socket.destroyed) c.socket.write(head[sent++]!);
    }, 50);
    cleanup.push(() => clearInterval(trickle));
    await c.waitFor('HTTP/1.1 408', 4000);
    expect(await within(c.closed, 3000)).toBe(true);
    expect(sent).toBeLessThan(head.length);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/upload']);
  });

  it('closes a connection that sends nothing at all, without an answer', async () => {
    const { port } = await start({ headerTimeoutMs: 300 });
    const c = await open(port);
    expect(await within(c.closed, 3000)).toBe(true);
    expect(c.received()).toBe('');
  });

  it('leaves a head sent in pieces within the timeout alone', async () => {
    const { port } = await start({ headerTimeoutMs: 1500 });
    const c = await open(port);
    c.socket.write('GET /pieces HTTP/1.1\r\n');
    await sleep(300);
    c.socket.write('host: app\r\n\r\n');
    await c.waitFor('ok /pieces');
  });
});

describe('idle timeout', () => {
  it('closes a keep-alive connection idle past it, and not before', async () => {
    const { port } = await start({ idleTimeoutMs: 800 });
    const c = await open(port);
    c.socket.write('GET /a HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('ok /a');
    const answered = Date.now();
    await c.closed;
    const idle = Date.now() - answered;
    expect(idle).toBeGreaterThanOrEqual(500);
    expect(idle).toBeLessThan(4000);
  });
});

describe('send timeout', () => {
  it('cuts a client that stopped reading, so its upstream connection serves the next request (pool of 1)', async () => {
    const { port } = await start({ sendTimeoutMs: 400, queueTimeoutMs: 30_000 }, { connectionsPerEndpoint: 1 });
    const stuck = await open(port);
    stuck.socket.write('GET /endless HTTP/1.1\r\nhost: app\r\n\r\n');
    await stuck.waitFor('HTTP/1.1 200');
    stuck.socket.pause(); // reads nothing more: the buffers fill, the proxy pauses the upstream connection
    await sleep(200);
    const next = await open(port);
    next.socket.write('GET /next HTTP/1.1\r\nhost: app\r\n\r\n');
    const text = await next.waitFor('ok /next', 6000);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    // The stuck client was cut: reading again, it finds the end of the connection long before the end of the answer.
    stuck.socket.resume();
    expect(await within(stuck.closed, 5000)).toBe(true);
    expect(stuck.received().length).toBeLessThan(128 * 1024 * 1024);
  });

  it('cuts a non-reading client on the node:http path too (its undici connection is freed)', async () => {
    const { port } = await start({ sendTimeoutMs: 400, queueTimeoutMs: 30_000 }, { connectionsPerEndpoint: 1 });
    // A chunked request body sends the connection to node:http and the request over undici's pool.
    const chunked = (path: string) => `POST ${path} HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`;
    const stuck = await open(port);
    stuck.socket.write(chunked('/endless'));
    await stuck.waitFor('HTTP/1.1 200');
    stuck.socket.pause();
    await sleep(200);
    const next = await open(port);
    next.socket.write(chunked('/next'));
    const text = await next.waitFor('ok /next', 6000);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    // The stuck client was cut: reading again, it finds the end of the connection long before the end of the answer.
    stuck.socket.resume();
    expect(await within(stuck.closed, 5000)).toBe(true);
    expect(stuck.received().length).toBeLessThan(128 * 1024 * 1024);
  });

  it('keeps a client that reads slowly but steadily', async () => {
    // Pauses of 150 ms against a 1 s timeout: wide enough that a loaded machine stretching a pause does not reach it.
    const { port } = await start({ sendTimeoutMs: 1000 }, { connectionsPerEndpoint: 1 });
    const c = await open(port);
    c.socket.write('GET /endless HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('HTTP/1.1 200');
    // Read in short bursts with pauses shorter than the timeout, for over three times the timeout.
    let got = 0;
    c.socket.on('data', (d: Buffer) => {
      got += d.length;
    });
    for (let i = 0; i < 20; i++) {
      c.socket.pause();
      await sleep(150);
      c.socket.resume();
      await sleep(20);
    }
    expect(c.socket.destroyed).toBe(false);
    expect(got).toBeGreaterThan(0);
  });
});

describe('queue timeout', () => {
  it('answers 503 queue-timeout to a request that waited for a free upstream connection too long', async () => {
    const records: RequestRecord[] = [];
    const { port } = await start({ queueTimeoutMs: 400 }, { connectionsPerEndpoint: 2, observer: { onRequest: (r) => records.push(r) } });
    const a = await open(port);
    const b = await open(port);
    a.socket.write('GET /slow HTTP/1.1\r\nhost: app\r\n\r\n');
    b.socket.write('GET /slow HTTP/1.1\r\nhost: app\r\n\r\n');
    await sleep(200);
    const c = await open(port);
    const started = Date.now();
    c.socket.write('GET /third HTTP/1.1\r\nhost: app\r\n\r\n');
    const text = await c.waitFor(/queue timeout[^\n]*\n/, 2500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(text).toContain('x-canary-error: queue-timeout');
    expect(text).toContain('no free connection to app version v1');
    // Reported with Envoy's upstream-overflow flag (UO in metrics and spans).
    expect(records.find((r) => r.status === 503)?.flags).toMatchObject({ upstreamFailure: true, upstreamOverflow: true });
    // The connection stays usable, and the queued request never reached the upstream.
    expect(upstream.requests.map((r) => r.url)).toEqual(['/slow', '/slow']);
    await a.waitFor('slow', 5000);
    c.socket.write('GET /after HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('ok /after');
  });
});

describe('queue timeout on the node:http path', () => {
  it('answers 503 queue-timeout to a handed-over request waiting for undici too long', async () => {
    const { port } = await start({ queueTimeoutMs: 400 }, { connectionsPerEndpoint: 1 });
    // Chunked request bodies send both requests through node:http and undici's pool (of one connection).
    const chunked = (path: string) => `POST ${path} HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`;
    const a = await open(port);
    a.socket.write(chunked('/slow'));
    await sleep(200);
    const c = await open(port);
    const started = Date.now();
    c.socket.write(chunked('/queued'));
    const text = await c.waitFor(/queue timeout[^\n]*\n/, 2500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(text.toLowerCase()).toContain('x-canary-error: queue-timeout');
    await a.waitFor('slow', 5000);
    // Given a connection at last, the abandoned request is dropped, not sent; the connection still serves.
    c.socket.write(chunked('/after'));
    await c.waitFor('ok /after');
    expect(upstream.requests.map((r) => r.url)).toEqual(['/slow', '/after']);
  });
});

describe('connections', () => {
  it('serves a normal request beside 1,000 idle connections', async () => {
    const { proxy, port } = await start({});
    const idle = await Promise.all(Array.from({ length: 1000 }, () => open(port)));
    const c = await open(port);
    c.socket.write('GET /normal HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('ok /normal');
    // Every one accepted (a client's connect can complete before the proxy's accept runs).
    await waitFor('1001 connections open', () => proxy.openConnections === 1001);
    expect(idle.every((i) => !i.socket.destroyed)).toBe(true);
  }, 30_000);

  it('refuses connections beyond the cap with 503, and keeps serving one already open', async () => {
    const { proxy, port } = await start({ maxConnections: 100 });
    const kept = await open(port);
    kept.socket.write('GET /before HTTP/1.1\r\nhost: app\r\n\r\n');
    await kept.waitFor('ok /before');
    const flood = await Promise.all(Array.from({ length: 1000 }, () => open(port)));
    const refusedOnes = () => flood.filter((f) => f.received().startsWith('HTTP/1.1 503'));
    await waitFor('900 connections refused', () => refusedOnes().length >= 900);
    expect(proxy.openConnections).toBeLessThanOrEqual(100);
    const refused = refusedOnes();
    expect(refused[0]!.received()).toContain('x-canary-error: connection-limit');
    kept.socket.write('GET /after HTTP/1.1\r\nhost: app\r\n\r\n');
    await kept.waitFor('ok /after');
    // Once connections close, new ones are taken again.
    for (const f of flood) f.socket.destroy();
    await waitFor('one connection left open', () => proxy.openConnections === 1);
    const late = await open(port);
    late.socket.write('GET /late HTTP/1.1\r\nhost: app\r\n\r\n');
    await late.waitFor('ok /late');
  }, 30_000);
});

describe('settings', () => {
  it('refuses a limit out of range, naming it', () => {
    expect(() => new MeshProxy({ limits: { headerTimeoutMs: 0 } })).toThrow(/limits\.headerTimeoutMs: must be a whole number of ms from 1/);
    expect(() => new MeshProxy({ limits: { maxTargetBytes: 20_000, maxHeadBytes: 16_384 } })).toThrow(
      /limits\.maxTargetBytes: must not exceed maxHeadBytes/,
    );
  });

  it("node:net still exposes libuv's write queue size on a TCP handle (the send timeout's progress measure)", async () => {
    const server = createNetServer((s) => s.pause());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const handle = (socket as unknown as { _handle: { writeQueueSize?: unknown } })._handle;
    expect(typeof handle.writeQueueSize).toBe('number');
    socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
