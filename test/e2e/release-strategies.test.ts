import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedRateLoad } from '../../src/bench/http-load.js';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { ensureBuilt } from '../support/dist.js';
import { echoServiceSpec } from '../support/echo-service.js';
import { http } from '../support/http.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';

/**
 * Preview and blue-green through real processes: `canary up` (the proxy process from dist/), the echo service as
 * a two-replica process workload, and candidates started from it. Which version answered comes from the
 * instance name the workload reports (`echo-v2-1`).
 */
describe('release strategies through the real proxy', () => {
  let up: RunningUp;
  let dir: string;
  const token = 'e2e-strategies-token-0123456789';
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await http(method, `${up.url}${path}`, { token, body });
    return { status: r.status, body: r.body ? JSON.parse(r.body) : undefined };
  };
  /** The version (and process) that answered one ordinary (or preview) request through the ingress. */
  const answerFor = async (headers: Record<string, string> = {}) => {
    const r = await http('GET', `${up.ingressUrl}/env`, { headers });
    if (r.status !== 200) throw new Error(`/env: ${r.status} ${r.body.slice(0, 200)}`);
    const body = JSON.parse(r.body) as { MESH_INSTANCE: string; pid: number };
    const m = /^echo-(v\d+)-\d+$/.exec(body.MESH_INSTANCE);
    if (!m) throw new Error(`/env: no instance in ${r.body.slice(0, 200)}`);
    return { version: m[1]!, pid: body.pid };
  };
  const versionFor = async (headers: Record<string, string> = {}) => (await answerFor(headers)).version;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const versionsOver = async (n: number, headers: Record<string, string> = {}) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const v = await versionFor(headers);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    return counts;
  };
  const waitPhase = (name: string, phase: string) =>
    waitFor(
      `${name} to be ${phase}`,
      async () => ((await call('GET', `/api/v1/releases/${name}`)).body.status.phase === phase ? true : undefined),
      60_000,
      100,
    );

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'canary-e2e-strategies-'));
    process.env.CANARY_ADMIN_TOKEN = token;
    up = await startUp({ dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, ingressPort: await freePort(), log: () => {} });
    const created = await call('POST', '/api/v1/services', echoServiceSpec({ readiness: { path: '/health', timeoutSeconds: 30 } }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await waitFor('echo v1 through the ingress', async () => ((await versionFor()) === 'v1' ? true : undefined), 60_000, 100);
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
    delete process.env.CANARY_ADMIN_TOKEN;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('preview: a canary at 0% answers only requests carrying its preview header (named by the release)', async () => {
    const res = await call('POST', '/api/v1/releases', {
      name: 'echo-canary',
      service: 'echo',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      traffic: { weights: { v1: 100, v2: 0 } },
      preview: { header: 'X-Try-Echo' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.preview).toEqual({ header: 'x-try-echo' });
    await waitPhase('echo-canary', 'Progressing');
    await waitFor('the preview route in force', async () => ((await versionFor({ 'x-try-echo': 'v2' })) === 'v2' ? true : undefined));
    expect(await versionsOver(40)).toEqual({ v1: 40 });
    expect(await versionsOver(40, { 'x-try-echo': 'v2' })).toEqual({ v2: 40 });
    // Another value, or the default header name, is ordinary traffic.
    expect(await versionsOver(10, { 'x-try-echo': 'v1' })).toEqual({ v1: 10 });
    expect(await versionsOver(10, { 'x-canary-preview': 'v2' })).toEqual({ v1: 10 });
    expect((await call('DELETE', '/api/v1/releases/echo-canary?keep=v1')).status).toBe(200);
    expect(await versionsOver(10, { 'x-try-echo': 'v2' })).toEqual({ v1: 10 });
  }, 120_000);

  it('blueGreen: 0% ordinary traffic and 100% preview, a switch under load with no failed request, an instant rollback, and a finish that retires the standby', async () => {
    const res = await call('POST', '/api/v1/releases', {
      name: 'echo-bg',
      service: 'echo',
      strategy: 'blueGreen',
      candidate: { name: 'v3', workload: { env: { SERVICE_VERSION: 'v3' } } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await waitPhase('echo-bg', 'Progressing');
    await waitFor('the preview route in force', async () => ((await versionFor({ 'x-canary-preview': 'v3' })) === 'v3' ? true : undefined));
    expect(await versionsOver(50)).toEqual({ v1: 50 });
    expect(await versionsOver(50, { 'x-canary-preview': 'v3' })).toEqual({ v3: 50 });

    // The switch, in the middle of 4 s of load at 150 requests/s over keep-alive connections.
    const load = fixedRateLoad({ origin: up.ingressUrl, path: '/env', rate: 150, seconds: 4, connections: 8 });
    await new Promise((r) => setTimeout(r, 1500));
    const switched = await call('POST', '/api/v1/releases/echo-bg/takeover', { version: 'v3' });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    expect(switched.body.status).toMatchObject({ phase: 'TakenOver', governor: 'v3', standby: 'v1' });
    const during = await load;
    expect(during.sent).toBe(600);
    expect(during.failed).toBe(0);
    expect(await versionsOver(50)).toEqual({ v3: 50 });

    // Rollback under load: the standby answers again at once (within a second on a loaded machine).
    const again = fixedRateLoad({ origin: up.ingressUrl, path: '/env', rate: 150, seconds: 3, connections: 8 });
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = performance.now();
    const rolledBack = await call('POST', '/api/v1/releases/echo-bg/rollback');
    expect(rolledBack.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v1', standby: 'v1' });
    await waitFor('v1 to answer again', async () => ((await versionFor()) === 'v1' ? true : undefined), 5000, 5);
    const rollbackMs = performance.now() - t0;
    expect((await again).failed).toBe(0);
    expect(rollbackMs).toBeLessThan(1000);
    expect(await versionsOver(30)).toEqual({ v1: 30 });
    const standbyPids = new Set<number>();
    for (let i = 0; i < 10; i++) standbyPids.add((await answerFor()).pid);
    process.stdout.write(
      `blue-green: switch under load ${during.sent} requests, ${during.failed} failed; rollback in force after ${rollbackMs.toFixed(0)} ms\n`,
    );

    // Switch again and finish keeping v3: the standby v1 retires, its processes stop, v3 serves alone.
    expect((await call('POST', '/api/v1/releases/echo-bg/takeover', { version: 'v3' })).status).toBe(200);
    const finishing = fixedRateLoad({ origin: up.ingressUrl, path: '/env', rate: 100, seconds: 3, connections: 8 });
    const finished = await call('DELETE', '/api/v1/releases/echo-bg?keep=v3');
    expect(finished.body).toEqual({ release: 'echo-bg', service: 'echo', kept: 'v3', retired: 'v1' });
    expect((await finishing).failed).toBe(0);
    const svc = (await call('GET', '/api/v1/services/echo')).body;
    expect(svc.versions.map((v: { name: string }) => v.name)).toEqual(['v3']);
    expect(svc.status.versions.map((v: { name: string }) => v.name)).toEqual(['v3']);
    expect(await versionsOver(30)).toEqual({ v3: 30 });
    await waitFor('the standby processes to stop', async () => ([...standbyPids].some(alive) ? undefined : true), 15_000, 100);
  }, 180_000);
});
