import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, createControlPlane } from '../../src/control-plane/index.js';
import { EndpointsRuntime } from '../../src/workloads/endpoints-runtime.js';
import { RuntimeByKind } from '../../src/workloads/runtime-by-kind.js';
import { http } from '../support/http.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';

/**
 * The proxy keeps routing by its last route table while the control plane is down, and picks up changes made
 * after the control plane comes back (same data directory, same address).
 */
describe('control plane restart while traffic flows', () => {
  const token = 'e2e-restart-token-0123456789';
  let dir: string;
  let cpPort: number;
  let ingress: string;
  let cp: ControlPlane | null = null;
  let runtime: RuntimeByKind;
  let proxy: ChildProcess;
  const upstreams: Server[] = [];

  const startControlPlane = async () => {
    runtime = new RuntimeByKind({ endpoints: new EndpointsRuntime() });
    cp = await createControlPlane({ dataDir: dir, runtime, adminToken: token, logLevel: 'silent', drainGraceMs: 50 });
    await cp.app.listen({ host: '127.0.0.1', port: cpPort });
  };
  const stopControlPlane = async () => {
    await cp?.close();
    await runtime.stopAll();
    cp = null;
  };
  const api = (method: string, path: string, body?: unknown) => http(method, `http://127.0.0.1:${cpPort}${path}`, { token, body });
  const versions = async (n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await http('GET', `${ingress}/`, { headers: { host: 'reviews' } });
      const key = r.status === 200 ? r.body : `status ${r.status}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-restart-'));
    const ports: number[] = [];
    for (const name of ['v1', 'v2']) {
      const srv = createServer((_req, res) => res.end(name));
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      upstreams.push(srv);
      ports.push((srv.address() as { port: number }).port);
    }
    cpPort = await freePort();
    await startControlPlane();
    const created = await api('POST', '/api/v1/services', {
      name: 'reviews',
      versions: [
        { name: 'v1', workload: { kind: 'endpoints', addresses: [`127.0.0.1:${ports[0]}`] } },
        { name: 'v2', workload: { kind: 'endpoints', addresses: [`127.0.0.1:${ports[1]}`] } },
      ],
    });
    expect(created.status, created.body).toBe(201);
    const ingressPort = await freePort();
    ingress = `http://127.0.0.1:${ingressPort}`;
    proxy = spawn(
      process.execPath,
      [
        resolve('bin/canary.js'),
        'proxy',
        '--control-plane',
        `http://127.0.0.1:${cpPort}`,
        '--listen',
        `127.0.0.1:${ingressPort}`,
        '--workers',
        '1',
      ],
      { env: { ...process.env, CANARY_TOKEN: token }, stdio: 'ignore' },
    );
    await waitFor('the proxy to route', async () => ((await versions(1)).v1 === 1 ? true : undefined), 30_000, 100);
  });

  afterAll(async () => {
    proxy?.kill('SIGKILL');
    await stopControlPlane();
    for (const s of upstreams) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the last split while the control plane is away, and resyncs after it returns', async () => {
    const release = await api('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      baseline: 'v1',
      candidate: { name: 'v2' },
      traffic: { weights: { v1: 30, v2: 70 } },
    });
    expect(release.status, release.body).toBe(201);
    await waitFor('the 30/70 split', async () => {
      const c = await versions(10);
      return c.v1 === 3 && c.v2 === 7 ? true : undefined;
    });

    await stopControlPlane();
    // The control plane is gone: the proxy serves the same exact split, failing nothing.
    expect(await versions(100)).toEqual({ v1: 30, v2: 70 });

    await startControlPlane();
    const patched = await api('PATCH', '/api/v1/releases/reviews-canary', { traffic: { weights: { v1: 0, v2: 100 } } });
    expect(patched.status, patched.body).toBe(200);
    await waitFor(
      'the proxy to follow the restarted control plane',
      async () => ((await versions(10)).v2 === 10 ? true : undefined),
      30_000,
      200,
    );
    expect(await versions(50)).toEqual({ v2: 50 });
  });
});
