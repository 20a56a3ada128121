import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteTable } from '../core/index.js';
import { diffRouteTables, type RouteTableDelta } from '../core/route-table-delta.js';
import { ControlPlaneRouteSource } from './control-plane-route-source.js';
import { MeshProxy } from './mesh-proxy.js';
import { silentProxyLogger, type ProxyLogger } from './proxy-logger.js';
import { call, routeTable, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { waitFor } from '../../test/support/wait-for.js';

const TOKEN = 'test-token';

/** A small real control plane: just the SSE watch, as the control plane serves it. */
class FakeControlPlane {
  server: Server | null = null;
  port = 0;
  private clients = new Set<ServerResponse>();
  /** The URL of every watch request, in order. */
  readonly requests: string[] = [];
  /** The next connection gets an unreadable snapshot instead of the table. */
  garbleNextSnapshot = false;

  constructor(public table: RouteTable) {}

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/api/v1/route-table/watch') {
        res.writeHead(404).end();
        return;
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"Unauthorized","message":"missing or wrong bearer token"}}');
        return;
      }
      this.requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': hello\n\n');
      this.clients.add(res);
      res.on('close', () => this.clients.delete(res));
      if (this.garbleNextSnapshot) {
        this.garbleNextSnapshot = false;
        res.write('event: snapshot\ndata: {"revision": 1, "serv\n\n');
      } else this.send(res, this.table);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  publish(table: RouteTable): void {
    this.table = table;
    for (const c of this.clients) this.send(c, table);
  }

  /** Sends `delta` (which leads to `table`) as an `event: delta`. */
  publishDelta(delta: RouteTableDelta, table: RouteTable): void {
    this.table = table;
    for (const c of this.clients) c.write(`id: ${delta.revision}\nevent: delta\ndata: ${JSON.stringify(delta)}\n\n`);
  }

  /** Writes `text` as it is to every watcher. */
  raw(text: string): void {
    for (const c of this.clients) c.write(text);
  }

  ping(): void {
    for (const c of this.clients) c.write(': ping\n\n');
  }

  private send(res: ServerResponse, table: RouteTable): void {
    // Split across writes and with a multi-line data field, as a proxy may well receive it.
    const json = JSON.stringify(table, null, 1).split('\n');
    res.write(`event: snapshot\r\n${json.map((l) => `data: ${l}`).join('\r\n')}\r\n`);
    res.write('\r\n');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const c of this.clients) c.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let v1: TestUpstream;
let v2: TestUpstream;
const tableTo = (revision: number, version: 'v1' | 'v2') =>
  routeTable(revision, [
    { name: 'reviews', versions: { v1: [v1], v2: [v2] }, rules: [{ route: [{ version, weight: 100 }] }], ingressPaths: ['/'] },
  ]);

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
});
afterAll(async () => {
  await Promise.all([v1.close(), v2.close()]);
});

