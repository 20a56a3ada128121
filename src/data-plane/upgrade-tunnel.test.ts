import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../core/index.js';
import { MeshProxy } from './mesh-proxy.js';
import { silentProxyLogger } from './proxy-logger.js';
import type { RequestRecord } from './request-observer.js';
import { freePort, routeTable, type ServiceFixture } from '../../test/support/test-upstreams.js';

// A minimal WebSocket (RFC 6455) on both ends, over raw sockets: text and close frames, payloads under 64 KiB.

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptKey = (key: string): string =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

const TEXT = 0x1;
const CLOSE = 0x8;

function encodeFrame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]);
  if (masked) head[1]! |= 0x80;
  if (!masked) return Buffer.concat([head, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Feeds bytes, yields whole frames (unmasking them). */
class FrameReader {
  private buf = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: ((f: Frame) => void) | null = null;

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      }
      const masked = (b[1]! & 0x80) !== 0;
      const total = at + (masked ? 4 : 0) + len;
      if (b.length < total) return;
      const payload = Buffer.from(b.subarray(total - len, total));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[at + (i % 4)]!;
      this.buf = b.subarray(total);
      const frame = { opcode: b[0]! & 0x0f, payload };
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w(frame);
      } else this.frames.push(frame);
    }
  }

  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

interface WsUpstream {
  name: string;
  address: string;
  server: Server;
  /** Headers of each upgrade request received. */
  upgrades: IncomingHttpHeaders[];
  sockets: Set<Socket>;
  close(): Promise<void>;
}

/**
 * A WebSocket echo server on node:http 'upgrade': answers text frames with `<name>: <text>`, a close frame with
 * a close frame and a FIN, and a FIN with a FIN. `/deny` answers 403 with a body (and leaves the connection open), `/silent` never
 * answers. Plain requests get the name as the body.
 */
async function startWsUpstream(name: string): Promise<WsUpstream> {
  const upgrades: IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    upgrades.push(req.headers);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Like common WebSocket servers: the peer's FIN without a close frame ends the connection.
    socket.on('end', () => socket.end());
    if (req.url?.startsWith('/deny')) {
      socket.write('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nx-why: policy\r\n\r\nno websockets');
      return;
    }
    if (req.url?.startsWith('/silent')) return;
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
    );
    const reader = new FrameReader();
    const loop = async (): Promise<void> => {
      for (;;) {
        const f = await reader.next();
        if (f.opcode === CLOSE) {
          socket.end(encodeFrame(CLOSE, f.payload, false));
          return;
        }
        socket.write(encodeFrame(TEXT, Buffer.from(`${name}: ${f.payload.toString()}`), false));
      }
    };
    void loop();
    if (head.length > 0) reader.push(head);
    socket.on('data', (c: Buffer) => reader.push(c));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    upgrades,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface WsClient {
  status: number;
  /** Response head fields, lower-case names. */
  headers: Record<string, string>;
  /** Body of a non-101 answer (read until the proxy closed the connection). */
  body: string;
  socket: Socket;
  send(text: string): void;
  next(): Promise<Frame>;
  /** Resolves when the proxy closed the connection. */
  closed: Promise<void>;
}

