import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionSweep } from './connection-sweep.js';
import { FastConnection, type FastPathHost } from './fast-connection.js';
import { MeshProxy } from './mesh-proxy.js';
import { silentProxyLogger } from './proxy-logger.js';
import { DEFAULT_PROXY_LIMITS } from './proxy-settings.js';
import type { RequestRecord } from './request-observer.js';
import { routeTable, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { waitFor } from '../../test/support/wait-for.js';

// The fast path at the wire level: raw client sockets, so that pipelining, framing and the hand-over to node:http
// are exercised exactly as a client would see them.

let proxy: MeshProxy;
let port: number;
let upstream: TestUpstream;
let rawUpstream: NetServer;
const records: RequestRecord[] = [];

/** A 3 MiB body whose every byte depends on its offset, so a byte lost, repeated or overwritten shows. */
const BIG = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7 + (i >> 12)) % 251));

/** An upstream that answers whatever bytes the test put in `rawAnswers` for the path (one answer per request). */
const rawAnswers = new Map<string, string>();

beforeAll(async () => {
  upstream = await startUpstream('v1', (req, res) => {
    if (req.url === '/big' || req.url === '/big-chunked') {
      // Written in uneven pieces, so reads on the proxy's side end at arbitrary offsets.
      if (req.url === '/big') res.writeHead(200, { 'content-length': String(BIG.length) });
      else res.writeHead(200);
      for (let at = 0; at < BIG.length; at += 70_001) res.write(BIG.subarray(at, Math.min(BIG.length, at + 70_001)));
      res.end();
      return;
    }
    if (req.url === '/upgrade') {
      res.writeHead(200, { 'x-upgrade': String(req.headers.upgrade ?? 'none') });
      res.end('plain');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      res.writeHead(200, { 'content-type': 'text/plain', 'x-method': req.method ?? '' });
      res.end(`${req.method} ${req.url} ${body}`);
    });
  });
  rawUpstream = createNetServer((socket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const path = buf.slice(0, end).split(' ')[1] ?? '/';
        buf = buf.slice(end + 4);
        const answer = rawAnswers.get(path) ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';
        socket.write(answer);
        if (answer.includes('connection: close') || !/content-length|chunked/i.test(answer)) socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => rawUpstream.listen(0, '127.0.0.1', resolve));
  const rawAddress = `127.0.0.1:${(rawUpstream.address() as { port: number }).port}`;
  proxy = new MeshProxy({ logger: silentProxyLogger, observer: { onRequest: (r) => records.push(r) } });
  port = (await proxy.listenIngress('127.0.0.1', 0)).port;
  await proxy.applyRouteTable(
    routeTable(1, [
      { name: 'app', versions: { v1: [upstream] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] },
      { name: 'raw', versions: { v1: [rawAddress] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] },
    ]),
  );
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
  await new Promise<void>((resolve) => rawUpstream.close(() => resolve()));
});

