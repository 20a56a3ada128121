import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Version } from '../core/index.js';
import { EndpointsRuntime } from './endpoints-runtime.js';
import { waitFor } from '../../test/support/wait-for.js';

/** A real upstream whose /health answers `status` (changeable). */
async function upstream(): Promise<{ address: string; setStatus(code: number): void; server: Server }> {
  let code = 200;
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/health' ? code : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, setStatus: (c) => (code = c), server };
}

const endpoints = (name: string, addresses: string[], health?: string): Version => ({
  name,
  labels: {},
  workload: { kind: 'endpoints', addresses, ...(health ? { health: { path: health } } : {}) },
});

describe('EndpointsRuntime', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('serves the addresses as ready endpoints at once when there is no health check', async () => {
    const rt = new EndpointsRuntime();
    cleanup.push(() => rt.stopAll());
    let changes = 0;
    rt.onChange(() => changes++);
    await rt.reconcile([{ service: 'reviews', version: endpoints('v1', ['127.0.0.1:9001', '127.0.0.1:9002']) }]);
    expect(rt.endpoints('reviews', 'v1')).toEqual([
      { address: '127.0.0.1:9001', instance: '127.0.0.1:9001', ready: true },
      { address: '127.0.0.1:9002', instance: '127.0.0.1:9002', ready: true },
    ]);
    expect(rt.health('reviews', 'v1')).toMatchObject({ ready: true, failed: false });
    expect(rt.instances('reviews', 'v1')[0]).toMatchObject({ name: '127.0.0.1:9001', state: 'ready', pid: null });
    expect(rt.listeners()).toEqual([]);
    expect(rt.logs('reviews', 'v1')).toEqual([]);
    expect(changes).toBe(1);
    // the same desired state again changes nothing; an empty one removes the version
    await rt.reconcile([{ service: 'reviews', version: endpoints('v1', ['127.0.0.1:9001', '127.0.0.1:9002']) }]);
    expect(changes).toBe(1);
    await rt.reconcile([]);
    expect(rt.endpoints('reviews', 'v1')).toEqual([]);
    expect(changes).toBe(2);
  });

  it('probes health.path: ready on 2xx, unready after two failures, ready again on recovery', async () => {
    const up = await upstream();
    cleanup.push(() => new Promise((r) => up.server.close(r)));
    const down = await upstream();
    await new Promise((r) => down.server.close(r)); // a closed port: connection refused
    const rt = new EndpointsRuntime({ probeIntervalMs: 50 });
    cleanup.push(() => rt.stopAll());
    let changes = 0;
    rt.onChange(() => changes++);
    await rt.reconcile([{ service: 'ratings', version: endpoints('v1', [up.address, down.address], '/health') }]);
    // the first probe round is done when reconcile returns
    expect(rt.endpoints('ratings', 'v1').map((e) => e.ready)).toEqual([true, false]);
    expect(rt.instances('ratings', 'v1').map((i) => i.state)).toEqual(['ready', 'unready']);
    expect(rt.health('ratings', 'v1').ready).toBe(true);

    up.setStatus(503);
    await waitFor("rt.endpoints('ratings', 'v1')[0]!.ready === false", () => rt.endpoints('ratings', 'v1')[0]!.ready === false);
    expect(rt.health('ratings', 'v1')).toMatchObject({ ready: false, failed: false });
    expect(rt.health('ratings', 'v1').reason).toMatch(/no address answers \/health yet/);
    up.setStatus(302);
    await waitFor("rt.endpoints('ratings', 'v1')[0]!.ready === true", () => rt.endpoints('ratings', 'v1')[0]!.ready === true);
    expect(changes).toBeGreaterThanOrEqual(3);
  });

  it('needs two failures in a row before taking a ready address out', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.statusCode = calls === 2 ? 500 : 200; // one blip
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const rt = new EndpointsRuntime({ probeIntervalMs: 30 });
    cleanup.push(() => rt.stopAll());
    const readiness: boolean[] = [];
    await rt.reconcile([{ service: 'a', version: endpoints('v1', [`127.0.0.1:${(server.address() as AddressInfo).port}`], '/health') }]);
    expect(rt.endpoints('a', 'v1')[0]!.ready).toBe(true);
    rt.onChange(() => readiness.push(rt.endpoints('a', 'v1')[0]?.ready ?? false));
    await waitFor('calls >= 5', () => calls >= 5);
    expect(rt.endpoints('a', 'v1')[0]!.ready).toBe(true);
    expect(readiness).not.toContain(false);
  });
});