/** Opens a WebSocket through the proxy at `port`; resolves once the answer's head (and for non-101, its body) is in. */
function openWs(port: number, options: { host: string; path?: string; headers?: Record<string, string> }): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const key = randomBytes(16).toString('base64');
    const reader = new FrameReader();
    let buf = Buffer.alloc(0);
    let client: WsClient | null = null;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', reject);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to the upgrade within 4 s'));
    }, 4_000);
    socket.on('data', (chunk: Buffer) => {
      if (client !== null) {
        if (client.status === 101) reader.push(chunk);
        else client.body += chunk.toString();
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      client = {
        status: Number(lines[0]!.split(' ')[1]),
        headers,
        body: '',
        socket,
        send: (text) => socket.write(encodeFrame(TEXT, Buffer.from(text), true)),
        next: () => reader.next(),
        closed,
      };
      if (client.status === 101) {
        if (headers['sec-websocket-accept'] !== acceptKey(key)) reject(new Error('bad Sec-WebSocket-Accept'));
        if (rest.length > 0) reader.push(rest);
        clearTimeout(timer);
        resolve(client);
        return;
      }
      client.body = rest.toString();
      const done = client;
      void closed.then(() => {
        clearTimeout(timer);
        resolve(done);
      });
    });
    const extra = Object.entries(options.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(
      `GET ${options.path ?? '/chat'} HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });
}

/** Sends `text` and returns the echoed answer. */
async function roundTrip(ws: WsClient, text: string): Promise<string> {
  ws.send(text);
  return (await ws.next()).payload.toString();
}

const weights = (w: Record<string, number>): Rule['route'] => Object.entries(w).map(([version, weight]) => ({ version, weight }));

let v1: WsUpstream;
let v2: WsUpstream;
let proxy: MeshProxy;
let port: number;
let revision = 0;
const records: RequestRecord[] = [];
const open: WsClient[] = [];

async function route(rules: Rule[], versions: ServiceFixture['versions'] = { v1: [v1.address], v2: [v2.address] }): Promise<void> {
  await proxy.applyRouteTable(routeTable(++revision, [{ name: 'chat', versions, rules }]));
}

async function ws(options: Parameters<typeof openWs>[1], target = port): Promise<WsClient> {
  const c = await openWs(target, options);
  open.push(c);
  return c;
}

beforeAll(async () => {
  v1 = await startWsUpstream('v1');
  v2 = await startWsUpstream('v2');
  proxy = new MeshProxy({ logger: silentProxyLogger, observer: { onRequest: (r) => records.push(r) }, upstreamTimeoutMs: 500 });
  port = (await proxy.listenIngress('127.0.0.1', 0)).port;
});

afterEach(async () => {
  for (const c of open.splice(0)) c.socket.destroy();
  records.length = 0;
  // No tunnel outlives its client: every upstream connection is gone too.
  await expect.poll(() => v1.sockets.size + v2.sockets.size, { timeout: 2_000 }).toBe(0);
});

afterAll(async () => {
  await proxy.close();
  await v1.close();
  await v2.close();
});

describe('WebSocket through the mesh proxy', () => {
  it('echoes through a tunnel routed by Host, with Upgrade kept and x-forwarded-for added, and reports a 101', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const before = v1.upgrades.length;
    const c = await ws({ host: 'chat.local:8000' });
    expect(c.status).toBe(101);
    expect(c.headers.upgrade).toBe('websocket');
    expect(await roundTrip(c, 'hello')).toBe('v1: hello');
    expect(await roundTrip(c, 'x'.repeat(1000))).toBe(`v1: ${'x'.repeat(1000)}`);
    const seen = v1.upgrades[before]!;
    expect(seen.upgrade).toBe('websocket');
    expect(seen.connection?.toLowerCase()).toBe('upgrade');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-request-id']).toBeTruthy();
    const r = records.find((x) => x.status === 101);
    expect(r?.destination).toMatchObject({ service: 'chat', version: 'v1' });
    expect(r?.path).toBe('/chat');
    expect(r?.upstreamAddress).toBe(v1.address);
  });

  it('passes a close handshake and the half-close on, then both connections end', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const c = await ws({ host: 'chat' });
    expect(await roundTrip(c, 'bye?')).toBe('v1: bye?');
    expect(v1.sockets.size).toBe(1);
    c.socket.write(encodeFrame(CLOSE, Buffer.from([0x03, 0xe8]), true));
    const f = await c.next();
    expect(f.opcode).toBe(CLOSE);
    c.socket.end(); // the client's FIN after the upstream's
    await c.closed;
    await expect.poll(() => v1.sockets.size, { timeout: 2_000 }).toBe(0);
  });

  it("still delivers the upstream's answer after the client half-closed (FIN)", async () => {
    await route([{ route: weights({ v2: 100 }) }]);
    const c = await ws({ host: 'chat' });
    c.send('last words');
    c.socket.end();
    expect((await c.next()).payload.toString()).toBe('v2: last words');
    await c.closed;
  });

  it('ends the upstream connection when the client just goes away', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const c = await ws({ host: 'chat' });
    expect(await roundTrip(c, 'here')).toBe('v1: here');
    c.socket.destroy();
    await expect.poll(() => v1.sockets.size, { timeout: 2_000 }).toBe(0);
  });

  it('sends upgrades to both versions at a 50/50 split', async () => {
    await route([{ route: weights({ v1: 50, v2: 50 }) }]);
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await ws({ host: 'chat' });
      answers.push(await roundTrip(c, 'hi'));
      c.socket.destroy();
    }
    expect(answers.filter((a) => a === 'v1: hi')).toHaveLength(3);
    expect(answers.filter((a) => a === 'v2: hi')).toHaveLength(3);
  });

  it('routes an upgrade by a header-match rule', async () => {
    await route([
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: weights({ v2: 100 }) },
      { route: weights({ v1: 100 }) },
    ]);
    const jason = await ws({ host: 'chat', headers: { 'End-User': 'jason' } });
    const other = await ws({ host: 'chat', headers: { 'End-User': 'bob' } });
    expect(await roundTrip(jason, 'a')).toBe('v2: a');
    expect(await roundTrip(other, 'b')).toBe('v1: b');
  });

  it('keeps an open tunnel on its endpoint when the weights move; new upgrades follow the new table', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const c = await ws({ host: 'chat' });
    expect(await roundTrip(c, 'one')).toBe('v1: one');
    await route([{ route: weights({ v2: 100 }) }]);
    expect(await roundTrip(c, 'two')).toBe('v1: two');
    const fresh = await ws({ host: 'chat' });
    expect(await roundTrip(fresh, 'three')).toBe('v2: three');
    // Even with its endpoint gone from the table, the tunnel stays.
    await route([{ route: weights({ v2: 100 }) }], { v2: [v2.address] });
    expect(await roundTrip(c, 'four')).toBe('v1: four');
  });

  it('answers 404 for an unknown host and closes the connection', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const c = await ws({ host: 'nosuch' });
    expect(c.status).toBe(404);
    expect(c.headers['x-canary-error']).toBe('no-route');
    expect(c.body).toContain('no route for host nosuch');
    expect(records.some((r) => r.status === 404 && r.flags.noRoute)).toBe(true);
  });

  it('answers 502 when the endpoint is down', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    await route([{ route: weights({ v1: 100 }) }], { v1: [down] });
    const c = await ws({ host: 'chat' });
    expect(c.status).toBe(502);
    expect(c.headers['x-canary-error']).toBe('upstream-connect-failure');
    expect(c.body).toContain(`chat version v1 at ${down}: ECONNREFUSED`);
    expect(records.find((r) => r.status === 502)?.flags.upstreamFailure).toBe(true);
  });

  it('tries the next endpoint of the version when the first refuses', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    await route([{ route: weights({ v1: 100 }) }], { v1: [down, v1.address] });
    const c = await ws({ host: 'chat' });
    expect(await roundTrip(c, 'retry')).toBe('v1: retry');
  });

  it('answers 504 when the upstream does not answer the upgrade in time', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const c = await ws({ host: 'chat', path: '/silent' });
    expect(c.status).toBe(504);
    expect(c.headers['x-canary-error']).toBe('upstream-timeout');
  });

  it("relays the upstream's non-101 answer, then closes the connection", async () => {
    await route([{ route: weights({ v2: 100 }) }]);
    const c = await ws({ host: 'chat', path: '/deny' });
    expect(c.status).toBe(403);
    expect(c.headers['x-why']).toBe('policy');
    expect(c.headers.connection).toBe('close');
    expect(c.body).toBe('no websockets');
    expect(records.some((r) => r.status === 403 && r.bytesOut === 13)).toBe(true);
  });

  it('upgrades a keep-alive connection after a plain request on it (fast path hand-over)', async () => {
    await route([{ route: weights({ v1: 100 }) }]);
    const socket = connect({ host: '127.0.0.1', port });
    try {
      socket.setEncoding('latin1');
      let text = '';
      socket.on('data', (c: string) => {
        text += c;
      });
      socket.write('GET /plain HTTP/1.1\r\nHost: chat\r\n\r\n');
      await expect.poll(() => text.endsWith('v1'), { timeout: 2_000 }).toBe(true);
      const key = randomBytes(16).toString('base64');
      socket.write(
        `GET /chat HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
      await expect.poll(() => text.includes('101 Switching Protocols'), { timeout: 2_000 }).toBe(true);
      expect(text).toContain(acceptKey(key));
    } finally {
      socket.destroy();
    }
  });
});

