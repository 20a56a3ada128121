import { get, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteTable } from '../core/index.js';
import type { RouteTableDelta } from '../core/route-table-delta.js';
import { ControlPlaneRouteSource } from '../data-plane/control-plane-route-source.js';
import { MeshProxy } from '../data-plane/mesh-proxy.js';
import { silentProxyLogger } from '../data-plane/proxy-logger.js';
import { call, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { startTestControlPlane, type TestControlPlane } from '../../test/support/test-harness.js';
import { waitFor } from '../../test/support/wait-for.js';

interface WireEvent {
  event: string;
  id: string;
  data: string;
  /** Bytes of the whole event on the wire. */
  bytes: number;
}

/** A watch stream read from a real socket, event by event, with the size of each. */
function watch(url: string, token: string): Promise<{ next(): Promise<WireEvent>; close(): void }> {
  return new Promise((resolve, reject) => {
    const queue: WireEvent[] = [];
    let waiting: ((e: WireEvent) => void) | null = null;
    const req: ClientRequest = get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`watch answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (block.startsWith(':')) continue;
          const e: WireEvent = { event: '', id: '', data: '', bytes: Buffer.byteLength(block) + 2 };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(': ');
            const field = line.slice(0, colon);
            if (field === 'event' || field === 'id' || field === 'data') e[field] = line.slice(colon + 2);
          }
          if (waiting) {
            const w = waiting;
            waiting = null;
            w(e);
          } else queue.push(e);
        }
      });
      resolve({
        next: () =>
          new Promise((r, j) => {
            const e = queue.shift();
            if (e) return r(e);
            const timer = setTimeout(() => j(new Error('no event within 5 s')), 5000);
            waiting = (x) => {
              clearTimeout(timer);
              r(x);
            };
          }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const COUNT = 150;
const nameOf = (i: number) => `svc-${String(i).padStart(3, '0')}`;

describe('route table watch with deltas (real control plane, real proxy)', () => {
  let t: TestControlPlane;
  let base: string;
  let v1: TestUpstream;
  let v2: TestUpstream;

  beforeAll(async () => {
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
    t = await startTestControlPlane();
    for (let i = 0; i < COUNT; i++) {
      const created = await t.call('POST', '/api/v1/services', {
        name: nameOf(i),
        port: 9080,
        versions: [
          { name: 'v1', workload: { kind: 'endpoints', addresses: [v1.address] } },
          { name: 'v2', workload: { kind: 'endpoints', addresses: [v2.address] } },
        ],
        routes: [
          { match: [{ headers: { 'end-user': { exact: `user-${i}` } } }], route: [{ version: 'v2', weight: 100 }] },
          { route: [{ version: 'v1', weight: 100 }] },
        ],
      });
      expect(created.status).toBe(201);
    }
    base = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await t?.destroy();
    await v1?.close();
    await v2?.close();
  });

  it('sends a change to one service of many as a small delta that the proxy routes by; plain watchers still get snapshots', async () => {
    const proxy = new MeshProxy({ logger: silentProxyLogger });
    const source = new ControlPlaneRouteSource({ url: base, token: t.token, logger: silentProxyLogger });
    const deltas = await watch(`${base}/api/v1/route-table/watch?deltas=1`, t.token);
    const plain = await watch(`${base}/api/v1/route-table/watch`, t.token);
    try {
      const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
      await source.start((table) => proxy.applyRouteTable(table));
      const target = nameOf(75);
      expect((await call(port, { headers: { host: target } })).body).toBe('v1');

      const first = await deltas.next();
      expect(first.event).toBe('snapshot');
      const table = JSON.parse(first.data) as RouteTable;
      expect(table.services).toHaveLength(COUNT);
      expect((await plain.next()).event).toBe('snapshot');

      const put = await t.call('PUT', `/api/v1/services/${target}/routes`, { rules: [{ route: [{ version: 'v2', weight: 100 }] }] });
      expect(put.status).toBe(200);

      const second = await deltas.next();
      expect(second.event).toBe('delta');
      const delta = JSON.parse(second.data) as RouteTableDelta;
      expect(second.id).toBe(String(delta.revision));
      expect(delta.fromRevision).toBe(table.revision);
      expect(delta.services.upsert.map((s) => s.name)).toEqual([target]);
      expect(delta.services.upsert[0]!.rules).toEqual([{ route: [{ version: 'v2', weight: 100 }] }]);
      expect(delta.services.remove).toEqual([]);
      expect(delta.listeners).toEqual({ upsert: [], remove: [] });
      // On the wire: a few hundred bytes instead of the whole table.
      expect(second.bytes).toBeLessThan(1000);
      expect(second.bytes * 50).toBeLessThan(first.bytes);

      const plainSecond = await plain.next();
      expect(plainSecond.event).toBe('snapshot');
      expect(plainSecond.bytes).toBeGreaterThan(first.bytes / 2);
      expect((JSON.parse(plainSecond.data) as RouteTable).revision).toBe(delta.revision);

      await waitFor(
        "(await call(port, { headers: { host: target } })).body === 'v2'",
        async () => (await call(port, { headers: { host: target } })).body === 'v2',
      );
      expect(source.appliedRevision).toBe(delta.revision);
      // The other services are untouched, their match rules included.
      expect((await call(port, { headers: { host: nameOf(74) } })).body).toBe('v1');
      expect((await call(port, { headers: { host: nameOf(74), 'end-user': 'user-74' } })).body).toBe('v2');

      // A removed service leaves the proxy's table by a delta too.
      expect((await t.call('DELETE', `/api/v1/services/${nameOf(10)}`)).status).toBeLessThan(300);
      const third = await deltas.next();
      expect(third.event).toBe('delta');
      expect((JSON.parse(third.data) as RouteTableDelta).services).toEqual({ upsert: [], remove: [nameOf(10)] });
      await waitFor(
        '(await call(port, { headers: { host: nameOf(10) } })).status === 404',
        async () => (await call(port, { headers: { host: nameOf(10) } })).status === 404,
      );
      expect((await call(port, { headers: { host: nameOf(11) } })).body).toBe('v1');
    } finally {
      deltas.close();
      plain.close();
      await source.close();
      await proxy.close();
    }
  });

  it('refuses a deltas value it does not know', async () => {
    const res = await t.call('GET', '/api/v1/route-table/watch?deltas=maybe');
    expect(res.status).toBe(400);
    expect(res.text).toContain('deltas');
  });
});