/** Opens a raw connection to the proxy; `read(n)` waits until n complete responses (by framing) arrived. */
async function open(): Promise<{ socket: Socket; received: () => string; waitFor: (text: string | RegExp) => Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = '';
  socket.on('data', (d) => (data += d.toString('latin1')));
  const seen = (text: string | RegExp): boolean => (typeof text === 'string' ? data.includes(text) : text.test(data));
  return {
    socket,
    received: () => data,
    waitFor: (text) =>
      waitFor(`${String(text)} on the connection`, () => seen(text) && data).catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(data)}`);
      }),
  };
}

describe('the HTTP/1.1 fast path', () => {
  it('answers pipelined requests in order on one connection, with bodies', async () => {
    const c = await open();
    c.socket.write(
      'GET /a HTTP/1.1\r\nhost: app\r\n\r\n' +
        'POST /b HTTP/1.1\r\nhost: app\r\ncontent-length: 5\r\n\r\nhello' +
        'HEAD /c HTTP/1.1\r\nhost: app\r\n\r\n' +
        'GET /d HTTP/1.1\r\nhost: app\r\n\r\n',
    );
    const text = await c.waitFor('GET /d ');
    c.socket.destroy();
    const a = text.indexOf('GET /a ');
    const b = text.indexOf('POST /b hello');
    const d = text.indexOf('GET /d ');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    expect(d).toBeGreaterThan(b);
    // The HEAD answer has headers only (x-method: HEAD), and the next answer follows it directly.
    expect(text).toMatch(/x-method: HEAD\r\n[\s\S]*?\r\n\r\nHTTP\/1\.1 200/);
  });

  it('hands a connection to node:http mid-way (Upgrade, chunked upload) and keeps answering on it', async () => {
    const c = await open();
    c.socket.write('GET /first HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('GET /first ');
    c.socket.write('POST /chunked HTTP/1.1\r\nhost: app\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    await c.waitFor('POST /chunked abc');
    c.socket.write('GET /after HTTP/1.1\r\nhost: app\r\n\r\n');
    await c.waitFor('GET /after ');
    // An upgrade goes upstream with its Upgrade header (upgrade-tunnel.ts); this upstream does not switch
    // protocols, so its answer is relayed and the connection closes.
    const closed = new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
    c.socket.write('GET /upgrade HTTP/1.1\r\nhost: app\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    const text = await c.waitFor(/x-upgrade: \w+[\s\S]*plain/);
    expect(text).toContain('x-upgrade: websocket');
    await closed;
  });

  it('answers Expect: 100-continue through node:http', async () => {
    const c = await open();
    c.socket.write('POST /e HTTP/1.1\r\nhost: app\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n');
    await c.waitFor('100 Continue');
    c.socket.write('hi');
    await c.waitFor('POST /e hi');
    c.socket.destroy();
  });

  it('relays chunked answers with their trailers, and answers without framing until the upstream closes', async () => {
    rawAnswers.set(
      '/chunks',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\nx-sum: 9\r\n\r\n',
    );
    rawAnswers.set('/eof', 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end');
    const c = await open();
    c.socket.write('GET /chunks HTTP/1.1\r\nhost: raw\r\n\r\n');
    const text = await c.waitFor('x-sum: 9\r\n\r\n');
    expect(text).toContain('transfer-encoding: chunked\r\n');
    expect(text).toContain('4\r\nabcd\r\n2\r\nef\r\n0\r\n');
    c.socket.write('GET /eof HTTP/1.1\r\nhost: raw\r\n\r\n');
    await c.waitFor('until the end');
    // No framing: the end of the body is the end of the connection, so the proxy closes the client's too.
    await waitFor('the proxy to close the connection', () => c.socket.closed);
    expect(c.received()).toContain('connection: close\r\n');
  });

  it('drops hop-by-hop response headers and those that Connection names', async () => {
    rawAnswers.set(
      '/hop',
      'HTTP/1.1 200 OK\r\nconnection: keep-alive, x-private\r\nkeep-alive: timeout=5\r\nx-private: 1\r\nx-kept: 2\r\ncontent-length: 2\r\n\r\nok',
    );
    const c = await open();
    c.socket.write('GET /hop HTTP/1.1\r\nhost: raw\r\n\r\n');
    const text = await c.waitFor('\r\n\r\nok');
    c.socket.destroy();
    expect(text).toContain('x-kept: 2\r\n');
    expect(text.toLowerCase()).not.toContain('x-private');
    expect(text.toLowerCase()).not.toContain('keep-alive: timeout');
  });

  it('closes after the answer when the client asks, and reports every request', async () => {
    const before = records.length;
    const c = await open();
    c.socket.write('GET /bye HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n');
    await new Promise<void>((resolve) => c.socket.once('close', () => resolve()));
    expect(c.received()).toContain('GET /bye ');
    expect(c.received()).toContain('connection: close\r\n');
    expect(records.slice(before)).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/bye',
        status: 200,
        destination: expect.objectContaining({ service: 'app', version: 'v1' }),
      }),
    ]);
  });

  it('puts together requests whose head, body and pipelined successor arrive in separate reads', async () => {
    const c = await open();
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 30));
    c.socket.write('POST /split HTTP/1.1\r\nhost: app\r\ncontent-le');
    await pause();
    c.socket.write('ngth: 10\r\n\r\nhello');
    await pause();
    c.socket.write('worldGET /second HTTP/1.1\r\nho');
    await pause();
    c.socket.write('st: app\r\n\r\n');
    const text = await c.waitFor('GET /second ');
    c.socket.destroy();
    expect(text).toContain('POST /split helloworld');
  });

  it('relays large answers byte for byte to a client that reads slowly, then serves the next request', async () => {
    for (const path of ['/big', '/big-chunked']) {
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const chunks: Buffer[] = [];
      let pauses = 0;
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        // Stall now and then, so the proxy's client socket fills up and the upstream has to wait.
        if (pauses < 5 && chunks.length % 3 === 0) {
          pauses++;
          socket.pause();
          setTimeout(() => socket.resume(), 50);
        }
      });
      socket.write(`GET ${path} HTTP/1.1\r\nhost: app\r\n\r\nGET /after HTTP/1.1\r\nhost: app\r\n\r\n`);
      const text = (): string => Buffer.concat(chunks).toString('latin1');
      await waitFor(`the answer to GET /after, after ${path}`, () => text().includes('GET /after '));
      socket.destroy();
      const all = Buffer.concat(chunks);
      const bodyStart = all.indexOf('\r\n\r\n') + 4;
      const next = all.indexOf('HTTP/1.1 200', bodyStart);
      let body = all.subarray(bodyStart, next);
      if (path === '/big-chunked') {
        // Undo the chunked coding the upstream used (the proxy relays it as it is).
        const parts: Buffer[] = [];
        let at = 0;
        for (;;) {
          const lineEnd = body.indexOf('\r\n', at);
          const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
          if (size === 0) break;
          parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
          at = lineEnd + 2 + size + 2;
        }
        body = Buffer.concat(parts);
      }
      expect(pauses).toBeGreaterThan(0);
      expect(body.length).toBe(BIG.length);
      expect(body.equals(BIG)).toBe(true);
      expect(all.subarray(next).toString('latin1')).toContain('GET /after ');
    }
  });

  it('sends a malformed head to node:http, which refuses it with 400', async () => {
    const c = await open();
    c.socket.write('GET /x HTTP/1.1\r\nhost: app\r\nbad header\r\n\r\n');
    await c.waitFor('400 Bad Request');
    c.socket.destroy();
  });
});

/** A sweep with the default limits but this idle timeout. */
function sweepWithIdle(idleTimeoutMs: number): ConnectionSweep {
  return new ConnectionSweep({ ...DEFAULT_PROXY_LIMITS, idleTimeoutMs });
}

/** A host that answers every request itself: 404 with `body`. */
function answering404(body: string): FastPathHost {
  return {
    settings: { upstreamTimeoutMs: 1000, connectTimeoutMs: 5000, exposeVersionHeader: false, observer: null, limits: DEFAULT_PROXY_LIMITS },
    routeFast: (conn) => {
      conn.answer(404, 'no-route', body);
      conn.done();
    },
    handOff: (socket) => socket.destroy(),
  };
}

/** A loopback server whose every connection is a FastConnection of `host` (from the ingress), on a free port. */
async function listenFast(host: FastPathHost, sweep: ConnectionSweep): Promise<{ server: NetServer; serverPort: number }> {
  const server = createNetServer((socket) => new FastConnection(host, socket, { source: null, ingress: true }, sweep));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, serverPort: (server.address() as { port: number }).port };
}

describe('idle keep-alive connections', () => {
  it('are closed after the keep-alive timeout, while connections in use stay open', async () => {
    // A connection whose requests the host answers itself (404), with a 1.5 s keep-alive timeout.
    const { server, serverPort } = await listenFast(answering404('no route'), sweepWithIdle(1500));
    const dial = async (): Promise<{ socket: Socket; closedAt: Promise<number> }> => {
      const socket = connect(serverPort, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.on('data', () => undefined);
      const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
      return { socket, closedAt };
    };
    try {
      const started = performance.now();
      const idle = await dial();
      const busy = await dial();
      idle.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      const keepBusy = setInterval(() => busy.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'), 300);
      const closed = await idle.closedAt;
      clearInterval(keepBusy);
      // Idle for 1.5 s, give or take one sweep.
      expect(closed - started).toBeGreaterThanOrEqual(1400);
      expect(closed - started).toBeLessThan(3600);
      expect(busy.socket.destroyed).toBe(false);
      busy.socket.destroy();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('are not idle while an answer is still queued for a slow reader', async () => {
    // The answer (about 4 MB) is queued in full at once; the client reads none of it for longer than the timeout.
    const message = 'x'.repeat(4 * 2 ** 20);
    const sweep = sweepWithIdle(1000);
    const { server, serverPort } = await listenFast(answering404(message), sweep);
    try {
      const socket = connect(serverPort, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.pause();
      // Count the sweeps from here: the answer waits unread for longer than the idle timeout, in the sweep's own
      // terms (its limit in sweeps, plus one), so an idle cut would have happened by then.
      let sweeps = 0;
      const counter = { sweep: () => void sweeps++ };
      sweep.add(counter);
      socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      await waitFor('the idle timeout and one more sweep to pass', () => sweeps > sweep.idleSweeps + 1);
      sweep.delete(counter);
      const chunks: Buffer[] = [];
      const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        const headEnd = all.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(all.subarray(0, Math.max(0, headEnd)).toString('latin1'));
        if (headEnd !== -1 && length && all.length - headEnd - 4 >= Number(length[1])) socket.destroy();
      });
      socket.resume();
      await ended;
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(all.subarray(0, headEnd).toString('latin1'))![1]);
      expect(length).toBeGreaterThan(message.length);
      expect(all.length - headEnd - 4).toBe(length);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