describe('WebSocket tunnels and the rest of the proxy', () => {
  it('works without the fast path, on an outbound listener, with the caller in the record', async () => {
    const outbound = await freePort();
    const own: RequestRecord[] = [];
    const p = new MeshProxy({ logger: silentProxyLogger, fastPath: false, observer: { onRequest: (r) => own.push(r) } });
    try {
      await p.applyRouteTable(
        routeTable(
          1,
          [{ name: 'chat', versions: { v1: [v1.address] }, rules: [{ route: weights({ v1: 100 }) }] }],
          [{ port: outbound, service: 'web', version: 'v1', instance: 'web-v1-1' }],
        ),
      );
      const c = await ws({ host: 'chat' }, outbound);
      expect(await roundTrip(c, 'from web')).toBe('v1: from web');
      expect(own[0]).toMatchObject({ status: 101, source: { service: 'web', instance: 'web-v1-1' } });
      c.socket.destroy();
    } finally {
      await p.close();
    }
  });

  it('a graceful close lets tunnels run for the drain period, then cuts them', async () => {
    const p = new MeshProxy({ logger: silentProxyLogger, drainTimeoutMs: 300 });
    const pPort = (await p.listenIngress('127.0.0.1', 0)).port;
    await p.applyRouteTable(routeTable(1, [{ name: 'chat', versions: { v1: [v1.address] }, rules: [{ route: weights({ v1: 100 }) }] }]));
    const c = await ws({ host: 'chat' }, pPort);
    const started = Date.now();
    const closing = p.close();
    expect(await roundTrip(c, 'still here')).toBe('v1: still here');
    await c.closed;
    await closing;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await expect.poll(() => v1.sockets.size, { timeout: 2_000 }).toBe(0);
  });
});