describe('ControlPlaneRouteSource', () => {
  it('applies newer snapshots, keeps routing while the control plane is away, resyncs when it returns', async () => {
    const cp = new FakeControlPlane(tableTo(1, 'v1'));
    await cp.start();
    const proxy = new MeshProxy({ logger: silentProxyLogger });
    const warnings: string[] = [];
    const logger: ProxyLogger = { ...silentProxyLogger, warn: (m) => warnings.push(m) };
    const source = new ControlPlaneRouteSource({
      url: `http://127.0.0.1:${cp.port}`,
      token: TOKEN,
      logger,
      minBackoffMs: 50,
      maxBackoffMs: 200,
    });
    try {
      const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
      await source.start((t) => proxy.applyRouteTable(t));
      expect(proxy.revision).toBe(1);
      expect((await call(port)).body).toBe('v1');

      cp.publish(tableTo(2, 'v2'));
      await waitFor('proxy.revision === 2', () => proxy.revision === 2);
      expect((await call(port)).body).toBe('v2');

      // An older revision on the same stream is ignored; pings change nothing.
      cp.publish(tableTo(1, 'v1'));
      cp.ping();
      await new Promise((r) => setTimeout(r, 100));
      expect(proxy.revision).toBe(2);

      const cpPort = cp.port;
      await cp.stop();
      await waitFor('!source.isConnected', () => !source.isConnected);
      for (let i = 0; i < 5; i++) expect((await call(port)).body).toBe('v2');
      expect(warnings.join('\n')).toContain('keeping route table revision 2 and reconnecting');

      cp.table = tableTo(3, 'v1');
      await cp.start(cpPort);
      await waitFor('proxy.revision === 3', () => proxy.revision === 3);
      expect((await call(port)).body).toBe('v1');
    } finally {
      await source.close();
      await proxy.close();
      await cp.stop();
    }
  });

  it('asks for deltas, applies each to its last table, and reconnects for a snapshot when one does not follow', async () => {
    const t1 = tableTo(1, 'v1');
    const cp = new FakeControlPlane(t1);
    await cp.start();
    const proxy = new MeshProxy({ logger: silentProxyLogger });
    const infos: string[] = [];
    const source = new ControlPlaneRouteSource({
      url: `http://127.0.0.1:${cp.port}`,
      token: TOKEN,
      logger: { ...silentProxyLogger, info: (m) => infos.push(m) },
      minBackoffMs: 50,
    });
    try {
      const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
      await source.start((t) => proxy.applyRouteTable(t));
      expect(cp.requests).toEqual(['/api/v1/route-table/watch?deltas=1']);
      expect((await call(port)).body).toBe('v1');

      const t2 = tableTo(2, 'v2');
      cp.publishDelta(diffRouteTables(t1, t2)!, t2);
      await waitFor('proxy.revision === 2', () => proxy.revision === 2);
      expect((await call(port)).body).toBe('v2');
      expect(cp.requests).toHaveLength(1);

      // A delta from a revision the proxy never saw: it reconnects and takes the snapshot sent on connect.
      const t6 = tableTo(6, 'v1');
      cp.publishDelta(diffRouteTables(tableTo(5, 'v2'), t6)!, t6);
      await waitFor('proxy.revision === 6', () => proxy.revision === 6);
      expect((await call(port)).body).toBe('v1');
      expect(cp.requests).toHaveLength(2);
      expect(infos.join('\n')).toContain('route table delta 5 -> 6 does not follow revision 2; reconnecting for a snapshot');

      // A delta it cannot read is a revision missed: it reconnects too, and keeps routing meanwhile.
      cp.raw('event: delta\ndata: {"fromRevision": 6, "revision"\n\n');
      await waitFor('cp.requests.length === 3', () => cp.requests.length === 3);
      expect(proxy.revision).toBe(6);
      expect((await call(port)).body).toBe('v1');
    } finally {
      await source.close();
      await proxy.close();
      await cp.stop();
    }
  });

  it('takes no delta on a connection whose snapshot it could not read', async () => {
    const t3 = tableTo(3, 'v1');
    const cp = new FakeControlPlane(t3);
    await cp.start();
    const proxy = new MeshProxy({ logger: silentProxyLogger });
    const errors: string[] = [];
    const source = new ControlPlaneRouteSource({
      url: `http://127.0.0.1:${cp.port}`,
      token: TOKEN,
      logger: { ...silentProxyLogger, error: (m) => errors.push(m) },
      minBackoffMs: 50,
    });
    try {
      const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
      await source.start((t) => proxy.applyRouteTable(t));
      // The proxy reconnects (an unreadable delta) and the new connection's snapshot is unreadable too: a delta that
      // follows may come from another store whose revisions only look like ours, so it must not touch the table.
      cp.garbleNextSnapshot = true;
      cp.raw('event: delta\ndata: {"fromRevision": 3, "revision"\n\n');
      await waitFor(
        "cp.requests.length === 2 && errors.some((e) => e.includes('that is not JSON'))",
        () => cp.requests.length === 2 && errors.some((e) => e.includes('that is not JSON')),
      );
      const t4 = tableTo(4, 'v2');
      cp.publishDelta(diffRouteTables(t3, t4)!, t4);
      await waitFor("errors.some((e) => e.includes('route table delta') && e.includes('before any snapshot'))", () =>
        errors.some((e) => e.includes('route table delta') && e.includes('before any snapshot')),
      );
      expect(proxy.revision).toBe(3);
      expect((await call(port)).body).toBe('v1');
    } finally {
      await source.close();
      await proxy.close();
      await cp.stop();
    }
  });

  it('follows a control plane that restarted from scratch (lower revision on a new connection)', async () => {
    const cp = new FakeControlPlane(tableTo(7, 'v2'));
    await cp.start();
    const proxy = new MeshProxy({ logger: silentProxyLogger });
    const source = new ControlPlaneRouteSource({
      url: `http://127.0.0.1:${cp.port}/`,
      token: TOKEN,
      logger: silentProxyLogger,
      minBackoffMs: 50,
    });
    try {
      await source.start((t) => proxy.applyRouteTable(t));
      expect(proxy.revision).toBe(7);
      const cpPort = cp.port;
      await cp.stop();
      cp.table = tableTo(1, 'v1');
      await cp.start(cpPort);
      await waitFor('proxy.revision === 1', () => proxy.revision === 1);
    } finally {
      await source.close();
      await proxy.close();
      await cp.stop();
    }
  });

  it('says clearly when the token is refused, and keeps trying', async () => {
    const cp = new FakeControlPlane(tableTo(1, 'v1'));
    await cp.start();
    const warnings: string[] = [];
    const source = new ControlPlaneRouteSource({
      url: `http://127.0.0.1:${cp.port}`,
      token: 'wrong',
      logger: { ...silentProxyLogger, warn: (m) => warnings.push(m) },
      minBackoffMs: 50,
      initialWaitMs: 300,
    });
    try {
      let applied = 0;
      await source.start(async () => {
        applied++;
      });
      expect(applied).toBe(0);
      expect(warnings.join('\n')).toMatch(/answered 401 \(check --token \/ CANARY_TOKEN\).*missing or wrong bearer token/);
      expect(warnings.join('\n')).toContain('no route table from');
    } finally {
      await source.close();
      await cp.stop();
    }
  });
});
