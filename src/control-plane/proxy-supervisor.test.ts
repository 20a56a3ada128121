import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../../test/support/dist.js';
import { freePort } from '../../test/support/ports.js';
import { startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { GroupLedger } from '../workloads/process/group-ledger.js';
import { bindIngressSocket, closeIngressSocket } from './ingress-socket.js';
import { ProxySupervisor, type ProxySupervisorEvent, type ProxySupervisorOptions } from './proxy-supervisor.js';
import { waitFor } from '../../test/support/wait-for.js';

/**
 * The proxy of `canary up` under its supervisor: real `canary proxy` processes (a static route file), killed with
 * SIGKILL while a client keeps asking through the ingress socket the supervisor holds.
 */
let dir: string;
let upstream: TestUpstream;
let config: string;
let supervisor: ProxySupervisor | null = null;
let handle: object | null = null;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'proxy-supervisor-'));
  upstream = await startUpstream('reviews-v1');
  config = join(dir, 'routes.yaml');
  writeFileSync(
    config,
    `services:\n  - name: reviews\n    port: 9080\n    ingress: { paths: ["/"] }\n    versions:\n      - { name: v1, workload: { kind: endpoints, addresses: ["${upstream.address}"] } }\n`,
  );
}, 180_000);
afterEach(async () => {
  await supervisor?.stop(2000);
  supervisor = null;
  if (handle) closeIngressSocket(handle);
  handle = null;
});
afterAll(async () => {
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(port: number, events: ProxySupervisorEvent[], extra: Partial<ProxySupervisorOptions> = {}): Promise<ProxySupervisor> {
  handle = await bindIngressSocket('127.0.0.1', port);
  const h = handle;
  supervisor = new ProxySupervisor({
    command: process.execPath,
    args: [join(repoRoot, 'bin', 'canary.js'), 'proxy', '--config', config, '--listen', `127.0.0.1:${port}`, '--workers', '1'],
    env: { ...process.env, CANARY_SUPERVISED: '1' },
    ingress: async () => h,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  await supervisor.start();
  return supervisor;
}

/** One GET on a fresh connection: its status, or the error code. */
function get(port: number, timeoutMs = 5000): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Kills the serving proxy; resolves with the time until a request on a new connection is answered 200, and the failures. */
async function killAndMeasure(sup: ProxySupervisor, port: number): Promise<{ outageMs: number; failed: number }> {
  const pid = sup.pid!;
  process.kill(pid, 'SIGKILL');
  const t0 = Date.now();
  let failed = 0;
  for (;;) {
    const status = await get(port);
    if (status === 200 && sup.pid !== pid) return { outageMs: Date.now() - t0, failed };
    if (status !== 200) failed++;
    if (Date.now() - t0 > 15_000) throw new Error(`no answer 15 s after the kill (last: ${status})`);
  }
}

describe('ProxySupervisor', () => {
  it('the restart back-off resets after a healthy period (issue 13: it never did)', async () => {
    const events: ProxySupervisorEvent[] = [];
    const port = await freePort();
    const sup = await start(port, events, { standby: false, timings: { backoffInitialMs: 300, backoffResetAfterMs: 2500 } });
    const delays = () => events.filter((e) => e.type === 'restarting').map((e) => e.delayMs);
    // A series: each proxy killed as soon as it serves.
    for (let i = 0; i < 3; i++) {
      await waitFor('serving', () => sup.pid !== null && events.filter((e) => e.type === 'ready').length === i + 1);
      process.kill(sup.pid!, 'SIGKILL');
    }
    await waitFor('serving again', () => events.filter((e) => e.type === 'ready').length === 4);
    expect(delays()).toEqual([0, 300, 600]);
    // Served longer than the reset period: the next crash is a first one again.
    await new Promise((r) => setTimeout(r, 2700));
    process.kill(sup.pid!, 'SIGKILL');
    await waitFor('serving after the reset', () => events.filter((e) => e.type === 'ready').length === 5);
    expect(delays()).toEqual([0, 300, 600, 0]);
    expect(await get(port)).toBe(200);
  });

  it('with a standby, a killed proxy is replaced within a second and no request on a new connection fails', async () => {
    const events: ProxySupervisorEvent[] = [];
    const port = await freePort();
    const sup = await start(port, events);
    const outages: number[] = [];
    for (let i = 0; i < 3; i++) {
      await waitFor('a waiting standby', () => sup.standbyWaiting && events.filter((e) => e.type === 'started').length === i + 2);
      const { outageMs, failed } = await killAndMeasure(sup, port);
      outages.push(outageMs);
      expect(failed).toBe(0);
    }
    process.stdout.write(`proxy kills with a standby: outages ${outages.join(', ')} ms, no failed request\n`);
    for (const ms of outages) expect(ms).toBeLessThanOrEqual(1000);
  });

  it('lists both proxies in the ledger, and stops them in order', async () => {
    const ledgerDir = mkdtempSync(join(dir, 'ledger-'));
    const ledger = new GroupLedger(ledgerDir);
    const port = await freePort();
    const sup = await start(port, [], { ledger });
    await waitFor('a standby', () => sup.standbyPid);
    const pids = [sup.pid!, sup.standbyPid!];
    const listed = () =>
      (JSON.parse(readFileSync(ledger.file, 'utf8')) as { pgid: number; kind: string }[]).filter((e) => e.kind === 'proxy');
    expect(
      listed()
        .map((e) => e.pgid)
        .sort(),
    ).toEqual([...pids].sort());
    await sup.stop(2000);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(listed()).toEqual([]);
  });
});
