import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/dist.js';
import { bookinfoReviewsCanary } from '../support/test-harness.js';
import { echoServiceSpec } from '../support/echo-service.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';
import {
  figures,
  IngressLoad,
  type LedgerRow,
  proxiesFollowing,
  readLedger,
  sleep,
  startUpProcess,
  stillRunning,
  type UpProcess,
  type WindowFigures,
} from './chaos-harness.js';

/**
 * Chaos under load (issue 13): `canary up --demo bookinfo` with a live canary release of reviews (v1/v2 50/50)
 * and a two-replica `echo` service, a steady open-loop
 * load through the ingress on /productpage (the whole Bookinfo chain) and /env (echo), and one fault after
 * another: kill -9 of a workload instance, of the proxy (five times), of `canary up` itself and a restart on the
 * same data directory, a SIGSTOPped instance. Each step prints its figures and asserts its bound; at the end no
 * process of the run is left. `npm run test:chaos` runs it alone; CHAOS_PROXY_KILLS sets the number of proxy kills
 * (past five, 5 s apart, the crash series' back-off delays the next standby beyond the next kill: a cold start).
 */
const PROXY_KILLS = Number(process.env.CHAOS_PROXY_KILLS ?? 5);
const PROXY_KILL_SPACING_MS = 5000;

let dir: string;
let dataDir: string;
let cpPort: number;
let ingressPort: number;
let up: UpProcess | null = null;
let load: IngressLoad;
/** Every ledger row seen during the run: at the end none may still run. */
const seen = new Map<string, LedgerRow>();
const report: string[] = [];

const upArgs = () => [
  '--demo',
  'bookinfo',
  '--data',
  dataDir,
  '--port',
  String(cpPort),
  '--ingress-port',
  String(ingressPort),
  '--trace-sampling',
  '0.05',
];
const cpUrl = () => `http://127.0.0.1:${cpPort}`;
const ledger = (): LedgerRow[] => {
  const rows = readLedger(dataDir);
  for (const r of rows) if (r.started) seen.set(`${r.pgid}:${r.started}`, r);
  return rows;
};
const running = (pred: (r: LedgerRow) => boolean) => ledger().filter((r) => pred(r) && stillRunning(r));
const servingProxy = () => running((r) => r.kind === 'proxy' && r.name === 'proxy')[0];
const instance = (name: string) => running((r) => r.kind === 'instance' && r.name === name)[0];
const now = () => performance.now();

function print(step: string, path: string, f: WindowFigures, extra = ''): void {
  const line = `${step} [${path}]: ${f.requests} requests, ${f.failed} failed ${JSON.stringify(f.outcomes)}, outage ${f.outageMs} ms${extra}`;
  report.push(line);
  process.stdout.write(`chaos: ${line}\n`);
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const res = await fetch(`${cpUrl()}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function answers(path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${ingressPort}${path}`, { signal: AbortSignal.timeout(3000) });
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The review versions `n` product pages were served by. */
async function reviewVersions(n: number): Promise<Set<string>> {
  const seenVersions = new Set<string>();
  for (let i = 0; i < n; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${ingressPort}/productpage`, { signal: AbortSignal.timeout(3000) });
      const m = /Reviews served by: reviews-(v\d)-\d+</.exec(await res.text());
      if (m) seenVersions.add(m[1]!);
    } catch {
      // Counted by the load, not here.
    }
  }
  return seenVersions;
}

describe('canary up under chaos', () => {
  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'canary-chaos-'));
    dataDir = join(dir, 'data');
    cpPort = await freePort();
    ingressPort = await freePort();
    up = startUpProcess(upArgs(), join(dir, 'up-1.log'));
    await waitFor('the product page through the ingress', () => answers('/productpage'), 60_000);
    const created = await api('POST', '/api/v1/services', echoServiceSpec({ readiness: { path: '/health', timeoutSeconds: 30 } }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await waitFor('both echo replicas', () => instance('echo-v1-1') && instance('echo-v1-2'), 30_000);
    await waitFor('/env through the ingress', () => answers('/env'), 30_000);
    // A live release: reviews v1/v2 at 50/50, which must survive the restart of canary up.
    const release = await api('POST', '/api/v1/releases', bookinfoReviewsCanary);
    expect(release.status, JSON.stringify(release.body)).toBe(201);
    await waitFor('the release in force', async () => (await reviewVersions(6)).size === 2, 60_000);
    await waitFor('a standby proxy', () => running((r) => r.name === 'proxy-standby').length === 1, 30_000);
    load = new IngressLoad(ingressPort, ['/productpage', '/env'], 50, 3000);
    load.start();
    await sleep(2000);
  }, 240_000);

  afterAll(async () => {
    load?.stop();
    if (up && up.child.exitCode === null && up.child.signalCode === null) {
      up.child.kill('SIGTERM');
      await Promise.race([up.exited, sleep(15_000)]);
    }
    // Whatever a failed step left: only processes this run's ledgers named (pid and start time), never by name.
    for (const r of seen.values()) if (r.kind !== 'supervisor' && stillRunning(r)) process.kill(-r.pgid, 'SIGKILL');
    process.stdout.write(`\nchaos figures:\n${report.map((l) => `  ${l}`).join('\n')}\n`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of one replica of a two-replica version: no failed request (retried on the other), back within a second', async () => {
    const victim = instance('echo-v1-1')!;
    const t0 = now();
    process.kill(victim.pgid, 'SIGKILL');
    await waitFor('echo-v1-1 restarted', () => instance('echo-v1-1'), 10_000);
    await sleep(2000);
    const f = figures(load.samples, '/env', t0, now());
    print('kill -9 echo-v1-1', '/env', f);
    expect(f.failed).toBe(0);
    expect(f.outageMs).toBeLessThanOrEqual(1000);
  });

  it(`kill -9 of the proxy, ${PROXY_KILLS} times ${PROXY_KILL_SPACING_MS / 1000} s apart: each outage <= 1 s, the last no longer than the first`, async () => {
    const outages: number[] = [];
    for (let i = 1; i <= PROXY_KILLS; i++) {
      const proxy = await waitFor('a serving proxy', () => servingProxy(), 10_000);
      const t0 = now();
      process.kill(proxy.pgid, 'SIGKILL');
      await sleep(PROXY_KILL_SPACING_MS);
      const f = figures(load.samples, '/productpage', t0, now());
      const e = figures(load.samples, '/env', t0, now());
      const outage = Math.max(f.outageMs, e.outageMs);
      outages.push(outage);
      print(`kill -9 proxy #${i}`, '/productpage', f);
      print(`kill -9 proxy #${i}`, '/env', e);
      expect(outage).toBeLessThanOrEqual(1000);
      // Only requests in flight on the killed process can fail; new connections queue on the ingress socket.
      expect(f.failed + e.failed).toBeLessThanOrEqual(4);
    }
    // The back-off must not make later kills cost more (issue 13: 25.6 s after a handful of crashes).
    // (Tolerance: on a loaded machine the same standby takeover varies by a few hundred ms.)
    expect(outages.at(-1)!).toBeLessThanOrEqual(outages[0]! + 500);
  });

  it('kill -9 of canary up, then a restart on the same data directory: one proxy, nothing of the old run left, outage <= 1 s', async () => {
    const before = ledger();
    const oldRun = before.filter((r) => stillRunning(r));
    expect(oldRun.length).toBeGreaterThanOrEqual(11); // 7 instances, 2 proxies, the watchdog, canary up
    const t0 = now();
    up!.child.kill('SIGKILL');
    await up!.exited;
    up = startUpProcess(upArgs(), join(dir, 'up-2.log'));
    const restarted = up;
    await waitFor('the new run to take over', () => restarted.output().includes('stopped what the earlier run left'), 60_000);
    await sleep(1000);
    const f = figures(load.samples, '/productpage', t0, now());
    const e = figures(load.samples, '/env', t0, now());
    const tookMs = Math.round(now() - t0);
    print('kill -9 canary up + restart', '/productpage', f, ` (handover done ${tookMs} ms after the kill)`);
    print('kill -9 canary up + restart', '/env', e);
    const handover = /handover: .*/.exec(restarted.output())?.[0] ?? '';
    process.stdout.write(`chaos: ${handover}\n`);
    for (const r of oldRun) expect(stillRunning(r), `${r.name} (pid ${r.pgid}) of the killed run`).toBe(false);
    expect(running((r) => r.kind === 'proxy' && r.name === 'proxy')).toHaveLength(1);
    // Every `canary proxy` following this control plane is this run's: the serving one and its standby.
    const proxies = proxiesFollowing(cpUrl());
    const ours = running((r) => r.kind === 'proxy').map((r) => r.pgid);
    expect(proxies.sort()).toEqual(ours.sort());
    expect(Math.max(f.outageMs, e.outageMs)).toBeLessThanOrEqual(1000);
    // The port changes hands between the old proxy closing its listener and this run binding it: tens of
    // milliseconds here, so at 40 requests/s a few connections are refused (docs/reliability.md).
    expect(f.failed + e.failed).toBeLessThanOrEqual(6);
    // The release is still in force, on the new run's instances.
    expect([...(await reviewVersions(10))].sort()).toEqual(['v1', 'v2']);
    expect(((await api('GET', '/api/v1/releases/reviews-canary')).body as { status: { phase: string } }).status.phase).toBe('Progressing');
  });

  it('SIGSTOP of one replica (a hung upstream): once it is out of the route table, no request fails', async () => {
    const victim = await waitFor('echo-v1-1', () => instance('echo-v1-1'), 10_000);
    await waitFor('a standby proxy', () => running((r) => r.name === 'proxy-standby').length === 1, 30_000);
    type Service = { status: { versions: { name: string; instances: { name: string; ready: boolean }[] }[] } };
    const victimReady = async () =>
      ((await api('GET', '/api/v1/services/echo')).body as Service).status.versions[0]?.instances.find((i) => i.name === 'echo-v1-1')
        ?.ready;
    const t0 = now();
    process.kill(victim.pgid, 'SIGSTOP');
    try {
      // Out of the route table once 3 probes in a row fail (probes every 2 s, 1 s timeout each); an outlier
      // detector, where the proxy has one, stops sending to it sooner.
      await waitFor('echo-v1-1 unready', async () => (await victimReady()) === false, 20_000);
      const ejected = now();
      await sleep(5000);
      // The route table reaches the proxy within moments of the change; requests sent before may still hang.
      const margin = 500;
      const before = figures(load.samples, '/env', t0, ejected + margin);
      const after = figures(load.samples, '/env', ejected + margin, now());
      const page = figures(load.samples, '/productpage', t0, now());
      const tookS = ((ejected - t0) / 1000).toFixed(1);
      print(`SIGSTOP echo-v1-1, until unready (${tookS} s)`, '/env', before);
      print('SIGSTOP echo-v1-1, after', '/env', after);
      print('SIGSTOP echo-v1-1', '/productpage', page);
      expect(after.requests).toBeGreaterThan(50);
      expect(after.failed).toBe(0);
      expect(page.failed).toBe(0);
    } finally {
      process.kill(victim.pgid, 'SIGCONT');
    }
  });

  it('stopping canary up leaves no process of the run', async () => {
    load.stop();
    await load.drained();
    ledger();
    up!.child.kill('SIGTERM');
    await Promise.race([up!.exited, sleep(20_000)]);
    expect(up!.child.exitCode).toBe(0);
    const left = [...seen.values()].filter((r) => stillRunning(r));
    expect(left.map((r) => `${r.name} pid ${r.pgid}`)).toEqual([]);
    expect(proxiesFollowing(cpUrl())).toEqual([]);
    expect(readLedger(dataDir)).toEqual([]);
  });
});
